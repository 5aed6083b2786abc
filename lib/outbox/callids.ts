/**
 * The CALL_ID of each call: a bounded cache in front of the store, and waiters for a
 * CALL_ID still to come (click-to-call waits for the register of its call).
 */
import type { Clock } from '../clock.js';
import type { CallIdStore } from '../store/store.js';

export class CallIds {
  private readonly cache = new Map<string, string>();
  private readonly waiters = new Map<string, Array<(id: string) => void>>();

  constructor(
    private readonly store: CallIdStore,
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
      else missing.push(call);
    }
    if (missing.length === 0) return out;
    for (const [call, id] of await this.store.callIds(missing)) {
      this.remember(call, id);
      out.set(call, id);
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

  private remember(call: string, id: string): void {
    this.cache.delete(call);
    this.cache.set(call, id);
    // the store is the record; the cache keeps the most recent calls only
    if (this.cache.size > this.max) this.cache.delete(this.cache.keys().next().value as string);
  }
}
