/**
 * The offline event inbox in PostgreSQL (the `InboxStore` of `PgStore`): the same contract
 * as the SQLite one (./sqlite-inbox.ts), each method one statement, under the store's
 * namespace. `take` is an atomic update: of two instances taking one record, one gets it.
 */
import type { ParsedEvent } from '../bitrix24/event-body.js';
import type { PgDatabase } from './pg-db.js';
import type { InboxItem, InboxStore } from './store.js';

export class PgInbox implements InboxStore {
  constructor(
    private readonly db: PgDatabase,
    private readonly ns: string,
  ) {}

  /** Durable when it resolves: what the portal may now forget. One statement: all or none. */
  async accept(items: readonly InboxItem[], now: number): Promise<void> {
    if (items.length === 0) return;
    const payloads = items.map((i) => JSON.stringify(i.event));
    await this.db.query(
      'fsb24_inbox_accept',
      `INSERT INTO fsb24_inbox (ns, record_id, message_id, payload, created_at)
       SELECT $1, i.record_id, i.message_id, i.payload, $5
       FROM unnest($2::bigint[], $3::text[], $4::text[]) AS i(record_id, message_id, payload)
       ON CONFLICT (ns, record_id) DO NOTHING`,
      [this.ns, items.map((i) => i.recordId), items.map((i) => i.messageId), payloads, now],
    );
  }

  /** True once: the caller owns the handling of this record. */
  async take(recordId: number): Promise<boolean> {
    const r = await this.db.query(
      'fsb24_inbox_take',
      `UPDATE fsb24_inbox SET state = 'taken' WHERE ns = $1 AND record_id = $2 AND state = 'accepted'`,
      [this.ns, recordId],
    );
    return r.rowCount === 1;
  }

  /** Accepted but never taken (a previous run stopped in between), in record order. */
  async untaken(): Promise<InboxItem[]> {
    const r = await this.db.query<{ record_id: string; message_id: string; payload: string }>(
      'fsb24_inbox_untaken',
      `SELECT record_id, message_id, payload FROM fsb24_inbox
       WHERE ns = $1 AND state = 'accepted' ORDER BY record_id`,
      [this.ns],
    );
    return r.rows.map((row) => ({
      recordId: Number(row.record_id),
      messageId: row.message_id,
      event: JSON.parse(row.payload) as ParsedEvent,
    }));
  }

  /** Forget records taken before `before` (ms). */
  async purge(before: number): Promise<void> {
    await this.db.query(
      'fsb24_inbox_purge',
      `DELETE FROM fsb24_inbox WHERE ns = $1 AND state = 'taken' AND created_at < $2`,
      [this.ns, before],
    );
  }
}
