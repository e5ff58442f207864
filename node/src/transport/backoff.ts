export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  multiplier: number;
  /** Fraction of the delay randomized either way, e.g. 0.2 = ±20%. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5_000, multiplier: 2, jitter: 0.2 };

/** Delay before reconnect attempt number `attempt` (0-based); `random` returns [0, 1). Never above maxMs. */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number): number {
  const base = Math.min(opts.maxMs, opts.initialMs * Math.pow(opts.multiplier, Math.max(0, attempt)));
  const jittered = base * (1 - opts.jitter + 2 * opts.jitter * random());
  return Math.max(0, Math.min(opts.maxMs, Math.round(jittered)));
}
