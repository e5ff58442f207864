import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { V1Container, V1Probe } from '@kubernetes/client-node';

/** A probe's port may name a container port. */
export function probePort(container: V1Container, port: number | string): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const named = container.ports?.find((p) => p.name === port);
  if (!named) throw new Error(`container ${container.name} has no port named ${port}`);
  return named.containerPort;
}

/**
 * One probe attempt against the pod's address, as the kubelet does it: httpGet succeeds on a
 * 2xx/3xx status, tcpSocket on an accepted connection. exec probes are not supported (the
 * command would have to run inside the pod's namespaces) and count as failures.
 */
export function runProbe(probe: V1Probe, container: V1Container, podIp: string): Promise<boolean> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.httpGet) {
    const get = probe.httpGet;
    const https = get.scheme === 'HTTPS';
    const headers = Object.fromEntries((get.httpHeaders ?? []).map((h) => [h.name, h.value]));
    return new Promise((resolve) => {
      const send = https ? httpsRequest : httpRequest;
      const req = send({
        host: get.host ?? podIp,
        port: probePort(container, get.port),
        path: get.path ?? '/',
        method: 'GET',
        headers: { 'user-agent': 'kube-probe/process-kubelet', ...headers },
        timeout: timeoutMs,
        rejectUnauthorized: false,
      }, (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        resolve(status >= 200 && status < 400);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
  }
  if (probe.tcpSocket) {
    const port = probePort(container, probe.tcpSocket.port);
    return new Promise((resolve) => {
      const socket = connect({ host: probe.tcpSocket?.host ?? podIp, port, timeout: timeoutMs });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(false));
    });
  }
  return Promise.resolve(false);
}

/**
 * Applies a probe's thresholds to its stream of results: after initialDelaySeconds, one attempt
 * every periodSeconds; the outcome flips to failing after failureThreshold consecutive failures
 * and back after successThreshold consecutive successes.
 */
export class ProbeLoop {
  private timer: NodeJS.Timeout | undefined;
  private successes = 0;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly probe: V1Probe,
    private readonly attempt: () => Promise<boolean>,
    private readonly onResult: (passing: boolean) => void,
  ) {}

  start(): void {
    this.schedule((this.probe.initialDelaySeconds ?? 0) * 1000);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), delayMs);
  }

  private async tick(): Promise<void> {
    const ok = await this.attempt();
    if (this.stopped) return;
    if (ok) {
      this.failures = 0;
      if (++this.successes >= (this.probe.successThreshold ?? 1)) this.onResult(true);
    } else {
      this.successes = 0;
      if (++this.failures >= (this.probe.failureThreshold ?? 3)) this.onResult(false);
    }
    this.schedule((this.probe.periodSeconds ?? 10) * 1000);
  }
}
