/**
 * Our side of the portal's leaky bucket (bitrix24-telephony.md §3.1): every request
 * takes a slot; slots drain at Y/s up to a burst of X. Waiters are served in order,
 * `urgent` ones (the routing lookup) first. One limiter per portal, shared by all.
 */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms).unref?.()),
};

export class RateLimiter {
  private level = 0;
  private last: number;
  private readonly queue: Array<{ urgent: boolean; resolve: () => void }> = [];
  private pumping = false;
  /** How long requests waited for a slot, ms (for metrics). */
  waitedMs = 0;

  constructor(
    private readonly burst: number,
    private readonly drainPerSec: number,
    private readonly clock: Clock = realClock,
  ) {
    this.last = clock.now();
  }

  private drain(): void {
    const t = this.clock.now();
    this.level = Math.max(0, this.level - ((t - this.last) / 1000) * this.drainPerSec);
    this.last = t;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Wait for a slot. A margin of one slot is kept so a clock skew does not cost a 503. */
  acquire(urgent = false): Promise<void> {
    this.drain();
    if (this.queue.length === 0 && this.level + 1 < this.burst) {
      this.level += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const entry = { urgent, resolve };
      if (urgent) {
        const i = this.queue.findIndex((q) => !q.urgent);
        this.queue.splice(i < 0 ? this.queue.length : i, 0, entry);
      } else this.queue.push(entry);
      void this.pump();
    });
  }

  /** Resolves when a request could go without waiting (nothing is taken). */
  async whenAvailable(): Promise<void> {
    for (;;) {
      this.drain();
      if (this.queue.length === 0 && this.level + 1 < this.burst) return;
      await this.clock.sleep(Math.max(1, ((this.level + 1 - this.burst + 0.001) / this.drainPerSec) * 1000));
    }
  }

  /** The portal said QUERY_LIMIT_EXCEEDED: its bucket is full, ours must be too. */
  saturate(): void {
    this.drain();
    this.level = Math.max(this.level, this.burst);
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        this.drain();
        if (this.level + 1 < this.burst) {
          this.level += 1;
          this.queue.shift()?.resolve();
          continue;
        }
        const waitMs = Math.max(1, ((this.level + 1 - this.burst + 0.001) / this.drainPerSec) * 1000);
        this.waitedMs += waitMs;
        await this.clock.sleep(waitMs);
      }
    } finally {
      this.pumping = false;
    }
  }
}
