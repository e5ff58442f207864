// A bounded background client: PUTs unique keys through the pods of a kuorum cluster and records
// every write acknowledged with 200, so a test can read all of them back at the end.

export interface AckedWrite {
  key: string;
  value: string;
}

export interface WriterStats {
  acked: number;
  failed: number;
}

/** Returns the current pod IPs that may take client traffic (the client Service's ready endpoints). */
export type EndpointSource = () => Promise<string[]>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class ContinuousWriter {
  readonly acked: AckedWrite[] = [];
  private failed = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private endpoints: string[] = [];
  private endpointsAt = 0;

  constructor(
    private readonly prefix: string,
    private readonly source: EndpointSource,
    private readonly options: { intervalMs: number; maxWrites: number; timeoutMs: number } = { intervalMs: 150, maxWrites: 5_000, timeoutMs: 5_000 },
  ) {}

  start(): void {
    if (this.loop) throw new Error('writer already started');
    this.loop = this.run();
  }

  /** Stops the loop and waits for the write in flight. */
  async stop(): Promise<WriterStats> {
    this.stopped = true;
    await this.loop;
    return this.stats();
  }

  stats(): WriterStats {
    return { acked: this.acked.length, failed: this.failed };
  }

  private async currentEndpoints(): Promise<string[]> {
    if (Date.now() - this.endpointsAt > 1_000) {
      try {
        this.endpoints = await this.source();
      } catch {
        // keep the previous list while the API server is briefly unavailable
      }
      this.endpointsAt = Date.now();
    }
    return this.endpoints;
  }

  private async run(): Promise<void> {
    for (let n = 0; !this.stopped && n < this.options.maxWrites; n++) {
      const ips = await this.currentEndpoints();
      const ip = ips[n % Math.max(1, ips.length)];
      if (ip) {
        const key = `${this.prefix}-${String(n).padStart(6, '0')}`;
        const value = `${key}@${Date.now()}`;
        try {
          const res = await fetch(`http://${ip}:8080/v1/kv/${key}`, { method: 'PUT', body: value, signal: AbortSignal.timeout(this.options.timeoutMs) });
          await res.arrayBuffer();
          if (res.status === 200) this.acked.push({ key, value });
          else this.failed++;
        } catch {
          this.failed++;
        }
      }
      await sleep(this.options.intervalMs);
    }
  }
}

/** Reads every acknowledged write back with a linearizable GET; returns the ones missing or wrong. */
export async function verifyAcked(writes: readonly AckedWrite[], ips: readonly string[]): Promise<string[]> {
  const bad: string[] = [];
  let i = 0;
  for (const w of writes) {
    let got: string | undefined;
    let lastError = '';
    for (let attempt = 0; attempt < 5 && got === undefined; attempt++) {
      const ip = ips[(i + attempt) % ips.length];
      try {
        const res = await fetch(`http://${ip}:8080/v1/kv/${w.key}`, { signal: AbortSignal.timeout(5_000) });
        const text = await res.text();
        if (res.status === 200 || res.status === 404) got = res.status === 200 ? text : '<absent>';
        else lastError = `${res.status} ${text}`;
      } catch (err) {
        lastError = (err as Error).message;
      }
      if (got === undefined) await sleep(500);
    }
    i++;
    if (got !== w.value) bad.push(`${w.key}: expected ${w.value}, got ${got ?? `error ${lastError}`}`);
  }
  return bad;
}
