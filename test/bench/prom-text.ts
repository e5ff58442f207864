/** The value of an unlabelled sample (e.g. `kuorum_fsync_duration_seconds_count`) in Prometheus text; 0 when absent. */
export function promValue(text: string, name: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const [metric, value] = line.trim().split(/\s+/);
    if (metric === name) return Number(value);
  }
  return 0;
}
