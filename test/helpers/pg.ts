/**
 * A fresh PostgreSQL database for a test, dropped at its end. The server: the one
 * FSB24_TEST_DATABASE_URL names (its user may create databases), else the throwaway cluster
 * tap's `before` hook started for the whole run (test/pg/before.ts wrote where it is to
 * STATE_FILE; test/pg/after.ts stops it), else — a file run without tap's hooks — one
 * started for this process and stopped when it exits. Without PostgreSQL's server binaries
 * the tests that need it fail, saying so.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDatabase, dropDatabase, startCluster, stopCluster } from './pg-cluster.js';

/** Where the `before` hook leaves the cluster's address (or why there is none) for the test processes. */
export const STATE_FILE = resolve(dirname(fileURLToPath(import.meta.url)), '../../.tap/fsb24-pg.json');

export type ClusterState = { url: string; dir: string } | { error: string };

let server: Promise<string> | null = null;

/** The server's maintenance database: where databases are created and dropped. */
function serverUrl(): Promise<string> {
  server ??= (async () => {
    const given = process.env.FSB24_TEST_DATABASE_URL;
    if (given) return given;
    if (existsSync(STATE_FILE)) {
      const state = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as ClusterState;
      if ('error' in state) throw new Error(state.error);
      if (existsSync(join(state.dir, 'data', 'postmaster.pid'))) return state.url;
    }
    const own = startCluster();
    process.once('exit', () => stopCluster(own));
    return own.url;
  })();
  return server;
}

let made = 0;

/** The URL of a new, empty database on the test server; dropped (whoever is still connected) at teardown. */
export async function testDatabase(t: { teardown: (f: () => unknown) => void }): Promise<string> {
  const base = await serverUrl();
  const name = `fsb24_test_${process.pid}_${++made}`;
  const url = await createDatabase(base, name);
  t.teardown(() => dropDatabase(base, name));
  return url;
}
