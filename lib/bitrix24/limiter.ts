/**
 * Our side of the portal's two limits (bitrix24-telephony.md §3.1, §3.2).
 * - RateLimiter: the leaky bucket. Every request takes a slot; slots drain at Y/s up
 *   to a burst of X. Waiters are served in order, `urgent` ones (the routing lookup)
 *   first. One per portal, shared by all.
 * - OperatingLimits: the server time each method may use (480 s per sliding 10 minutes
 *   in the cloud), read from the `time` block of every response and batch sub-result.
 *   A method past half its budget is paced so the rest lasts until the window moves;
 *   one near the limit waits for `operating_reset_at`.
 */
import { realClock, type Clock } from '../clock.js';

export class RateLimiter {
  private level = 0;
  private last: number;
  private readonly queue: Array<{ urgent: boolean; resolve: () => void }> = [];
  private pumping = false;
  /** How long requests waited for a slot, ms (for metrics). */
  waitedMs = 0;

  constructor(
    readonly burst: number,
    readonly drainPerSec: number,
    private readonly clock: Clock = realClock,
  ) {
    this.last = clock.now();
  }

  private drain(): void {
    const t = this.clock.now();
    this.level = Math.max(0, this.level - ((t - this.last) / 1000) * this.drainPerSec);
    this.last = t;
  }

  /** Requests that could go now without waiting (one slot is kept in reserve). */
  available(): number {
    this.drain();
    if (this.queue.length > 0) return 0;
    return Math.max(0, Math.ceil(this.burst - 1 - this.level));
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

  /** Take a slot if one is free now (nobody queued ahead): true; else nothing is taken. */
  tryAcquire(): boolean {
    this.drain();
    if (this.queue.length > 0 || this.level + 1 >= this.burst) return false;
    this.level += 1;
    return true;
  }

  /** A slot taken for a request that did not go, given back. */
  refund(): void {
    this.drain();
    this.level = Math.max(0, this.level - 1);
    if (this.queue.length > 0) void this.pump();
  }

  /** The portal said QUERY_LIMIT_EXCEEDED: its bucket is full, ours must be too. */
  saturate(): void {
    this.drain();
    this.level = Math.max(this.level, this.burst);
  }

  private waitMs(): number {
    return Math.max(1, ((this.level + 1 - this.burst + 0.001) / this.drainPerSec) * 1000);
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
        const waitMs = this.waitMs();
        this.waitedMs += waitMs;
        await this.clock.sleep(waitMs);
      }
    } finally {
      this.pumping = false;
    }
  }
}

/** The `time` block of a response or of one batch sub-result (reference §1.3); every field optional. */
export interface TimeBlock {
  duration?: number;
  processing?: number;
  operating?: number;
  operating_reset_at?: number;
}

/** Read a `time` block from untrusted JSON: numbers only, anything else dropped. */
export function parseTimeBlock(v: unknown): TimeBlock | null {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const out: TimeBlock = {};
  for (const k of ['duration', 'processing', 'operating', 'operating_reset_at'] as const) {
    const n = typeof o[k] === 'string' ? Number(o[k]) : o[k];
    if (typeof n === 'number' && Number.isFinite(n) && n >= 0) out[k] = n;
  }
  return out;
}

interface MethodTime {
  /** The portal's sliding 10-minute sum, seconds, as last reported. */
  operating: number;
  /** When the oldest minute of that sum expires, ms. */
  resetAt: number;
  /** Server seconds this service has used, all time (the `duration` of each call). */
  spent: number;
  calls: number;
  /** Average server seconds per call (weighted towards recent calls). */
  cost: number;
  lastSent: number;
  lastCount: number;
  blockedUntil: number;
}

export interface OperatingTotal {
  method: string;
  operatingSec: number;
  resetAt: number;
  spentSec: number;
  calls: number;
  blockedUntil: number;
  /** How long the next call of the method waits (pacing or a block), ms. */
  heldMs: number;
}

export class OperatingLimits {
  private readonly methods = new Map<string, MethodTime>();

  constructor(
    /** Seconds of server time per method per 10 minutes (480 in the cloud). */
    readonly limitSec = 480,
    private readonly clock: Clock = realClock,
  ) {}

  private state(method: string): MethodTime {
    const key = method.toLowerCase();
    let s = this.methods.get(key);
    if (!s) {
      s = { operating: 0, resetAt: 0, spent: 0, calls: 0, cost: 0, lastSent: 0, lastCount: 0, blockedUntil: 0 };
      this.methods.set(key, s);
    }
    return s;
  }

  /** One response (or batch sub-result) of `method` came back with this `time` block. */
  note(method: string, time: TimeBlock | null): void {
    if (!time) return;
    const s = this.state(method);
    if (time.duration !== undefined) {
      s.spent += time.duration;
      s.calls++;
      s.cost = s.calls === 1 ? time.duration : s.cost * 0.9 + time.duration * 0.1;
    }
    if (time.operating !== undefined) s.operating = time.operating;
    if (time.operating_reset_at !== undefined) s.resetAt = time.operating_reset_at * 1000;
  }

  /** The portal answered OPERATION_TIME_LIMIT for `method`: hold it until its window moves. */
  blocked(method: string): void {
    const s = this.state(method);
    const now = this.clock.now();
    s.operating = Math.max(s.operating, this.limitSec);
    s.blockedUntil = (s.resetAt > now ? s.resetAt : now + 60_000) + 1000;
  }

  /** A request carrying `count` calls of `method` is going out now (pacing counts from here). */
  sent(method: string, count = 1): void {
    const s = this.state(method);
    s.lastSent = this.clock.now();
    s.lastCount = count;
  }

  /** The earliest time `method` may go out again; 0 when it may go at once. */
  readyAt(method: string): number {
    const s = this.methods.get(method.toLowerCase());
    const now = this.clock.now();
    if (!s) return 0;
    if (s.blockedUntil > now) return s.blockedUntil;
    // the window moved since the last report: the sum is unknown until the next reply
    if (s.resetAt <= now) return 0;
    const margin = Math.max(5, this.limitSec * 0.02);
    const left = this.limitSec - margin - s.operating;
    if (left <= 0) return s.resetAt + 1000;
    if (s.operating < this.limitSec / 2) return 0;
    // spread what is left over the time until the oldest minute expires
    const calls = left / Math.max(s.cost, 0.001);
    const spacing = (s.resetAt - now) / Math.max(1, calls);
    const at = s.lastSent + spacing * Math.max(1, s.lastCount);
    return at > now ? at : 0;
  }

  totals(): OperatingTotal[] {
    const now = this.clock.now();
    return [...this.methods].map(([method, s]) => ({
      method,
      operatingSec: s.operating,
      resetAt: s.resetAt,
      spentSec: s.spent,
      calls: s.calls,
      blockedUntil: s.blockedUntil,
      heldMs: Math.max(0, this.readyAt(method) - now),
    }));
  }
}
