import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * Makes the API server (listening on the host's 127.0.0.1 only) reachable from pods: a TCP relay
 * on the pod network's gateway address. TLS passes through untouched, so the API server's
 * certificate must name the gateway IP. Pods find it through KUBERNETES_SERVICE_HOST/PORT.
 */
export class ApiServerRelay {
  private constructor(
    private readonly server: Server,
    private readonly sockets: Set<Socket>,
    readonly host: string,
    readonly port: number,
  ) {}

  static start(listenHost: string, listenPort: number, targetPort: number): Promise<ApiServerRelay> {
    return new Promise((resolve, reject) => {
      const sockets = new Set<Socket>();
      const server = createServer((client) => {
        const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
        sockets.add(client);
        sockets.add(upstream);
        const close = (): void => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', close).on('close', close);
        upstream.on('error', close).on('close', close);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      server.once('error', reject);
      server.listen(listenPort, listenHost, () => {
        resolve(new ApiServerRelay(server, sockets, listenHost, listenPort));
      });
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      // Live connections (watches) would keep the server open.
      for (const socket of this.sockets) socket.destroy();
    });
  }
}
