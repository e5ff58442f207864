import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';

export interface ProbeTarget {
  url: string;
  /** CA to verify the server with; without it the server's certificate is not verified (self-signed loopback components). */
  caCert?: string;
}

/** One GET; resolves with the status code, or 0 when the server cannot be reached. */
export function probeOnce(target: ProbeTarget, timeoutMs = 2000): Promise<number> {
  return new Promise((resolve) => {
    const url = new URL(target.url);
    const send = url.protocol === 'https:' ? request : httpRequest;
    const options = url.protocol === 'https:'
      ? target.caCert
        ? { ca: readFileSync(target.caCert) }
        : { rejectUnauthorized: false }
      : {};
    const req = send(url, { ...options, method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Polls until the endpoint answers 200, `alive()` turns false, or the deadline passes. */
export async function waitHealthy(what: string, target: ProbeTarget, alive: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`${what} exited before becoming healthy`);
    last = await probeOnce(target);
    if (last === 200) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} not healthy at ${target.url} after ${timeoutMs} ms (last status ${last || 'unreachable'})`);
}
