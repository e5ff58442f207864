// Runs buildah for the image tests, against a store of their own under ~/.cache/kuorum, so the
// base image and the build's layer cache survive between runs and never mix with the machine's.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** Environment under which buildah (and `make image`) use the test store. */
export function imageTestEnv(): NodeJS.ProcessEnv {
  const dir = join(homedir(), '.cache', 'kuorum', 'containers');
  const conf = join(dir, 'storage.conf');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    conf,
    [
      '[storage]',
      'driver = "overlay"',
      `graphroot = "${join(dir, 'storage')}"`,
      `runroot = "${join(tmpdir(), 'kuorum-containers-run')}"`,
      '',
    ].join('\n'),
  );
  return { ...process.env, CONTAINERS_STORAGE_CONF: conf };
}

/** Runs a command to completion; rejects with its output when it fails. */
export function runCommand(command: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env, cwd, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? `${command} is not installed` : error.message;
        reject(new Error(`${command} ${args.join(' ')} failed: ${why}\n${stdout.slice(-4000)}\n${stderr.slice(-4000)}`));
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}

/** Fails with the install hint when buildah is missing: the image tests never skip. */
export async function requireBuildah(env: NodeJS.ProcessEnv): Promise<string> {
  try {
    return (await runCommand('buildah', ['--version'], env)).stdout.trim();
  } catch (error) {
    throw new Error(`the image test needs buildah (apt-get update && apt-get install -y buildah): ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** The OCI config of an image, as `buildah inspect` reports it. */
export interface ImageConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
}

export async function inspectImageConfig(image: string, env: NodeJS.ProcessEnv): Promise<ImageConfig> {
  const { stdout } = await runCommand('buildah', ['inspect', '--type', 'image', image], env);
  const parsed = JSON.parse(stdout) as { OCIv1?: { config?: ImageConfig } };
  if (!parsed.OCIv1?.config) throw new Error(`buildah inspect ${image}: no OCI config in its output`);
  return parsed.OCIv1.config;
}

/** Creates a working container from an image; returns its name. */
export async function createContainer(image: string, name: string, env: NodeJS.ProcessEnv): Promise<string> {
  await runCommand('buildah', ['rm', name], env).catch(() => undefined);
  return (await runCommand('buildah', ['from', '--pull=never', '--name', name, image], env)).stdout.trim();
}

/** Removes a working container (unmounting it first), ignoring one that is already gone. */
export async function removeContainer(name: string, env: NodeJS.ProcessEnv): Promise<void> {
  await runCommand('buildah', ['umount', name], env).catch(() => undefined);
  await runCommand('buildah', ['rm', name], env).catch(() => undefined);
}

/** A container name for this test process: `<prefix>-<role>-<pid>`. */
export function containerName(prefix: string, role: string): string {
  return `${prefix}-${role}-${process.pid}`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes containers left by earlier runs of this test that died before their cleanup. */
export async function removeStaleContainers(prefix: string, env: NodeJS.ProcessEnv): Promise<void> {
  const { stdout } = await runCommand('buildah', ['containers', '--format', '{{.ContainerName}}'], env);
  const pattern = new RegExp(`^${prefix}-[a-z]+-(\\d+)$`);
  for (const name of stdout.split('\n')) {
    const pid = pattern.exec(name.trim())?.[1];
    if (pid && !isAlive(Number(pid))) await removeContainer(name.trim(), env);
  }
}

/** The Node 24 base image the image tests build from this machine's files (no registry here). */
export const TEST_BASE_IMAGE = 'localhost/kuorum-base:24';

/**
 * Builds one of the repo's images the way CI does where there is no docker engine: the base from
 * scripts/image/build-base.sh, then `make <target>` with buildah. Clears containers that earlier
 * runs of this test left behind first. Returns the image's OCI config.
 */
export async function buildRepoImage(
  repo: string,
  build: { target: 'image' | 'image-operator'; image: string; containerPrefix: string },
  env: NodeJS.ProcessEnv,
): Promise<ImageConfig> {
  await requireBuildah(env);
  await removeStaleContainers(build.containerPrefix, env);
  await runCommand(join(repo, 'scripts/image/build-base.sh'), [TEST_BASE_IMAGE], env);
  const imageVar = build.target === 'image' ? 'IMAGE' : 'OPERATOR_IMAGE';
  await runCommand('make', ['-C', repo, build.target, `${imageVar}=${build.image}`, `BASE_IMAGE=${TEST_BASE_IMAGE}`, 'BUILDER=buildah'], env);
  return inspectImageConfig(build.image, env);
}

/** Calls `look` with the image's working directory, mounted from a throwaway container. */
export async function withImageWorkdir<T>(image: string, container: string, config: ImageConfig, env: NodeJS.ProcessEnv, look: (workdir: string) => T | Promise<T>): Promise<T> {
  const name = await createContainer(image, container, env);
  try {
    const root = (await runCommand('buildah', ['mount', name], env)).stdout.trim();
    return await look(join(root, config.WorkingDir ?? '/'));
  } finally {
    await removeContainer(name, env);
  }
}
