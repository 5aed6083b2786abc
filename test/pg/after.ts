/** tap's `after` hook (package.json): stops the run's PostgreSQL cluster (test/pg/before.ts). */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { stopCluster } from '../helpers/pg-cluster.js';
import { STATE_FILE, type ClusterState } from '../helpers/pg.js';

if (existsSync(STATE_FILE)) {
  const state = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as ClusterState;
  rmSync(STATE_FILE);
  if ('dir' in state) stopCluster(state);
}
