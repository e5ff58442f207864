import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_ENV, NODE_FLAGS } from '../../node/src/runtime-settings.js';

/**
 * What a container image means on this machine: there are no images, so each image name maps
 * to a local program. `entrypoint` plays the image's ENTRYPOINT and `args` its CMD: a container
 * without `command` runs entrypoint + (its `args` or the default args); a container with
 * `command` runs that command as a host program.
 */
export interface LocalImage {
  entrypoint: string[];
  args?: string[];
  env?: Record<string, string>;
  workingDir?: string;
}

/** Image repository name (no registry, no tag/digest), e.g. `kuorum-node` → program. */
export type ImageMap = Record<string, LocalImage>;

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function defaultImages(): ImageMap {
  const node = process.execPath;
  return {
    // As node/Dockerfile's ENTRYPOINT and ENV: the runtime settings every kuorum launch uses.
    'kuorum-node': { entrypoint: [node, ...NODE_FLAGS, join(repoRoot, 'dist/node/src/main.js')], env: { ...NODE_ENV } },
    kuorum: { entrypoint: [node, ...NODE_FLAGS, join(repoRoot, 'dist/node/src/main.js')], env: { ...NODE_ENV } },
    'kuorum-operator': { entrypoint: [node, join(repoRoot, 'dist/operator/src/main.js')] },
    'e2e-counter-server': { entrypoint: [node, join(repoRoot, 'test/e2e/fixtures/counter-server.js')] },
  };
}

/** The last path segment of an image reference without tag or digest: `ghcr.io/x/kuorum-node:1.2` → `kuorum-node`. */
export function imageRepositoryName(image: string): string {
  const withoutDigest = image.split('@')[0] ?? image;
  const lastSegment = withoutDigest.split('/').pop() ?? withoutDigest;
  return lastSegment.split(':')[0] ?? lastSegment;
}

export function resolveImage(images: ImageMap, image: string): LocalImage | undefined {
  return images[image] ?? images[imageRepositoryName(image)];
}
