// A TCP relay whose connections a test can reset at once, as the kernel does to the sockets of a
// process that died, or as a network blip does while both ends live on.
import * as net from 'node:net';

export interface TcpRelay {
  /** host:port to dial instead of the target. */
  readonly address: string;
  /** Resets (RST) every relayed connection; new ones are still accepted. */
  reset(): void;
  close(): void;
}

export async function startRelay(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpRelay> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(targetPort, targetHost);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    reset: () => {
      for (const s of sockets) s.resetAndDestroy();
    },
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
