/**
 * Leases in memory with the semantics of PostgreSQL session advisory locks: one holder per
 * name, waiters granted in order when it is released or lost (the holder's connection
 * dropped: `drop(instance)` frees every lease it holds at once, as the server does).
 */
import type { Lease, Leases } from '../../lib/cluster/seat.js';

interface Held {
  instance: string;
  lose: () => void;
  released: boolean;
}

export class FakeLeaseTable {
  private readonly held = new Map<string, Held>();
  private readonly waiting = new Map<string, Array<{ instance: string; grant: () => void }>>();
  /** Every grant, in order: "<instance> <name>". */
  readonly grants: string[] = [];
  /** Set to make `acquire` reject (the database is down). */
  failing: Error | null = null;

  holder(name: string): string | null {
    return this.held.get(name)?.instance ?? null;
  }

  /** The instance's view: what its Seat gets. */
  for(instance: string): Leases {
    return {
      acquire: (name, signal) => this.acquire(instance, name, signal),
    };
  }

  /** The instance's connection dropped: everything it holds is free now. */
  drop(instance: string): void {
    for (const [name, h] of [...this.held]) if (h.instance === instance) this.free(name, h, true);
  }

  private acquire(instance: string, name: string, signal: AbortSignal): Promise<Lease> {
    if (this.failing) return Promise.reject(this.failing);
    return new Promise((resolve, reject) => {
      const grant = (): void => {
        signal.removeEventListener('abort', onAbort);
        let lose: () => void = () => undefined;
        const lost = new Promise<void>((r) => (lose = r));
        const h: Held = { instance, lose, released: false };
        this.held.set(name, h);
        this.grants.push(`${instance} ${name}`);
        resolve({ lost, release: async () => this.free(name, h, false) });
      };
      const onAbort = (): void => {
        const q = this.waiting.get(name) ?? [];
        this.waiting.set(
          name,
          q.filter((w) => w.grant !== grant),
        );
        reject(new Error('aborted'));
      };
      if (signal.aborted) return reject(new Error('aborted'));
      signal.addEventListener('abort', onAbort);
      if (!this.held.has(name)) return grant();
      this.waiting.set(name, [...(this.waiting.get(name) ?? []), { instance, grant }]);
    });
  }

  private free(name: string, h: Held, lost: boolean): void {
    if (h.released || this.held.get(name) !== h) return;
    h.released = true;
    this.held.delete(name);
    if (lost) h.lose();
    const next = this.waiting.get(name)?.shift();
    next?.grant();
  }
}
