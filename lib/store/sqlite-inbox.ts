/**
 * The offline event inbox in SQLite (the `InboxStore` of `SqliteStore`): records are
 * written here (one transaction) before the portal is told to forget them, and taken
 * (also durably) before they are handled. Keyed by the portal's record ID.
 */
import type Database from 'better-sqlite3';
import type { ParsedEvent } from '../bitrix24/event-body.js';
import type { InboxItem, InboxStore } from './store.js';

export class SqliteInbox implements InboxStore {
  private readonly stmts;

  constructor(db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS offline_inbox (
        record_id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'accepted',
        created_at INTEGER NOT NULL
      );`);
    this.stmts = {
      insert: db.prepare(
        'INSERT OR IGNORE INTO offline_inbox (record_id, message_id, payload, created_at) VALUES (?, ?, ?, ?)',
      ),
      take: db.prepare(`UPDATE offline_inbox SET state = 'taken' WHERE record_id = ? AND state = 'accepted'`),
      untaken: db.prepare(
        `SELECT record_id, message_id, payload FROM offline_inbox WHERE state = 'accepted' ORDER BY record_id`,
      ),
      purge: db.prepare(`DELETE FROM offline_inbox WHERE state = 'taken' AND created_at < ?`),
    };
    this.acceptTx = db.transaction((items: readonly InboxItem[], now: number) => {
      for (const i of items) this.stmts.insert.run(i.recordId, i.messageId, JSON.stringify(i.event), now);
    });
  }

  private readonly acceptTx: (items: readonly InboxItem[], now: number) => void;

  /** Durable when it resolves: what the portal may now forget. */
  async accept(items: readonly InboxItem[], now: number): Promise<void> {
    if (items.length) this.acceptTx(items, now);
  }

  /** True once: the caller owns the handling of this record. */
  async take(recordId: number): Promise<boolean> {
    return this.stmts.take.run(recordId).changes === 1;
  }

  /** Accepted but never taken (a previous run stopped in between). */
  async untaken(): Promise<InboxItem[]> {
    return (this.stmts.untaken.all() as Array<{ record_id: number; message_id: string; payload: string }>).map((r) => ({
      recordId: r.record_id,
      messageId: r.message_id,
      event: JSON.parse(r.payload) as ParsedEvent,
    }));
  }

  async purge(before: number): Promise<void> {
    this.stmts.purge.run(before);
  }
}
