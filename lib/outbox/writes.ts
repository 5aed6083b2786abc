/**
 * Submitted effects go to the store one submit after the other, so a call's effects keep
 * the order of its events whatever the store's latency (a database server answers
 * concurrent writes in any order; a finish stored before its register would wait behind
 * it). The submits that arrive while a write is under way go together in the next one
 * (`enqueueAll`: one round trip, each effect with its own submit's time), so a slow store
 * takes more per write instead of falling behind. A write the store fails (a database
 * restarting, a lost connection) is tried again after a pause that doubles up to `maxMs`,
 * holding the ones behind it, until it lands or the outbox stops: effects of the switch,
 * which nobody else keeps, are not dropped for a blip. A value the store can never write
 * (a programming error) is refused at once, and only its own submit with it.
 */
import type { Clock, Timer } from '../clock.js';
import type { Effect } from '../calls/effects.js';
import type { Logger } from '../log.js';
import type { JobStore, Submitted } from '../store/store.js';

/** One submit waiting for its write. */
interface Queued extends Submitted {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** At most this many effects in one write (a backlog after a long failure goes in several). */
const MAX_EFFECTS = 2000;

export class OrderedWrites {
  private readonly queue: Queued[] = [];
  private writing = false;
  /** Settles with the latest submit: once it is written or refused, so is everything before it. */
  private tail: Promise<unknown> = Promise.resolve();
  private failing = 0;
  /** The pause before the next try, if one is under way: a stop ends it. */
  private pause: { timer: Timer; end: () => void } | null = null;

  constructor(
    private readonly store: Pick<JobStore, 'enqueueAll'>,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly running: () => boolean,
    private readonly retryMs = 500,
    private readonly maxMs = 30_000,
  ) {}

  /** Resolves once written (after everything submitted before); rejects if refused for good. */
  add(effects: readonly Effect[]): Promise<void> {
    const now = this.clock.now();
    const done = new Promise<void>((resolve, reject) => this.queue.push({ effects, now, resolve, reject }));
    this.tail = done.catch(() => undefined);
    if (!this.writing) void this.drain();
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

  /** Writes what is queued, in order, as many submits per write as have arrived, until nothing is left. */
  private async drain(): Promise<void> {
    this.writing = true;
    // after the submit that started it: those of the same turn go with it
    await Promise.resolve();
    while (this.queue.length > 0) {
      let n = 0;
      let effects = 0;
      while (n < this.queue.length && (n === 0 || effects + this.queue[n]!.effects.length <= MAX_EFFECTS))
        effects += this.queue[n++]!.effects.length;
      const group = this.queue.splice(0, n);
      try {
        await this.attempt(group, this.retryMs);
        for (const q of group) q.resolve();
      } catch (err) {
        if (err instanceof TypeError && group.length > 1) await this.oneByOne(group);
        else for (const q of group) q.reject(err);
      }
    }
    this.writing = false;
  }

  /** A value in the group can never be written: each submit alone, so only the bad one is refused. */
  private async oneByOne(group: readonly Queued[]): Promise<void> {
    for (const q of group)
      try {
        await this.attempt([q], this.retryMs);
        q.resolve();
      } catch (err) {
        q.reject(err);
      }
  }

  private async attempt(submits: readonly Submitted[], delayMs: number): Promise<void> {
    for (;;) {
      try {
        await this.store.enqueueAll(submits.map(({ effects, now }) => ({ effects, now })));
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
