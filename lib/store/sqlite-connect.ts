/**
 * The browser connect's one-time states in SQLite (the `ConnectStateStore` of `SqliteStore`).
 * better-sqlite3 runs each statement to its end before any other (even a second store on the
 * same file in this process), and SQLite serialises writers across processes: the conditional
 * update that uses a state succeeds for exactly one caller.
 */
import type Database from 'better-sqlite3';
import type { ConnectStateStore, ConnectStateUse } from './store.js';

export class SqliteConnectStates implements ConnectStateStore {
  private readonly stmts;

  constructor(db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS connect_states (
        state TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL,
        used INTEGER NOT NULL DEFAULT 0
      );`);
    this.stmts = {
      purge: db.prepare('DELETE FROM connect_states WHERE expires_at <= ?'),
      insert: db.prepare('INSERT INTO connect_states (state, expires_at) VALUES (?, ?)'),
      use: db.prepare('UPDATE connect_states SET used = 1 WHERE state = ? AND used = 0 AND expires_at > ?'),
      find: db.prepare('SELECT expires_at, used FROM connect_states WHERE state = ?'),
    };
    this.createTx = db.transaction((state: string, expiresAt: number, now: number) => {
      this.stmts.purge.run(now);
      this.stmts.insert.run(state, expiresAt);
    });
  }

  private readonly createTx: (state: string, expiresAt: number, now: number) => void;

  async create(state: string, expiresAt: number, now: number): Promise<void> {
    this.createTx(state, expiresAt, now);
  }

  async consume(state: string, now: number): Promise<ConnectStateUse> {
    if (this.stmts.use.run(state, now).changes === 1) return 'ok';
    const row = this.stmts.find.get(state) as { expires_at: number; used: number } | undefined;
    if (!row) return 'unknown';
    return row.used ? 'used' : 'expired';
  }
}
