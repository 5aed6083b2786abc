/**
 * tap's `before` hook (package.json): one throwaway PostgreSQL cluster for the whole run,
 * unless FSB24_TEST_DATABASE_URL names a server. Where it is, or why there is none, goes to
 * the state file the test processes read (test/helpers/pg.ts); a cluster a crashed run left
 * behind is stopped first. Never fails the run itself: the tests that need PostgreSQL do.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { startCluster, stopCluster } from '../helpers/pg-cluster.js';
import { STATE_FILE, type ClusterState } from '../helpers/pg.js';

if (existsSync(STATE_FILE)) {
  const old = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as ClusterState;
  rmSync(STATE_FILE);
  if ('dir' in old) {
    try {
      stopCluster(old);
    } catch {
      // gone already
    }
  }
}
if (!process.env.FSB24_TEST_DATABASE_URL) {
  let state: ClusterState;
  try {
    state = startCluster();
  } catch (err) {
    state = { error: (err as Error).message };
  }
  mkdirSync(dirname(STATE_FILE), { recursive: true });
  writeFileSync(STATE_FILE, JSON.stringify(state));
}
