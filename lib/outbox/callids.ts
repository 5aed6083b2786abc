/**
 * The CALL_ID of each call: a bounded cache in front of the store, and waiters for a
 * CALL_ID still to come (click-to-call waits for the register of its call). With a backlog
 * the planner asks about every call with pending jobs on every plan: a CALL_ID the store
 * does not have is not asked again until one is learnt, and the card history of a call (the
 * register's user and the cards that landed) is read once until a job of the call lands.
 */
import type { Clock } from '../clock.js';
import type { CallIdStore, JobStore } from '../store/store.js';
import type { CardHistory } from './plan.js';

export class CallIds {
  private readonly cache = new Map<string, string>();
  /**
   * Calls the store had no CALL_ID for when the planner asked. Every CALL_ID this outbox's
   * calls get comes through `set`, so a miss stays one until then (or a new tenure: `forget`).
   */
  private readonly missing = new Set<string>();
  private readonly histories = new Map<string, CardHistory>();
  /** Histories being read, and those a job of the call landed meanwhile (such a read is used, not kept). */
  private readonly reading = new Set<string>();
  private readonly stale = new Set<string>();
  private readonly waiters = new Map<string, Array<(id: string) => void>>();

  constructor(
    private readonly store: CallIdStore & Pick<JobStore, 'cardHistory' | 'markDone'>,
    private readonly clock: Clock,
    private readonly max = 20_000,
  ) {}

  /** Known CALL_ID of a call, or null. */
  async get(call: string): Promise<string | null> {
    const cached = this.cache.get(call);
    if (cached) return cached;
    const stored = await this.store.callId(call);
    if (stored) this.remember(call, stored);
    return stored;
  }

  /** The known CALL_IDs of these calls: the cache, then one read of the store for the rest. */
  async many(calls: Iterable<string>): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const missing: string[] = [];
    for (const call of calls) {
      const cached = this.cache.get(call);
      if (cached) out.set(call, cached);
      else if (!this.missing.has(call)) missing.push(call);
    }
    if (missing.length === 0) return out;
    const found = await this.store.callIds(missing);
    for (const call of missing) {
      const id = found.get(call);
      if (id) {
        this.remember(call, id);
        out.set(call, id);
      } else if (!this.cache.has(call)) this.miss(call); // unless `set` learnt it meanwhile
    }
    return out;
  }

  /** Learnt (register landed, or an adopt): stored first, then waiters told. */
  async set(call: string, id: string, userId: number | null): Promise<void> {
    await this.store.setCallId(call, id, userId, this.clock.now());
    this.remember(call, id);
    const list = this.waiters.get(call);
    this.waiters.delete(call);
    for (const w of list ?? []) w(id);
  }

  /** Resolves with the CALL_ID once known; null at the deadline. */
  async wait(call: string, timeoutMs: number): Promise<string | null> {
    // the cache again: learnt while the store was read
    const known = (await this.get(call)) ?? this.cache.get(call);
    if (known) return known;
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        const list = this.waiters.get(call)?.filter((w) => w !== got);
        if (list && list.length > 0) this.waiters.set(call, list);
        else this.waiters.delete(call);
        resolve(null);
      }, timeoutMs);
      const got = (id: string): void => {
        this.clock.clearTimeout(timer);
        resolve(id);
      };
      this.waiters.set(call, [...(this.waiters.get(call) ?? []), got]);
    });
  }

  /** What the portal was told of a call's card so far: read from the store once until a job of the call lands. */
  async history(call: string): Promise<CardHistory> {
    const known = this.histories.get(call);
    if (known) return known;
    this.reading.add(call);
    const h = await this.store.cardHistory(call).finally(() => this.reading.delete(call));
    if (!this.stale.delete(call)) {
      this.histories.set(call, h);
      if (this.histories.size > this.max) this.histories.delete(this.histories.keys().next().value as string);
    }
    return h;
  }

  /** A job landed (or has nothing to send): done in the store, and its call's card history read again. */
  async landed(job: { id: number; call: string }): Promise<void> {
    await this.store.markDone(job.id);
    this.histories.delete(job.call);
    if (this.reading.has(job.call)) this.stale.add(job.call);
  }

  /** A new tenure (several instances): what another instance learnt meanwhile is in the store; ask it again. */
  forget(): void {
    this.missing.clear();
    this.histories.clear();
  }

  private miss(call: string): void {
    this.missing.add(call);
    if (this.missing.size > this.max) this.missing.delete(this.missing.values().next().value as string);
  }

  private remember(call: string, id: string): void {
    this.missing.delete(call);
    this.cache.delete(call);
    this.cache.set(call, id);
    // the store is the record; the cache keeps the most recent calls only
    if (this.cache.size > this.max) this.cache.delete(this.cache.keys().next().value as string);
  }
}
