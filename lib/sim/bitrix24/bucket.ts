/** The per-portal leaky bucket (reference §3.1): drain Y/s, reject once the level reaches X. */
export class LeakyBucket {
  private level = 0;
  private last: number;
  /** Requests let in, and refused with QUERY_LIMIT_EXCEEDED, since the start; the highest level reached. */
  admitted = 0;
  refused = 0;
  peak = 0;

  constructor(
    public burst: number,
    public drainPerSec: number,
    private readonly now: () => number,
  ) {
    this.last = now();
  }

  /** true: the request is admitted and counted; false: 503 QUERY_LIMIT_EXCEEDED. */
  take(): boolean {
    const t = this.now();
    this.level = Math.max(0, this.level - ((t - this.last) / 1000) * this.drainPerSec);
    this.last = t;
    if (this.level >= this.burst) {
      this.refused++;
      return false;
    }
    this.level += 1;
    this.admitted++;
    this.peak = Math.max(this.peak, this.level);
    return true;
  }

  get current(): number {
    return this.level;
  }

  reset(): void {
    this.level = 0;
    this.last = this.now();
  }
}
