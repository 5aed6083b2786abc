/**
 * The durable side of a pull: records are written here (one transaction) before the
 * portal is told to forget them, and taken (also durably) before they are handled, so a
 * crash anywhere loses no click and places no call twice. Keyed by the portal's record
 * ID: a record read again (recovery of a reserved batch) is recognised.
 */
import type { Store } from '../outbox/store.js';
import type { ParsedEvent } from '../bitrix24/event-body.js';

export interface InboxItem {
  recordId: number;
  messageId: string;
  event: ParsedEvent;
}

export class OfflineInbox {
  private readonly stmts;

  constructor(store: Store) {
    store.db.exec(`
      CREATE TABLE IF NOT EXISTS offline_inbox (
        record_id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'accepted',
        created_at INTEGER NOT NULL
      );`);
    this.stmts = {
      insert: store.db.prepare(
        'INSERT OR IGNORE INTO offline_inbox (record_id, message_id, payload, created_at) VALUES (?, ?, ?, ?)',
      ),
      take: store.db.prepare(`UPDATE offline_inbox SET state = 'taken' WHERE record_id = ? AND state = 'accepted'`),
      untaken: store.db.prepare(
        `SELECT record_id, message_id, payload FROM offline_inbox WHERE state = 'accepted' ORDER BY record_id`,
      ),
      purge: store.db.prepare(`DELETE FROM offline_inbox WHERE state = 'taken' AND created_at < ?`),
    };
    this.acceptTx = store.db.transaction((items: InboxItem[], now: number) => {
      for (const i of items) this.stmts.insert.run(i.recordId, i.messageId, JSON.stringify(i.event), now);
    });
  }

  private readonly acceptTx: (items: InboxItem[], now: number) => void;

  /** Durable before it returns: what the portal may now forget. */
  accept(items: InboxItem[], now: number): void {
    if (items.length) this.acceptTx(items, now);
  }

  /** True once: the caller owns the handling of this record. */
  take(recordId: number): boolean {
    return this.stmts.take.run(recordId).changes === 1;
  }

  /** Accepted but never taken (a previous run stopped in between). */
  untaken(): InboxItem[] {
    return (this.stmts.untaken.all() as Array<{ record_id: number; message_id: string; payload: string }>).map((r) => ({
      recordId: r.record_id,
      messageId: r.message_id,
      event: JSON.parse(r.payload) as ParsedEvent,
    }));
  }

  purge(before: number): void {
    this.stmts.purge.run(before);
  }
}
