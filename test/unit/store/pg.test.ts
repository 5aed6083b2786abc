/**
 * What only the PostgreSQL store can show, against a real server (test/helpers/pg.ts): two
 * instances migrating one empty database at once, a lease holder killed (`kill -9` of an
 * instance = its sessions ended: `pg_terminate_backend`), a wait given up inside the
 * server, the LISTEN connection lost and back, a schema left behind, a connect state used by two
 * instances at the same moment.
 */
import t from 'tap';
import pg from 'pg';
import { PgDatabase } from '../../../lib/store/pg-db.js';
import { PgStore } from '../../../lib/store/pg.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../../lib/store/pg-schema.js';
import { ManualClock } from '../../../lib/clock.js';
import { testDatabase } from '../../helpers/pg.js';

async function client(t: { teardown: (f: () => unknown) => void }, url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  t.teardown(() => c.end());
  return c;
}

/** Resolves once `n` sessions wait for an advisory lock in the server (read from pg_locks, no sleeping). */
async function waitersInServer(c: pg.Client, n: number): Promise<void> {
  for (;;) {
    const r = await c.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
    );
    if (r.rows[0]!.n >= n) return;
  }
}

t.test('two instances migrating one empty database at once: each migration applied once', async (t) => {
  const url = await testDatabase(t);
  const admin = await client(t, url);
  // hold the migration lock, so both instances are surely inside migrate at the same time
  await admin.query('BEGIN');
  await admin.query("SELECT pg_advisory_xact_lock(hashtextextended('freeswitch-bitrix24:migrations', 0))");
  const a = new PgDatabase(url);
  const b = new PgDatabase(url);
  t.teardown(() => Promise.all([a.close(), b.close()]));
  const both = Promise.all([a.migrated(), b.migrated()]);
  await waitersInServer(admin, 2);
  await admin.query('COMMIT');
  await both; // without the lock the second would fail: CREATE TABLE of a table that exists
  const versions = await admin.query<{ version: number }>('SELECT version FROM fsb24_migrations ORDER BY version');
  t.same(
    versions.rows.map((r) => r.version),
    MIGRATIONS.map((m) => m.version),
    'one row per migration',
  );
  const s = new PgStore(url, '');
  t.teardown(() => s.close());
  t.equal(await s.enqueue([{ kind: 'show', call: 'c', extensions: ['1001'] }], 1), 1, 'the schema works');
  const again = new PgDatabase(url);
  await again.migrated();
  await again.close();
  t.equal(versions.rows.length, SCHEMA_VERSION, 'a later start finds nothing to do');
});

t.test("a store that may not migrate says the schema isn't there yet", async (t) => {
  const url = await testDatabase(t);
  const s = new PgStore(url, '', { migrate: false });
  t.teardown(() => s.close());
  await t.rejects(s.stats(), /schema version 0, this version needs \d+: start the service once/);
});

t.test('a lease holder killed: its lease is lost, the waiter gets it', async (t) => {
  const url = await testDatabase(t);
  const admin = await client(t, url);
  const a = new PgStore(url, 'x');
  const b = new PgStore(url, 'x');
  t.teardown(() => Promise.all([a.close(), b.close()]));
  const held = await a.lease('switch:fs1');
  const lost = new Promise<unknown>((r) => held!.lost.addEventListener('abort', () => r(held!.lost.reason)));
  const waiting = b.lease('switch:fs1');
  await waitersInServer(admin, 1);
  const killed = await admin.query(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'fsb24 lease switch:fs1' " +
      "AND state = 'idle' AND datname = current_database()",
  );
  t.equal(killed.rowCount, 1, "the holder's session, not the waiter's");
  t.match(await lost, { message: /terminating connection/ }, 'the holder learns it lost the lease, and why');
  const next = await waiting;
  t.equal(next?.name, 'switch:fs1', 'the waiter holds it');
  t.equal(next!.lost.aborted, false);
  await held!.release(); // a release after the loss changes nothing
  t.equal(await a.lease('switch:fs1', { wait: false }), null, 'still held by the waiter');
  await next!.release();
});

t.test('a wait given up inside the server leaves nobody waiting there', async (t) => {
  const url = await testDatabase(t);
  const admin = await client(t, url);
  const s = new PgStore(url, 'x');
  t.teardown(() => s.close());
  const held = await s.lease('portal');
  const stop = new AbortController();
  const waiting = s.lease('portal', { signal: stop.signal });
  await waitersInServer(admin, 1);
  stop.abort(new Error('stopping'));
  await t.rejects(waiting, /stopping/);
  await held!.release();
  const free = await s.lease('portal', { wait: false });
  t.ok(free, 'free: the given-up wait did not take it when it was released');
  await free!.release();
});

t.test('a connect state used by two instances at the same moment: the one that waited finds it used', async (t) => {
  const url = await testDatabase(t);
  const admin = await client(t, url);
  const s = new PgStore(url, 'x');
  t.teardown(() => s.close());
  await s.connectStates.create('st', 10_000, 1000);
  await s.connectStates.create('st2', 10_000, 1000);
  const waiting = async (): Promise<void> => {
    for (;;) {
      const r = await admin.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity ' +
          "WHERE wait_event_type = 'Lock' AND datname = current_database()",
      );
      if (r.rows[0]!.n >= 1) return;
    }
  };
  // another instance's use, caught between its update and its commit: this one waits for the row
  const other = await client(t, url);
  await other.query('BEGIN');
  await other.query("UPDATE fsb24_connect_states SET used = true WHERE ns = 'x' AND state = 'st' AND NOT used");
  const mine = s.connectStates.consume('st', 2000);
  await waiting();
  await other.query('COMMIT');
  t.equal(await mine, 'used', 'the row as its statement began was unused, but the other won');
  // the other's use rolled back: the waiter gets the state
  await other.query('BEGIN');
  await other.query("UPDATE fsb24_connect_states SET used = true WHERE ns = 'x' AND state = 'st2' AND NOT used");
  const second = s.connectStates.consume('st2', 2000);
  await waiting();
  await other.query('ROLLBACK');
  t.equal(await second, 'ok');
});

t.test('the LISTEN connection killed: listeners hear that they may have missed signals, then hear again', async (t) => {
  const url = await testDatabase(t);
  const admin = await client(t, url);
  const clock = new ManualClock();
  const s = new PgStore(url, 'x', { clock });
  t.teardown(() => s.close());
  const heard: Array<string | null> = [];
  let wake: () => void = () => undefined;
  const next = (): Promise<void> => new Promise((r) => (wake = r));
  let got = next();
  const stop = await s.listen('wake', (p) => {
    heard.push(p);
    wake();
  });
  t.teardown(stop);
  await s.notify('wake', 'one');
  await got;
  got = next();
  await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'fsb24 listen'");
  let back = false;
  void got.then(() => (back = true));
  while (!back) await clock.advance(1000); // the reconnect waits on the store's clock; the connection is real
  t.same(heard, ['one', null], 'told to read the state again');
  got = next();
  await s.notify('wake', 'two');
  await got;
  t.same(heard, ['one', null, 'two'], 'listening again');
});
