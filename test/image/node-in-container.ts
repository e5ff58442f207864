// Runs the image's entrypoint in a buildah working container (chroot isolation, the host's
// network so it can listen on loopback), with a host directory mounted at the image's volume.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ContainerRun {
  child: ChildProcess;
  /** Everything the process printed so far, for failure messages. */
  output(): string;
  /** Kills the whole buildah process group and waits for it to exit. */
  stop(): Promise<void>;
}

export function runEntrypoint(
  container: string,
  command: string[],
  volume: { hostDir: string; containerDir: string },
  env: NodeJS.ProcessEnv,
): ContainerRun {
  const args = ['run', '--isolation', 'chroot', '--network', 'host', '-v', `${volume.hostDir}:${volume.containerDir}`, container, '--', ...command];
  const child = spawn('buildah', args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let printed = '';
  const keep = (chunk: Buffer): void => {
    printed = (printed + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.once('error', (error) => keep(Buffer.from(`spawn failed: ${error.message}\n`)));

  return {
    child,
    output: () => printed,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      try {
        // buildah's chroot runtime and the node below it share the group started here.
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;
    },
  };
}
