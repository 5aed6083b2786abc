/**
 * The browser connect's one-time states in PostgreSQL (the `ConnectStateStore` of `PgStore`),
 * under the store's namespace, shared by every instance on the database. `consume` is one
 * statement around a conditional update: of instances using one state at once, the row lock
 * lets one update it and the others find it used.
 */
import type { PgDatabase } from './pg-db.js';
import type { ConnectStateStore, ConnectStateUse } from './store.js';

export class PgConnectStates implements ConnectStateStore {
  constructor(
    private readonly db: PgDatabase,
    private readonly ns: string,
  ) {}

  /** Remember `state` until `expiresAt`; those expired by `now` are forgotten in the same statement. */
  async create(state: string, expiresAt: number, now: number): Promise<void> {
    await this.db.query(
      'fsb24_connect_create',
      `WITH gone AS (DELETE FROM fsb24_connect_states WHERE ns = $1 AND expires_at <= $4)
       INSERT INTO fsb24_connect_states (ns, state, expires_at) VALUES ($1, $2, $3)`,
      [this.ns, state, expiresAt, now],
    );
  }

  /**
   * 'ok' to the one whose update took the row; the others read the row as it was when their
   * statement began (unused if they raced the winner): not won and not expired is 'used'.
   */
  async consume(state: string, now: number): Promise<ConnectStateUse> {
    const r = await this.db.query<{ won: boolean; expires_at: string | null; used: boolean | null }>(
      'fsb24_connect_consume',
      `WITH won AS (
         UPDATE fsb24_connect_states SET used = true
         WHERE ns = $1 AND state = $2 AND NOT used AND expires_at > $3 RETURNING 1
       )
       SELECT EXISTS (SELECT 1 FROM won) AS won, s.expires_at, s.used
       FROM (SELECT 1) one LEFT JOIN fsb24_connect_states s ON s.ns = $1 AND s.state = $2`,
      [this.ns, state, now],
    );
    const row = r.rows[0];
    if (row?.won) return 'ok';
    if (!row || row.expires_at === null) return 'unknown';
    if (!row.used && Number(row.expires_at) <= now) return 'expired';
    return 'used';
  }
}
