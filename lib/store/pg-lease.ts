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
    application_name: `fsb24 lease ${o.name}`.slice(0, 63),
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
