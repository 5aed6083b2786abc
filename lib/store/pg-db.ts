/**
 * One PostgreSQL database as the stores of a process share it: a pool for the queries, the
 * schema migrated once before the first one, a connection of its own for each lease (a
 * session advisory lock lives and dies with its session) and one for LISTEN. Stores of the
 * same URL in one process share one `PgDatabase` (`acquire`/`release`), whatever their
 * namespace.
 */
import pg from 'pg';
import { realClock, type Clock, type Timer } from '../clock.js';
import { migrate, schemaVersion, SCHEMA_VERSION } from './pg-schema.js';
import { pgLease } from './pg-lease.js';
import type { Lease, LeaseOptions } from './store.js';

/** The physical channel every signal travels on (its logical channel and namespace in the payload). */
const CHANNEL = 'fsb24_signals';
const MAX_PAYLOAD = 7000;

export interface PgOptions {
  /** Migrate the schema before the first query (the service); false: only check it is current (`check`). */
  migrate?: boolean;
  /** Connections of the pool (default 10). */
  max?: number;
  clock?: Clock;
}

type Listener = (ns: string, channel: string, payload: string | null) => void;

export class PgDatabase {
  readonly pool: pg.Pool;
  private ready: Promise<void> | null = null;
  private readonly leases = new Set<pg.Client>();
  private listener: Promise<pg.Client> | null = null;
  private readonly listeners = new Set<Listener>();
  private relisten: Timer | null = null;
  private closed = false;
  private users = 0;
  private readonly clock: Clock;

  constructor(
    readonly url: string,
    private readonly o: PgOptions = {},
  ) {
    this.clock = o.clock ?? realClock;
    this.pool = new pg.Pool({ connectionString: url, max: o.max ?? 10, keepAlive: true });
    // an idle connection that dies is dropped by the pool; the next query opens another (and fails if it must)
    this.pool.on('error', () => undefined);
  }

  /** The schema is current: migrated once (the service), or checked (`migrate: false`). Retried after a failure. */
  migrated(): Promise<void> {
    this.ready ??= this.prepare().catch((err: unknown) => {
      this.ready = null;
      throw err;
    });
    return this.ready;
  }

  private async prepare(): Promise<void> {
    const c = await this.pool.connect();
    try {
      if (this.o.migrate !== false) await migrate(c);
      else {
        const v = await schemaVersion(c);
        if (v < SCHEMA_VERSION)
          throw new Error(
            `the database is at schema version ${v}, this version needs ${SCHEMA_VERSION}: start the service once`,
          );
      }
    } finally {
      c.release();
    }
  }

  /** One query, after the schema is current. */
  async query<R extends pg.QueryResultRow>(name: string, text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    await this.migrated();
    return this.pool.query<R>({ name, text, values });
  }

  /** `fn` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.migrated();
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  /** A session advisory lock on a connection of its own (./pg-lease.ts). */
  lease(key: string, name: string, options: LeaseOptions = {}): Promise<Lease | null> {
    return pgLease({ url: this.url, pool: this.pool, key, name, options, open: this.leases });
  }

  async notify(ns: string, channel: string, payload: string): Promise<void> {
    if (Buffer.byteLength(payload) > MAX_PAYLOAD) throw new Error(`a signal carries at most ${MAX_PAYLOAD} bytes`);
    await this.pool.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ n: ns, c: channel, p: payload })]);
  }

  /** Every signal of this database from the moment this resolves (one LISTEN connection per process). */
  async listen(fn: Listener): Promise<() => Promise<void>> {
    this.listeners.add(fn);
    try {
      await this.listening();
    } catch (err) {
      this.listeners.delete(fn);
      throw err;
    }
    return async () => {
      this.listeners.delete(fn);
    };
  }

  private listening(): Promise<pg.Client> {
    this.listener ??= this.connectListener().catch((err: unknown) => {
      this.listener = null;
      throw err;
    });
    return this.listener;
  }

  private async connectListener(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.url, keepAlive: true, application_name: 'fsb24 listen' });
    let down = false;
    const gone = (): void => {
      if (down) return;
      down = true;
      this.listener = null;
      void client.end().catch(() => undefined);
      if (!this.closed) this.reconnect(1000);
    };
    client.on('error', gone);
    client.on('end', gone);
    client.on('notification', (m) => {
      if (m.channel !== CHANNEL || !m.payload) return;
      let s: { n?: unknown; c?: unknown; p?: unknown };
      try {
        s = JSON.parse(m.payload) as typeof s;
      } catch {
        return; // not one of ours
      }
      if (typeof s.n !== 'string' || typeof s.c !== 'string' || typeof s.p !== 'string') return;
      for (const fn of [...this.listeners]) fn(s.n, s.c, s.p);
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    return client;
  }

  /** The listening connection was lost: back as soon as the database lets it, then tell every listener. */
  private reconnect(delayMs: number): void {
    this.clock.clearTimeout(this.relisten);
    this.relisten = this.clock.setTimeout(() => {
      this.relisten = null;
      if (this.closed || this.listeners.size === 0) return;
      this.listening().then(
        () => {
          for (const fn of [...this.listeners]) fn('', '', null);
        },
        () => this.reconnect(Math.min(delayMs * 2, 30_000)),
      );
    }, delayMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.clock.clearTimeout(this.relisten);
    const listener = this.listener;
    this.listener = null;
    await Promise.all([
      ...[...this.leases].map((c) => c.end().catch(() => undefined)),
      listener?.then((c) => c.end()).catch(() => undefined),
      this.pool.end(),
    ]);
  }

  // ---- one database per URL in a process, shared by its stores --------------------------------------

  private static readonly shared = new Map<string, PgDatabase>();

  static acquire(url: string, o: PgOptions = {}): PgDatabase {
    const key = `${url}\0${o.migrate === false ? 'check' : 'migrate'}`;
    let db = PgDatabase.shared.get(key);
    if (!db) {
      db = new PgDatabase(url, o);
      PgDatabase.shared.set(key, db);
    }
    db.users++;
    return db;
  }

  async release(): Promise<void> {
    if (--this.users > 0) return;
    for (const [k, v] of PgDatabase.shared) if (v === this) PgDatabase.shared.delete(k);
    await this.close();
  }
}
