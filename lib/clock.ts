/**
 * Time as a dependency: everything that waits or stamps takes a Clock, so tests move
 * time instead of sleeping. `realClock` in production (timers unref'd: a pending
 * timer never keeps the process alive), `ManualClock` in tests.
 */

/** A scheduled callback; pass it back to `clearTimeout`. */
export interface Timer {
  readonly due: number;
}

export interface Clock {
  /** Milliseconds since the epoch (or since the fake clock's start). */
  now(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  clearTimeout(timer: Timer | null | undefined): void;
  sleep(ms: number): Promise<void>;
}

interface RealTimer extends Timer {
  handle: NodeJS.Timeout;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, Math.max(0, ms));
    handle.unref();
    const t: RealTimer = { due: Date.now() + ms, handle };
    return t;
  },
  clearTimeout(timer) {
    if (timer) clearTimeout((timer as RealTimer).handle);
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref()),
};

interface ManualTimer extends Timer {
  seq: number;
  fn: () => void;
}

/** A clock that moves only when told to. Timers fire in due order, ties in creation order. */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Set<ManualTimer>();

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const timer: ManualTimer = { due: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(timer);
    return timer;
  }

  clearTimeout(timer: Timer | null | undefined): void {
    if (timer) this.timers.delete(timer as ManualTimer);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /** Timers not fired yet. */
  get pending(): number {
    return this.timers.size;
  }

  /** When the next timer fires, or null. */
  nextDue(): number | null {
    let best: number | null = null;
    for (const t of this.timers) if (best === null || t.due < best) best = t.due;
    return best;
  }

  /**
   * Move time forward by `ms`, firing every timer that comes due on the way; after
   * each one, promise continuations run (so a chain of awaits can set its next timer).
   */
  async advance(ms: number): Promise<void> {
    const until = this.t + ms;
    await settle();
    for (;;) {
      const next = this.earliest();
      if (!next || next.due > until) break;
      this.timers.delete(next);
      this.t = Math.max(this.t, next.due);
      next.fn();
      await settle();
    }
    this.t = until;
    await settle();
  }

  private earliest(): ManualTimer | null {
    let best: ManualTimer | null = null;
    for (const t of this.timers) if (!best || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    return best;
  }
}

/** Let pending promise continuations (and I/O callbacks already queued) run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
