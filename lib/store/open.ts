/**
 * Which store the service runs on: PostgreSQL when FSB24_DATABASE_URL is set (one database,
 * a namespace per portal), else SQLite in FSB24_DATA_DIR (a file per portal folder).
 */
import type { ConfigShape } from '../config.js';
import { PgStore } from './pg.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

/** Where one portal's state lives: its folder (SQLite) and its namespace in a shared database. */
export interface StoreAt {
  dir: string;
  namespace: string;
}

export function openStore(
  c: Pick<ConfigShape, 'database'>,
  at: StoreAt,
  /** false (`check`): a database whose schema is not current is reported, not migrated. */
  o: { migrate?: boolean } = {},
): Store {
  return c.database.url ? new PgStore(c.database.url, at.namespace, o) : new SqliteStore(at.dir);
}

/** What the log may say of the store: the database's host and name, never its user or password. */
export function storeLabel(c: Pick<ConfigShape, 'database' | 'dataDir'>): string {
  if (!c.database.url) return `sqlite in ${c.dataDir}`;
  const u = new URL(c.database.url);
  const host = u.searchParams.get('host') ?? u.host;
  return `postgres at ${host}${u.pathname}`;
}
