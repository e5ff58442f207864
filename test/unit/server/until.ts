/** Polls `fn` every 10 ms until it returns something truthy (returned), or fails after `timeoutMs`. */
export async function until<T>(fn: () => T | undefined | false, what = 'a condition', timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
