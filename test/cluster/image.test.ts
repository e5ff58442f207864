// The node's container image, built the way CI and `make image` build it where there is no
// docker engine and no registry: a Node 24 base image made from this machine's files
// (scripts/image/build-base.sh), then node/Dockerfile built by buildah through `make image`.
// A node is then run from the image and must become ready and serve a write and a read.
import { mkdtempSync, readdirSync, rmSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRepoImage, containerName, createContainer, imageTestEnv, removeContainer, withImageWorkdir, type ImageConfig } from '../image/buildah.js';
import { runEntrypoint, type ContainerRun } from '../image/node-in-container.js';
import { freePort } from '../controlplane/free-port.js';
import { NODE_ENV, NODE_FLAGS } from '../../node/src/runtime-settings.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const image = 'localhost/kuorum:image-test';
const dataDir = '/var/lib/kuorum';
const kuorumUid = 10001;
const containerPrefix = 'kuorum-image-test';
const buildTimeoutMs = 900_000;
const readyTimeoutMs = 60_000;

async function waitForReady(url: string, run: ContainerRun): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (run.child.exitCode !== null || run.child.signalCode !== null) {
      throw new Error(`the node exited (${run.child.exitCode ?? run.child.signalCode}) before it was ready:\n${run.output()}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) return;
      last = `${response.status} ${await response.text()}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} not ready within ${readyTimeoutMs} ms (last: ${last}); node output:\n${run.output()}`);
}

describe('node container image', () => {
  const env = imageTestEnv();
  let config: ImageConfig;

  beforeAll(async () => {
    config = await buildRepoImage(repo, { target: 'image', image, containerPrefix }, env);
  }, buildTimeoutMs);

  it('runs as a non-root user, exposes the peer and HTTP ports and declares the data volume', () => {
    const uid = Number((config.User ?? '').split(':')[0]);
    expect(uid).toBe(kuorumUid);
    expect(Object.keys(config.ExposedPorts ?? {}).sort()).toEqual(['7000/tcp', '8080/tcp']);
    expect(Object.keys(config.Volumes ?? {})).toEqual([dataDir]);
    expect(config.Entrypoint).toEqual(['node', ...NODE_FLAGS, 'dist/node/src/main.js']);
    expect(config.Env).toContain(`KUORUM_DATA_DIR=${dataDir}`);
    for (const [name, value] of Object.entries(NODE_ENV)) expect(config.Env).toContain(`${name}=${value}`);
  });

  it('ships the compiled node and production dependencies only', async () => {
    await withImageWorkdir(image, containerName(containerPrefix, 'files'), config, env, (app) => {
      const modules = readdirSync(join(app, 'node_modules'));
      expect(modules).toEqual(expect.arrayContaining(['classic-level', 'fastify', '@grpc']));
      for (const devOnly of ['typescript', 'vitest', 'eslint', 'node', 'fast-check']) expect(modules).not.toContain(devOnly);
      expect(readdirSync(app).sort()).toEqual(['dist', 'node', 'node_modules', 'package.json']);
      const compiled = readdirSync(join(app, 'dist'), { recursive: true, encoding: 'utf8' });
      expect(compiled).toContain(join('node', 'src', 'main.js'));
      expect(compiled.filter((p) => p.endsWith('.ts'))).toEqual([]);
      const protos = readdirSync(join(repo, 'node'), { recursive: true, encoding: 'utf8' }).filter((p) => p.endsWith('.proto'));
      expect(protos.length).toBeGreaterThan(0);
      expect(readdirSync(join(app, 'node'), { recursive: true, encoding: 'utf8' }).sort()).toEqual(
        expect.arrayContaining(protos.sort()),
      );
      expect(readdirSync(join(app, 'node'), { recursive: true, encoding: 'utf8' }).filter((p) => p.endsWith('.ts'))).toEqual([]);
    });
  });

  describe('a node run from the image', () => {
    const container = containerName(containerPrefix, 'node');
    const value = 'written through a node that runs from the image';
    let volume = '';
    let command: string[] = [];
    let run: ContainerRun | undefined;
    let http = '';

    async function startNode(): Promise<void> {
      run = runEntrypoint(container, command, { hostDir: volume, containerDir: dataDir }, env);
      await waitForReady(`${http}/readyz`, run);
    }

    beforeAll(async () => {
      volume = mkdtempSync(join(tmpdir(), 'kuorum-image-volume-'));
      chownSync(volume, kuorumUid, kuorumUid);
      await createContainer(image, container, env);
      const [httpPort, peerPort] = [await freePort(), await freePort()];
      http = `http://127.0.0.1:${httpPort}`;
      // No --data-dir: the image's KUORUM_DATA_DIR must point the node at the volume.
      const args = ['--name', 'image-test', '--bootstrap', '--listen-http', `127.0.0.1:${httpPort}`,
        '--listen-peer', `127.0.0.1:${peerPort}`, '--advertise-peer', `127.0.0.1:${peerPort}`];
      command = [...(config.Entrypoint ?? []), ...args];
      await startNode();
    }, readyTimeoutMs + 30_000);

    afterAll(async () => {
      await run?.stop();
      await removeContainer(container, env);
      if (volume) rmSync(volume, { recursive: true, force: true });
    });

    it('accepts a write and reads it back, keeping its data in the volume', async () => {
      const put = await fetch(`${http}/v1/kv/image-test`, { method: 'PUT', body: value });
      expect(put.status, await put.clone().text()).toBe(200);
      const { revision } = (await put.json()) as { revision: number };
      expect(revision).toBeGreaterThan(0);

      const get = await fetch(`${http}/v1/kv/image-test`);
      expect(get.status).toBe(200);
      expect(await get.text()).toBe(value);
      expect(get.headers.get('etag')).toBe(`"${revision}"`);

      expect(readdirSync(volume).length).toBeGreaterThan(0);
    });

    it('comes back after kill -9 with the acknowledged write, from the volume alone', async () => {
      await run?.stop();
      await startNode();
      const get = await fetch(`${http}/v1/kv/image-test`);
      expect(get.status).toBe(200);
      expect(await get.text()).toBe(value);
    }, readyTimeoutMs + 30_000);
  });
});
