/**
 * The PostgreSQL schema as numbered migrations, applied in order by the service at start
 * (`migrate`), each once: under a transaction-scoped advisory lock, so instances starting
 * together apply each migration exactly once and the others wait, then find it applied.
 * A migration is never edited once released: a change is a new one at the end.
 *
 * One database serves every portal: each row carries its namespace (`ns`, '' for the
 * service and its one portal, the portal's host with FSB24_TENANTS), and every query names
 * it, so stores of two portals never see each other's rows.
 */
import pg, { type PoolClient } from 'pg';

export const MIGRATIONS: ReadonlyArray<{ version: number; what: string; sql: string }> = [
  {
    version: 1,
    what: 'outbox jobs, CALL_IDs, key-value (tokens, secrets, offline bookkeeping), offline inbox',
    sql: `
      CREATE TABLE fsb24_jobs (
        ns text NOT NULL,
        id bigserial PRIMARY KEY,
        call text NOT NULL,
        kind text NOT NULL,
        payload text NOT NULL,
        idem text,
        state text NOT NULL DEFAULT 'pending',
        attempts integer NOT NULL DEFAULT 0,
        next_at bigint NOT NULL DEFAULT 0,
        created_at bigint NOT NULL,
        last_error text,
        UNIQUE (ns, idem)
      );
      -- pending in order, the latest failed, the counts by state
      CREATE INDEX fsb24_jobs_state ON fsb24_jobs (ns, state, id) INCLUDE (created_at);
      -- a call's jobs: its card history, its register, its finish
      CREATE INDEX fsb24_jobs_call ON fsb24_jobs (ns, call, kind);
      CREATE TABLE fsb24_calls (
        ns text NOT NULL,
        call text NOT NULL,
        b24_call_id text,
        user_id bigint,
        updated_at bigint NOT NULL,
        PRIMARY KEY (ns, call)
      );
      CREATE TABLE fsb24_kv (ns text NOT NULL, key text NOT NULL, value text NOT NULL, PRIMARY KEY (ns, key));
      CREATE TABLE fsb24_inbox (
        ns text NOT NULL,
        record_id bigint NOT NULL,
        message_id text NOT NULL,
        payload text NOT NULL,
        state text NOT NULL DEFAULT 'accepted',
        created_at bigint NOT NULL,
        PRIMARY KEY (ns, record_id)
      );`,
  },
  {
    version: 2,
    what: "the browser connect's one-time states (a digest of each), shared by every instance",
    sql: `
      CREATE TABLE fsb24_connect_states (
        ns text NOT NULL,
        state text NOT NULL,
        expires_at bigint NOT NULL,
        used boolean NOT NULL DEFAULT false,
        PRIMARY KEY (ns, state)
      );
      -- the purge of expired states
      CREATE INDEX fsb24_connect_states_expiry ON fsb24_connect_states (ns, expires_at);`,
  },
];

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The advisory lock key migrations run under (any two instances of this service agree on it). */
const MIGRATION_LOCK = "hashtextextended('freeswitch-bitrix24:migrations', 0)";

/** Apply what is missing, in one transaction; returns the versions applied (none: up to date). */
export async function migrate(
  c: PoolClient,
  migrations: ReadonlyArray<{ version: number; sql: string }> = MIGRATIONS,
): Promise<number[]> {
  const applied: number[] = [];
  await c.query('BEGIN');
  try {
    await c.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await c.query(
      'CREATE TABLE IF NOT EXISTS fsb24_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)',
    );
    const r = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM fsb24_migrations');
    const at = r.rows[0]?.v ?? 0;
    for (const m of migrations) {
      if (m.version <= at) continue;
      await c.query(m.sql);
      await c.query('INSERT INTO fsb24_migrations (version, applied_at) VALUES ($1, now())', [m.version]);
      applied.push(m.version);
    }
    await c.query('COMMIT');
    return applied;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** The version a database is at (0: never migrated), without changing it. */
export async function schemaVersion(c: Pick<PoolClient, 'query'>): Promise<number> {
  const t = await c.query<{ t: string | null }>("SELECT to_regclass('fsb24_migrations') AS t");
  if (!t.rows[0]?.t) return 0;
  const r = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM fsb24_migrations');
  return r.rows[0]?.v ?? 0;
}

/** A database as `check` sees it: the server's version and the schema's, without changing anything. */
export async function inspectDatabase(
  url: string,
  timeoutMs = 10_000,
): Promise<{ server: string; version: number; current: number }> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  c.on('error', () => undefined); // a connection lost after the answers changes nothing here
  await c.connect();
  try {
    const server = (await c.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?';
    return { server, version: await schemaVersion(c), current: SCHEMA_VERSION };
  } finally {
    await c.end().catch(() => undefined);
  }
}
