/**
 * Offline queue records (b24restdocs api-reference/events/event-offline-get.md): the
 * reply `{process_id, events: [{ID, TIMESTAMP_X, EVENT_NAME, EVENT_DATA, EVENT_ADDITIONAL,
 * MESSAGE_ID}]}` parsed at the edge, and each record turned into the same ParsedEvent a
 * POSTed event becomes (lib/http/event-body.ts): EVENT_DATA is "the same as passed to the
 * handler of an online event", only JSON-typed, so its values are written as a form would.
 */
import { parseEvent, type ParsedEvent } from '../bitrix24/event-body.js';
import { B24Error } from '../bitrix24/errors.js';

export interface OfflineRecord {
  id: number;
  name: string;
  data: unknown;
  messageId: string;
  at: string;
  userId: number;
}

export interface OfflineBatch {
  processId: string | null;
  records: OfflineRecord[];
}

const bad = (why: string): B24Error =>
  new B24Error('B24_ERR_BAD_REPLY', `event.offline.get: ${why}`, { method: 'event.offline.get' });

export function parseBatch(result: unknown): OfflineBatch {
  if (!result || typeof result !== 'object' || Array.isArray(result)) throw bad('result is not an object');
  const r = result as { process_id?: unknown; events?: unknown };
  const processId = typeof r.process_id === 'string' && r.process_id !== '' ? r.process_id : null;
  if (!Array.isArray(r.events)) throw bad('result.events is not a list');
  const records = r.events.map((e: unknown): OfflineRecord => {
    if (!e || typeof e !== 'object') throw bad('a record is not an object');
    const x = e as Record<string, unknown>;
    const id = Number(x.ID);
    if (!Number.isInteger(id) || id < 1) throw bad('a record has no ID');
    if (typeof x.EVENT_NAME !== 'string' || typeof x.MESSAGE_ID !== 'string')
      throw bad(`record ${id} has no EVENT_NAME or MESSAGE_ID`);
    const add =
      x.EVENT_ADDITIONAL && typeof x.EVENT_ADDITIONAL === 'object'
        ? (x.EVENT_ADDITIONAL as Record<string, unknown>)
        : {};
    const userId = Number(add.user_id ?? 0);
    return {
      id,
      name: x.EVENT_NAME,
      data: x.EVENT_DATA,
      messageId: x.MESSAGE_ID,
      at: String(x.TIMESTAMP_X ?? ''),
      userId: Number.isInteger(userId) && userId > 0 ? userId : 0,
    };
  });
  return { processId, records };
}

/** Values as a form carries them: strings; numbers and booleans written out, null and empty lists dropped. */
function formValue(v: unknown): unknown {
  if (v === null || v === undefined || v === false) return v === false ? '0' : undefined;
  if (v === true) return '1';
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return v.length === 0 ? undefined : v.map(formValue);
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const s = formValue(x);
      if (s !== undefined) out[k] = s;
    }
    return out;
  }
  return v;
}

/**
 * The record as the event a POST would have brought, through the same parser. There is
 * no application_token to check: the pull itself (our own token on our own portal)
 * replaces that check.
 */
export function recordToEvent(rec: OfflineRecord, portal: { domain: string; memberId: string }): ParsedEvent {
  const data = rec.data && typeof rec.data === 'object' && !Array.isArray(rec.data) ? formValue(rec.data) : {};
  return parseEvent({
    event: rec.name,
    data,
    auth: {
      domain: portal.domain,
      member_id: portal.memberId,
      application_token: 'offline',
      ...(rec.userId ? { user_id: String(rec.userId) } : {}),
    },
  });
}
