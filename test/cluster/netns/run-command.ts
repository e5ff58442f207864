/** Runs ip/iptables and turns a failure into an error that says which command failed and why. */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export async function run(cmd: string, ...args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args);
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; code?: string; message: string };
    const why = e.code === 'ENOENT' ? `${cmd} is not installed (network-namespace tests need iproute2 and iptables)` : e.stderr?.trim() || e.message;
    throw new Error(`${cmd} ${args.join(' ')}: ${why}`, { cause: err });
  }
}

/** For cleanup paths (process exit, stale sweeps): best effort, never throws. */
export function runQuietlySync(cmd: string, ...args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    // Already gone.
  }
}

/** Synchronous, for the sweep that runs before anything else is set up. */
export function runSync(cmd: string, ...args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' });
}
