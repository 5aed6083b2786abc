/**
 * This instance among several on one database: its name, its seats (one per switch, one per
 * portal) and the mailbox through which any instance reaches a seat's holder. Holders
 * announce themselves when they take a seat and when they leave it, and answer a newcomer's
 * question, so /healthz says who holds what without asking the database.
 */
import { hostname } from 'node:os';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { Mailbox, type Bus, type Claims } from './mailbox.js';
import { Seat, type Leases, type Role } from './seat.js';

/** What a database shared by several instances offers them (PostgreSQL: advisory locks, LISTEN/NOTIFY, inserts). */
export interface Shared {
  leases: Leases;
  bus: Bus;
  claims: Claims;
}

/** What the store offers (lib/store: `lease`, `notify`/`listen`, `claim`), in the store's own shapes. */
export interface SharingStore {
  lease(
    name: string,
    o?: { wait?: boolean; signal?: AbortSignal; holder?: string },
  ): Promise<{ lost: AbortSignal; release(): Promise<void> } | null>;
  notify(channel: string, payload: string): Promise<void>;
  listen(channel: string, fn: (payload: string | null) => void): Promise<() => Promise<void>>;
  claim(key: string, value: unknown): Promise<boolean>;
}

/**
 * The cluster's ports on a store shared by the instances (PostgreSQL); each lease taken names
 * `instance` as its holder (`check` reads it from the server).
 */
export function sharedOf(store: SharingStore, instance: string): Shared {
  return {
    leases: {
      async acquire(name, signal) {
        const l = await store.lease(name, { signal, holder: instance });
        if (!l) throw new Error(`lease ${name} not granted`);
        const lost = new Promise<void>((resolve) => {
          if (l.lost.aborted) resolve();
          else l.lost.addEventListener('abort', () => resolve(), { once: true });
        });
        return { lost, release: () => l.release() };
      },
      async tryAcquire(name) {
        const l = await store.lease(name, { wait: false, holder: instance });
        if (!l) return null;
        const lost = new Promise<void>((resolve) => {
          if (l.lost.aborted) resolve();
          else l.lost.addEventListener('abort', () => resolve(), { once: true });
        });
        return { lost, release: () => l.release() };
      },
    },
    bus: { notify: (c, p) => store.notify(c, p), listen: (c, fn) => store.listen(c, fn) },
    claims: { claim: (k, v) => store.claim(k, v) },
  };
}

export interface ClusterOptions {
  /** FSB24_INSTANCE_ID; empty: <hostname>:<pid>. */
  instance: string;
  leases: Leases;
  bus: Bus;
  claims: Claims;
  clock: Clock;
  log: Logger;
  /** After a role went deaf, how long before its lease is asked for again. */
  backOffMs?: number;
}

/** The part of /healthz a cluster adds. */
export interface ClusterHealth {
  instance: string;
  /** The leases this instance holds. */
  holds: string[];
  /** Every seat's holder as last announced (null: nobody, as far as this instance knows). */
  holders: Record<string, string | null>;
}

export function instanceName(configured: string): string {
  return configured || `${hostname()}:${process.pid}`;
}

export class Cluster {
  readonly instance: string;
  readonly mailbox: Mailbox;
  private readonly seats = new Map<string, Seat>();
  private readonly watchers: Array<(h: ClusterHealth) => void> = [];
  private started = false;

  constructor(private readonly o: ClusterOptions) {
    this.instance = o.instance;
    this.mailbox = new Mailbox({
      instance: o.instance,
      bus: o.bus,
      claims: o.claims,
      clock: o.clock,
      log: o.log.child({ mod: 'cluster' }),
      onWho: () => {
        for (const s of this.seats.values()) if (s.holding) void this.announce(s.name, true);
      },
    });
  }

  /** A seat for `lease`; its role is taken only while this instance holds the lease. */
  seat(lease: string, role: Role): Seat {
    if (this.seats.has(lease)) throw new Error(`a second seat for ${lease}`);
    const s = new Seat({
      name: lease,
      leases: this.o.leases,
      clock: this.o.clock,
      log: this.o.log.child({ mod: 'cluster' }),
      ...(this.o.backOffMs !== undefined ? { backOffMs: this.o.backOffMs } : {}),
      onChange: () => {
        const h = this.health();
        for (const w of this.watchers) w(h);
      },
      role: {
        // announced once the role listens on its box: what waited for a holder is sent again
        take: async (deaf) => {
          await role.take(deaf);
          await this.announce(lease, true);
        },
        leave: async () => {
          await role.leave();
          await this.announce(lease, false);
        },
      },
    });
    this.seats.set(lease, s);
    if (this.started) void s.start();
    return s;
  }

  /** Told after every take and leave of a seat here (the instance's test harness reports it). */
  onChange(fn: (h: ClusterHealth) => void): void {
    this.watchers.push(fn);
  }

  holds(lease: string): boolean {
    return this.seats.get(lease)?.holding ?? false;
  }

  async start(): Promise<void> {
    this.started = true;
    await this.mailbox.start();
    await this.mailbox.askWho().catch((err: unknown) => this.o.log.warn({ err }, 'cluster: holders not asked'));
    // free leases are taken before this resolves (a lone instance starts as it always did)
    await Promise.all([...this.seats.values()].map((s) => s.start()));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.seats.values()].map((s) => s.stop()));
    await this.mailbox.stop();
  }

  health(): ClusterHealth {
    const holders: Record<string, string | null> = {};
    for (const name of this.seats.keys())
      holders[name] = this.holds(name) ? this.instance : this.mailbox.holderOf(name);
    return {
      instance: this.instance,
      holds: [...this.seats.values()].filter((s) => s.holding).map((s) => s.name),
      holders,
    };
  }

  private async announce(lease: string, holding: boolean): Promise<void> {
    await this.mailbox
      .announce(lease, holding)
      .catch((err: unknown) => this.o.log.warn({ err, lease }, 'cluster: lease not announced'));
  }
}
