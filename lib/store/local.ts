/**
 * Leases and signals where one process owns the store (SQLite): a lease is exclusive among
 * the holders of this process, a signal reaches the listeners of this process. Keyed by the
 * database (its file), so two stores opened on one file share them as they share the rows.
 */
import type { Lease, LeaseOptions, Signals } from './store.js';

interface Held {
  waiters: Array<() => void>;
}

const held = new Map<string, Held>();
const listeners = new Map<string, Set<(payload: string | null) => void>>();

const MAX_PAYLOAD = 7000;

/** The lease `name` of the database `db`, exclusive within this process. */
export async function localLease(db: string, name: string, o: LeaseOptions = {}): Promise<Lease | null> {
  o.signal?.throwIfAborted();
  const key = `${db}\0${name}`;
  const current = held.get(key);
  if (current) {
    if (o.wait === false) return null;
    await new Promise<void>((resolve, reject) => {
      const granted = (): void => {
        o.signal?.removeEventListener('abort', abort);
        resolve();
      };
      const abort = (): void => {
        current.waiters = current.waiters.filter((w) => w !== granted);
        reject(o.signal?.reason as Error);
      };
      o.signal?.addEventListener('abort', abort, { once: true });
      current.waiters.push(granted);
    });
  } else held.set(key, { waiters: [] });
  let released = false;
  return {
    name,
    lost: new AbortController().signal, // nothing can take it away inside one process
    async release() {
      if (released) return;
      released = true;
      const h = held.get(key);
      const next = h?.waiters.shift();
      if (next)
        next(); // handed over: stays held
      else held.delete(key);
    },
  };
}

/** Signals between the stores of one database in this process. */
export function localSignals(db: string): Signals {
  return {
    async notify(channel, payload) {
      if (Buffer.byteLength(payload) > MAX_PAYLOAD) throw new Error(`a signal carries at most ${MAX_PAYLOAD} bytes`);
      for (const fn of [...(listeners.get(`${db}\0${channel}`) ?? [])]) queueMicrotask(() => fn(payload));
    },
    async listen(channel, fn) {
      const key = `${db}\0${channel}`;
      const set = listeners.get(key) ?? new Set();
      listeners.set(key, set);
      const own = (p: string | null): void => fn(p); // one registration per call, even of the same fn
      set.add(own);
      return async () => {
        set.delete(own);
        if (set.size === 0) listeners.delete(key);
      };
    },
  };
}
