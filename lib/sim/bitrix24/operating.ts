/**
 * The portal's operating-time limit (reference §3.2): per (application or webhook,
 * method), the seconds of server time spent, in one-minute buckets over a sliding ten
 * minutes. A call is refused with 429 OPERATION_TIME_LIMIT once the sum exceeds the
 * limit; every reply reports `operating` and `operating_reset_at`.
 */
interface Bucket {
  minute: number;
  firstAt: number;
  seconds: number;
}

export class OperatingClock {
  private readonly sums = new Map<string, Bucket[]>();

  constructor(
    public limitSec: number,
    private readonly now: () => number,
  ) {}

  private buckets(key: string): Bucket[] {
    const minNow = Math.floor(this.now() / 60_000);
    const list = (this.sums.get(key) ?? []).filter((b) => b.minute > minNow - 10);
    this.sums.set(key, list);
    return list;
  }

  /** The sum (s) for an app's method, and when its oldest minute expires (Unix s). */
  state(app: string, method: string): { operating: number; resetAt: number } {
    const list = this.buckets(`${app}|${method}`);
    const operating = list.reduce((n, b) => n + b.seconds, 0);
    const first = list[0];
    return { operating, resetAt: Math.floor((first ? first.firstAt + 600_000 : this.now() + 600_000) / 1000) };
  }

  /** Checked before each call: over the limit → blocked. */
  blocked(app: string, method: string): boolean {
    return this.state(app, method).operating > this.limitSec;
  }

  /** Count `seconds` of server time for a call that ran. */
  charge(app: string, method: string, seconds: number): void {
    const key = `${app}|${method}`;
    const list = this.buckets(key);
    const minute = Math.floor(this.now() / 60_000);
    const last = list[list.length - 1];
    if (last && last.minute === minute) last.seconds += seconds;
    else list.push({ minute, firstAt: this.now(), seconds });
  }
}

/** The `time` block of a reply (reference §1.3). */
export function timeBlock(
  startMs: number,
  endMs: number,
  op?: { operating: number; resetAt: number },
): Record<string, unknown> {
  const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, '+00:00');
  return {
    start: startMs / 1000,
    finish: endMs / 1000,
    duration: (endMs - startMs) / 1000,
    processing: (endMs - startMs) / 1000,
    date_start: iso(startMs),
    date_finish: iso(endMs),
    ...(op ? { operating_reset_at: op.resetAt, operating: op.operating } : {}),
  };
}
