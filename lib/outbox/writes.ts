/**
 * Submitted effects go to the store one submit after the other, so a call's effects keep
 * the order of its events whatever the store's latency (a database server answers
 * concurrent writes in any order; a finish stored before its register would wait behind
 * it). A write the store fails (a database restarting, a lost connection) is tried again
 * after a pause that doubles up to `maxMs`, holding the ones behind it, until it lands or
 * the outbox stops: effects of the switch, which nobody else keeps, are not dropped for a
 * blip. A value the store can never write (a programming error) is refused at once.
 */
import type { Clock, Timer } from '../clock.js';
import type { Effect } from '../calls/effects.js';
import type { Logger } from '../log.js';
import type { JobStore } from '../store/store.js';

export class OrderedWrites {
  private tail: Promise<unknown> = Promise.resolve();
  private failing = 0;
  /** The pause before the next try, if one is under way: a stop ends it. */
  private pause: { timer: Timer; end: () => void } | null = null;

  constructor(
    private readonly store: Pick<JobStore, 'enqueue'>,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly running: () => boolean,
    private readonly retryMs = 500,
    private readonly maxMs = 30_000,
  ) {}

  /** Resolves once written (after everything submitted before); rejects if refused for good. */
  add(effects: readonly Effect[]): Promise<void> {
    const now = this.clock.now();
    const done = this.tail.then(() => this.attempt(effects, now, this.retryMs));
    this.tail = done.catch(() => undefined);
    return done;
  }

  /** Resolves when everything submitted so far is written or refused. */
  settled(): Promise<unknown> {
    return this.tail;
  }

  /** The outbox stops (`running()` is false now): a write waiting to be tried again gets one last try at once. */
  stop(): Promise<unknown> {
    if (this.pause) {
      this.clock.clearTimeout(this.pause.timer);
      this.pause.end();
    }
    return this.tail;
  }

  private async attempt(effects: readonly Effect[], now: number, delayMs: number): Promise<void> {
    for (;;) {
      try {
        await this.store.enqueue(effects, now);
        if (this.failing > 0) this.log.info({ failedWrites: this.failing }, 'the store takes writes again');
        this.failing = 0;
        return;
      } catch (err) {
        if (err instanceof TypeError || !this.running()) throw err;
        if (this.failing++ === 0)
          this.log.error({ err }, 'the store refuses writes; call effects wait in memory, in order, and are retried');
        await new Promise<void>((end) => {
          this.pause = { timer: this.clock.setTimeout(end, delayMs), end };
        });
        this.pause = null;
        delayMs = Math.min(this.maxMs, delayMs * 2);
      }
    }
  }
}
