/**
 * The CALL_ID of each call: a bounded cache in front of the store, and waiters for a
 * CALL_ID still to come (click-to-call waits for the register of its call). With a backlog
 * the planner asks about every call with pending jobs on every plan: a CALL_ID the store
 * does not have is not asked again until one is learnt, and the card history of a call (the
 * register's user and the cards that landed) is read once until a job of the call lands. What a request
 * or a plan leaves to write or read goes in one round trip (`settle`, `histories`).
 */
import type { Clock } from '../clock.js';
import type { CallIdStore, JobStore, LearntCallId } from '../store/store.js';
import type { CardHistory } from './plan.js';

const NONE: CardHistory = { registerUser: null, effects: [] };

export class CallIds {
  private readonly cache = new Map<string, string>();
  /**
   * Calls the store had no CALL_ID for when the planner asked. Every CALL_ID this outbox's
   * calls get comes through `set`, so a miss stays one until then (or a new tenure: `forget`).
   */
  private readonly missing = new Set<string>();
  private readonly cards = new Map<string, CardHistory>();
  /** Histories being read, and those a job of the call landed meanwhile (such a read is used, not kept). */
  private readonly reading = new Set<string>();
  private readonly stale = new Set<string>();
  private readonly waiters = new Map<string, Array<(id: string) => void>>();

  constructor(
    private readonly store: Pick<CallIdStore, 'callId' | 'callIds'> & Pick<JobStore, 'cardHistories' | 'markDoneAll'>,
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
  set(call: string, b24CallId: string, userId: number | null): Promise<void> {
    return this.settle([{ call, b24CallId, userId }], []);
  }

  /**
   * CALL_IDs learnt and jobs that landed (or have nothing to send), in one write of the store (each
   * CALL_ID in the same commit as the jobs done); then the waiters are told and the card histories of
   * the jobs' calls read again.
   */
  async settle(learnt: readonly LearntCallId[], jobs: ReadonlyArray<{ id: number; call: string }>): Promise<void> {
    if (learnt.length === 0 && jobs.length === 0) return;
    const ids = jobs.map((j) => j.id);
    await this.store.markDoneAll(ids, learnt, this.clock.now());
    for (const { call, b24CallId } of learnt) {
      this.remember(call, b24CallId);
      const list = this.waiters.get(call);
      this.waiters.delete(call);
      for (const w of list ?? []) w(b24CallId);
    }
    for (const job of jobs) {
      this.cards.delete(job.call);
      if (this.reading.has(job.call)) this.stale.add(job.call);
    }
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
    return (await this.histories([call])).get(call)!;
  }

  /** The card histories of these calls: those known, and one read of the store for the rest. */
  async histories(calls: Iterable<string>): Promise<Map<string, CardHistory>> {
    const out = new Map<string, CardHistory>();
    const unknown = new Set<string>();
    for (const call of calls) {
      const known = this.cards.get(call);
      if (known) out.set(call, known);
      else unknown.add(call);
    }
    if (unknown.size === 0) return out;
    const read = [...unknown];
    for (const call of read) this.reading.add(call);
    const found = await this.store.cardHistories(read).finally(() => {
      for (const call of read) this.reading.delete(call);
    });
    for (const call of read) {
      const h = found.get(call) ?? NONE;
      out.set(call, h);
      if (this.stale.delete(call)) continue; // a job of the call landed while it was read: used, not kept
      this.cards.set(call, h);
      if (this.cards.size > this.max) this.cards.delete(this.cards.keys().next().value as string);
    }
    return out;
  }

  /** A job landed (or has nothing to send): done in the store, and its call's card history read again. */
  landed(job: { id: number; call: string }): Promise<void> {
    return this.settle([], [job]);
  }

  /** A new tenure (several instances): what another instance learnt meanwhile is in the store; ask it again. */
  forget(): void {
    this.missing.clear();
    this.cards.clear();
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
