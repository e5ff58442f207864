/** The last N simulator events, printed with a failure so a replay can be read without a debugger. */
export class Trace {
  private lines: string[] = [];
  private next = 0;
  private count = 0;

  constructor(private readonly capacity: number) {}

  add(time: number, text: string): void {
    const line = `t=${(time / 10).toFixed(1)} ${text}`;
    if (this.lines.length < this.capacity) this.lines.push(line);
    else this.lines[this.next] = line;
    this.next = (this.next + 1) % this.capacity;
    this.count++;
  }

  /** Oldest first. */
  tail(): string[] {
    if (this.lines.length < this.capacity) return [...this.lines];
    return [...this.lines.slice(this.next), ...this.lines.slice(0, this.next)];
  }

  get total(): number {
    return this.count;
  }
}
