import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { ServerResponse } from 'node:http';

export interface KubeletServerOptions {
  host: string;
  port: number;
  cert: string;
  key: string;
  /** CA the API server's kubelet-client certificate must be signed by. */
  clientCa: string;
  /** The log file of a container, or undefined when the kubelet runs no such container. */
  logPath(namespace: string, pod: string, container: string): string | undefined;
}

function tail(text: string, lines: number): string {
  const all = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
  return all.length === 1 && all[0] === '' ? '' : `${all.slice(-lines).join('\n')}\n`;
}

function follow(path: string, from: number, res: ServerResponse): void {
  let offset = from;
  const timer = setInterval(() => {
    if (!existsSync(path)) {
      clearInterval(timer);
      res.end();
      return;
    }
    const size = statSync(path).size;
    if (size > offset) {
      createReadStream(path, { start: offset, end: size - 1 }).pipe(res, { end: false });
      offset = size;
    }
  }, 500);
  res.on('close', () => clearInterval(timer));
}

/**
 * The kubelet's HTTPS endpoint, for what the API server proxies to it: container logs
 * (`kubectl logs`, with tailLines, limitBytes and follow) and /healthz. Only clients with a
 * certificate from the cluster CA (the API server's kubelet-client certificate) get in.
 * exec, attach and port-forward are not supported.
 */
export function startKubeletServer(options: KubeletServerOptions): Promise<Server> {
  const server = createServer({
    cert: readFileSync(options.cert),
    key: readFileSync(options.key),
    ca: readFileSync(options.clientCa),
    requestCert: true,
    rejectUnauthorized: true,
  }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    if (url.pathname === '/healthz') {
      res.end('ok');
      return;
    }
    const match = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (req.method !== 'GET' || !match) {
      res.writeHead(404).end(`process-kubelet does not serve ${url.pathname}\n`);
      return;
    }
    const [namespace, pod, container] = match.slice(1).map(decodeURIComponent) as [string, string, string];
    const path = options.logPath(namespace, pod, container);
    if (!path) {
      res.writeHead(404).end(`container ${container} of pod ${namespace}/${pod} is not running on this node\n`);
      return;
    }
    const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
    const tailLines = url.searchParams.get('tailLines');
    const limitBytes = url.searchParams.get('limitBytes');
    let body = tailLines !== null ? tail(text, Number(tailLines)) : text;
    if (limitBytes !== null) body = body.slice(0, Number(limitBytes));
    res.writeHead(200, { 'content-type': 'text/plain' });
    if (url.searchParams.get('follow') === 'true') {
      res.write(body);
      follow(path, Buffer.byteLength(text), res);
    } else {
      res.end(body);
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve(server));
  });
}
