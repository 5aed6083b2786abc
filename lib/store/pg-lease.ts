/**
 * A lease in PostgreSQL: a session advisory lock held on a connection of its own, so it is
 * exactly as alive as that session. The holder dies (kill -9, a lost network, a
 * `pg_terminate_backend`): the server ends the session, the lock goes to the next waiter,
 * and the holder's `lost` signal aborts as its connection closes. Waiting happens in the
 * server (`pg_advisory_lock`), not in a polling loop.
 */
import pg from 'pg';
import type { Lease, LeaseOptions } from './store.js';

const noop = (): void => undefined;

/** The text an advisory lock's key is hashed from: a lease of a store's namespace. */
export function leaseKey(namespace: string, name: string): string {
  return `freeswitch-bitrix24:${namespace}:${name}`;
}

/** How a lease connection names its holder (`application_name`, at most 63 bytes): `fsb24@<instance>`. */
const HOLDER_PREFIX = 'fsb24@';
const NAME_MAX = 63;

/** The connection's application_name: the holder's instance when known (`check` reads it back). */
export function leaseApplicationName(name: string, holder?: string): string {
  return cut(holder ? `${HOLDER_PREFIX}${holder}` : `fsb24 lease ${name}`, NAME_MAX);
}

/** At most `max` bytes of UTF-8, never half a character. */
function cut(s: string, max: number): string {
  let out = s;
  while (Buffer.byteLength(out) > max) out = out.slice(0, -1);
  return out;
}

export async function pgLease(o: {
  url: string;
  /** Where the wait of a given-up lease is cancelled from (its own connection is busy waiting). */
  pool: pg.Pool;
  /** The lock's name (hashed into the advisory lock's key). */
  key: string;
  name: string;
  options: LeaseOptions;
  /** The connections of leases alive, closed with the database. */
  open: Set<pg.Client>;
}): Promise<Lease | null> {
  const { signal, wait = true } = o.options;
  signal?.throwIfAborted();
  const client = new pg.Client({
    connectionString: o.url,
    keepAlive: true,
    application_name: leaseApplicationName(o.name, o.options.holder),
  });
  const lost = new AbortController();
  let held = false;
  let done = false;
  const die = (err: Error): void => {
    o.open.delete(client);
    if (held && !done) lost.abort(err);
  };
  client.on('error', die);
  client.on('end', () => die(new Error(`the connection holding the lease ${o.name} ended`)));
  let pid: number | undefined;
  // a backend waiting for a lock does not notice its client leave: the wait is cancelled in the server
  const cancel = (): void => {
    if (pid !== undefined) o.pool.query('SELECT pg_cancel_backend($1)', [pid]).then(noop, noop);
  };
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    await client.connect();
    o.open.add(client);
    pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    signal?.throwIfAborted();
    if (!wait) {
      const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [
        o.key,
      ]);
      if (!r.rows[0]?.ok) {
        done = true;
        o.open.delete(client);
        await client.end().catch(noop);
        return null;
      }
    } else await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [o.key]);
    signal?.throwIfAborted(); // granted as the wait was given up: given back with the session
  } catch (err) {
    done = true;
    o.open.delete(client);
    await client.end().catch(noop);
    signal?.throwIfAborted();
    throw err;
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
  held = true;
  return {
    name: o.name,
    lost: lost.signal,
    release: async () => {
      if (done) return;
      done = true;
      o.open.delete(client);
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [o.key]).catch(noop);
      await client.end().catch(noop);
    },
  };
}

/** Who holds a lease (the instance its connection names), and who waits for it, as PostgreSQL says now. */
export interface LeaseState {
  holder: string | null;
  /** The application_name was cut at 63 bytes: `holder` is the start of the instance's name. */
  cut: boolean;
  waiting: string[];
}

/**
 * The leases `names` of the namespace `namespace` as the server sees them: pg_locks (granted or
 * waiting advisory locks on their keys) and pg_stat_activity (the application_name of each
 * session). Read from the server, never from a table: a dead holder's session and locks are gone
 * with it, so it is never reported as holding.
 */
export async function leaseStates(
  url: string,
  namespace: string,
  names: readonly string[],
  timeoutMs = 10_000,
): Promise<Map<string, LeaseState>> {
  const c = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    application_name: 'fsb24 check',
  });
  c.on('error', noop);
  await c.connect();
  try {
    const r = await c.query<{ name: string; granted: boolean; app: string | null; pid: number }>(
      `SELECT n.name, l.granted, a.application_name AS app, l.pid
       FROM unnest($1::text[], $2::text[]) AS n(name, key)
       CROSS JOIN LATERAL (SELECT hashtextextended(n.key, 0) AS k) h
       JOIN pg_locks l ON l.locktype = 'advisory' AND l.objsubid = 1
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
         AND l.classid::bigint = ((h.k >> 32) & 4294967295) AND l.objid::bigint = (h.k & 4294967295)
       LEFT JOIN pg_stat_activity a ON a.pid = l.pid
       ORDER BY n.name, l.granted DESC, a.backend_start`,
      [names, names.map((n) => leaseKey(namespace, n))],
    );
    const out = new Map<string, LeaseState>(names.map((n) => [n, { holder: null, cut: false, waiting: [] }]));
    for (const row of r.rows) {
      const s = out.get(row.name);
      if (!s) continue;
      const app = row.app ?? '';
      const who = app.startsWith(HOLDER_PREFIX) ? app.slice(HOLDER_PREFIX.length) : app || `pid ${row.pid}`;
      if (row.granted) {
        s.holder = who;
        s.cut = Buffer.byteLength(app) >= NAME_MAX;
      } else s.waiting.push(who);
    }
    return out;
  } finally {
    await c.end().catch(noop);
  }
}
