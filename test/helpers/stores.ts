/**
 * Every `Store` implementation, for the contract suite (test/unit/store/*.test.ts): SQLite in
 * a temporary directory, PostgreSQL in a database of the test server (test/helpers/pg.ts),
 * one per test file, a namespace per case.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { SqliteStore } from '../../lib/store/sqlite.js';
import { PgStore } from '../../lib/store/pg.js';
import type { Store } from '../../lib/store/store.js';
import { testDatabase } from './pg.js';

/** A fresh, empty store, the same one opened again (a restart, or another instance), and another portal's. */
export interface Opened {
  store: Store;
  reopen: () => Promise<Store>;
  /** A store of another portal on the same database (its own directory; its own namespace). */
  other: () => Promise<Store>;
}

type Teardown = { teardown: (f: () => unknown) => void };

let database: Promise<string> | null = null;
let cases = 0;

export const implementations: Record<string, (t: Teardown) => Promise<Opened>> = {
  sqlite: async (tt) => {
    const dirs = [mkdtempSync(join(tmpdir(), 'fsb24-store-')), mkdtempSync(join(tmpdir(), 'fsb24-store-'))];
    const opened: Store[] = [];
    const open = async (dir: string): Promise<Store> => {
      const s = new SqliteStore(dir);
      opened.push(s);
      return s;
    };
    tt.teardown(async () => {
      for (const s of opened) await s.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });
    return { store: await open(dirs[0]!), reopen: () => open(dirs[0]!), other: () => open(dirs[1]!) };
  },
  postgres: async (tt) => {
    database ??= testDatabase(t); // one per test file, dropped when it ends
    const url = await database;
    const ns = `portal${++cases}.bitrix24.test`;
    const opened: Store[] = [];
    const open = async (namespace: string): Promise<Store> => {
      const s = new PgStore(url, namespace);
      opened.push(s);
      return s;
    };
    tt.teardown(async () => {
      for (const s of opened) await s.close();
    });
    return { store: await open(ns), reopen: () => open(ns), other: () => open(`other.${ns}`) };
  },
};
