import { execFile } from 'node:child_process';

export interface CliResult {
  stdout: string;
  stderr: string;
}

/** Runs a CLI to completion; rejects with its stderr when it exits non-zero. */
export function runCli(command: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { env, maxBuffer: 64 * 1024 * 1024, timeout: 300_000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${command.split('/').pop()} ${args.join(' ')} failed: ${stderr.trim() || err.message}`, { cause: err }));
        return;
      }
      resolve({ stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}
