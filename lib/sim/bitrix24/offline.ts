/**
 * Offline events (bitrix24-telephony.md §10.6; b24restdocs api-reference/events/
 * offline-events.md, event-bind.md, event-offline-{get,clear,error,list}.md): an
 * `event_type=offline` binding (administrators only, no handler URL) makes the portal
 * queue the event instead of POSTing it. Identical unreserved records merge (MESSAGE_ID
 * is a hash of the name and data); `event.offline.get` with `clear=0` reserves records
 * under a `process_id` (plan feature `rest_offline_extended`, else WRONG_LICENSE) and
 * hides them from every later read until that process_id is used again.
 */
import { createHash, randomBytes } from 'node:crypto';
import { RestError, core } from './errors.js';
import { APP_EVENTS, eventBind, eventUnbind } from './methods.js';
import type { PortalState } from './state.js';
import type { CallContext, Params } from './telephony.js';

export interface OfflineRecord {
  ID: number;
  appId: string;
  at: number;
  EVENT_NAME: string;
  EVENT_DATA: unknown;
  EVENT_ADDITIONAL: { user_id: string | number };
  MESSAGE_ID: string;
  PROCESS_ID: string;
  ERROR: 0 | 1;
}

export class OfflineQueue {
  readonly records: OfflineRecord[] = [];
  /** The plan feature rest_offline_extended (clear=0, process_id, .clear, .error). */
  extended = true;
  /** Fault: reserve the next clear=0 read, then drop the connection before the reply. */
  dropNextGetReply = false;
  /** Set by that read: the HTTP reply carrying it is dropped (authorize.ts's onSend hook). */
  dropReply = false;
  private lastId = 0;

  /** The event sender's side: queue (or merge into an unreserved identical record). */
  push(appId: string, event: string, data: unknown, userId: number, now: number): OfflineRecord {
    const messageId = createHash('md5')
      .update(`${event}|${JSON.stringify(data)}`)
      .digest('hex');
    const same = this.records.find(
      (r) => r.appId === appId && r.MESSAGE_ID === messageId && r.PROCESS_ID === '' && r.ERROR === 0,
    );
    if (same) {
      same.at = now;
      same.EVENT_ADDITIONAL = { user_id: String(userId) };
      return same;
    }
    const rec: OfflineRecord = {
      ID: ++this.lastId,
      appId,
      at: now,
      EVENT_NAME: event,
      EVENT_DATA: data,
      EVENT_ADDITIONAL: { user_id: String(userId) },
      MESSAGE_ID: messageId,
      PROCESS_ID: '',
      ERROR: 0,
    };
    this.records.push(rec);
    return rec;
  }

  remove(pred: (r: OfflineRecord) => boolean): void {
    for (let i = this.records.length - 1; i >= 0; i--) if (pred(this.records[i]!)) this.records.splice(i, 1);
  }
}

const queues = new WeakMap<PortalState, OfflineQueue>();

export function offlineQueue(state: PortalState): OfflineQueue {
  let q = queues.get(state);
  if (!q) queues.set(state, (q = new OfflineQueue()));
  return q;
}

/** Is `event` bound offline by the app? */
export function offlineBound(state: PortalState, appId: string, event: string): boolean {
  return state.handlers.some((h) => h.appId === appId && h.event === event && h.offline === 1);
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
const arg = (description: string): RestError => new RestError(400, 'ERROR_ARGUMENT', description);
const flag = (v: unknown, dflt: 0 | 1): 0 | 1 =>
  v === undefined || v === null || v === '' ? dflt : ['0', 0, false, 'false', 'N'].includes(v as never) ? 0 : 1;

function isAdmin(ctx: CallContext): boolean {
  const u = ctx.state.users.get(ctx.userId);
  return u?.IS_ADMIN ?? ctx.userId === 1;
}

/** Application auth, an administrator (the event.offline.* pages' error tables). */
function guard(ctx: CallContext): void {
  if (ctx.authType !== 'oauth')
    throw new RestError(403, 'WRONG_AUTH_TYPE', 'Current authorization type is denied for this method');
  if (!isAdmin(ctx)) throw new RestError(403, 'ACCESS_DENIED', 'Access denied!');
}

function noConnector(p: Params): void {
  // the emulated plan has no rest_auth_connector
  if (p.auth_connector !== undefined)
    throw new RestError(403, 'WRONG_LICENSE', 'This feature is not enabled for the current license: auth_connector');
}

type Field = 'ID' | 'TIMESTAMP_X' | 'EVENT_NAME' | 'MESSAGE_ID' | 'PROCESS_ID' | 'ERROR';
const GET_FIELDS: Field[] = ['ID', 'TIMESTAMP_X', 'EVENT_NAME', 'MESSAGE_ID'];
const LIST_FIELDS: Field[] = [...GET_FIELDS, 'PROCESS_ID', 'ERROR'];

function value(r: OfflineRecord, f: Field): number | string {
  if (f === 'ID') return r.ID;
  if (f === 'TIMESTAMP_X') return r.at;
  if (f === 'ERROR') return r.ERROR;
  return r[f];
}

function operand(f: Field, v: unknown): number | string {
  if (f === 'ID' || f === 'ERROR') return Number(v);
  if (f === 'TIMESTAMP_X') return Date.parse(String(v));
  return String(v);
}

/** `{">=ID": 1, "=EVENT_NAME": "X"}`: the operation goes before the field; no negation. */
function filterOf(p: Params, fields: Field[], listOps: boolean): (r: OfflineRecord) => boolean {
  const raw = p.filter ?? p.FILTER;
  if (raw === undefined || raw === '') return () => true;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw arg('The filter is not an array.');
  const tests: Array<(r: OfflineRecord) => boolean> = [];
  for (const [key, v] of Object.entries(raw as Record<string, unknown>)) {
    const m = /^([^A-Z_]*)([A-Z_]+)$/.exec(key);
    const op = m?.[1] ?? '';
    const field = m?.[2] as Field;
    if (!fields.includes(field)) throw arg(`Filter field not allowed: ${field ?? key}`);
    const ops = listOps ? ['', '=', '>', '<', '>=', '<=', '@', '%'] : ['', '=', '>', '<', '>=', '<='];
    if (!ops.includes(op)) throw arg(`Filter operation not allowed: ${op}`);
    if (op === '@') {
      const set = (Array.isArray(v) ? v : Object.values(v as object)).map((x) => operand(field, x));
      tests.push((r) => set.includes(value(r, field)));
      continue;
    }
    if (v !== null && typeof v === 'object') throw arg(`The value of an argument '${key}' has an invalid type`);
    const want = operand(field, v);
    tests.push((r) => {
      const have = value(r, field);
      switch (op) {
        case '>':
          return have > want;
        case '<':
          return have < want;
        case '>=':
          return have >= want;
        case '<=':
          return have <= want;
        case '%':
          return String(have).includes(String(want));
        default:
          return have === want;
      }
    });
  }
  return (r) => tests.every((t) => t(r));
}

function orderOf(p: Params, fields: Field[], dflt: Field): (a: OfflineRecord, b: OfflineRecord) => number {
  const raw = p.order ?? p.ORDER;
  let spec: Array<[Field, number]> = [[dflt, 1]];
  if (raw !== undefined && raw !== '') {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw arg('The order is not an array.');
    spec = Object.entries(raw as Record<string, unknown>).map(([f, d]) => {
      if (!fields.includes(f as Field)) throw arg(`Order field not allowed: ${f}`);
      const dir = String(d).toUpperCase();
      if (dir !== 'ASC' && dir !== 'DESC') throw arg('Order direction should be one of {ASC|DESC}');
      return [f as Field, dir === 'ASC' ? 1 : -1];
    });
  }
  return (a, b) => {
    for (const [f, s] of spec) {
      const x = value(a, f);
      const y = value(b, f);
      if (x !== y) return (x < y ? -1 : 1) * s;
    }
    return a.ID - b.ID;
  };
}

function shape(r: OfflineRecord): Record<string, unknown> {
  return {
    ID: String(r.ID),
    TIMESTAMP_X: iso(r.at),
    EVENT_NAME: r.EVENT_NAME,
    EVENT_DATA: r.EVENT_DATA,
    EVENT_ADDITIONAL: r.EVENT_ADDITIONAL,
    MESSAGE_ID: r.MESSAGE_ID,
  };
}

export function offlineGet(ctx: CallContext, p: Params): unknown {
  guard(ctx);
  noConnector(p);
  const q = offlineQueue(ctx.state);
  const clear = flag(p.clear, 1);
  const error = flag(p.error, 0);
  const limit = p.limit === undefined || p.limit === '' ? 50 : Number(p.limit);
  if (!Number.isInteger(limit) || limit < 1) throw arg('Value must be positive integer');
  const given = p.process_id === undefined || p.process_id === null ? '' : String(p.process_id);
  if (clear === 0 && !q.extended)
    throw new RestError(
      403,
      'WRONG_LICENSE',
      'This feature is not enabled for the current license: extended offline events handling',
    );
  const match = filterOf(p, GET_FIELDS, false);
  const mine = q.records.filter(
    (r) => r.appId === ctx.appId && r.PROCESS_ID === given && r.ERROR === error && match(r),
  );
  const picked = mine.sort(orderOf(p, GET_FIELDS, 'TIMESTAMP_X')).slice(0, limit);
  let processId: string | null = given || null;
  if (clear === 0) {
    processId = given || randomBytes(16).toString('hex');
    for (const r of picked) r.PROCESS_ID = processId;
    if (q.dropNextGetReply && picked.length > 0) {
      q.dropNextGetReply = false;
      q.dropReply = true;
    }
  } else if (given) {
    // clear=1 with a process_id deletes the whole batch, also what `limit` left out
    q.remove((r) => r.appId === ctx.appId && r.PROCESS_ID === given);
  } else {
    const ids = new Set(picked.map((r) => r.ID));
    q.remove((r) => ids.has(r.ID));
  }
  return { process_id: processId, events: picked.map(shape) };
}

function processIdOf(p: Params): string {
  if (p.process_id === undefined || p.process_id === null) throw arg("Argument 'PROCESS_ID' is null or empty");
  return String(p.process_id);
}

function listOf(v: unknown): unknown[] | null {
  if (Array.isArray(v)) return v;
  if (v && typeof v === 'object') return Object.values(v);
  return null;
}

function messageIds(v: unknown): string[] {
  const list = listOf(v);
  if (!list || list.some((x) => typeof x !== 'string' || x.length !== 32))
    throw arg('Value must be array of MESSAGE_ID values');
  return list as string[];
}

export function offlineClear(ctx: CallContext, p: Params): unknown {
  guard(ctx);
  noConnector(p);
  const pid = processIdOf(p);
  const q = offlineQueue(ctx.state);
  const inBatch = (r: OfflineRecord): boolean => r.appId === ctx.appId && r.PROCESS_ID === pid;
  const mids = p.message_id !== undefined && p.message_id !== '' ? messageIds(p.message_id) : [];
  if (mids.length > 0) {
    // message_id wins over id (event-offline-clear.md)
    q.remove((r) => inBatch(r) && mids.includes(r.MESSAGE_ID));
    return true;
  }
  const rawIds = p.id !== undefined && p.id !== '' ? listOf(p.id) : [];
  const ids = (rawIds ?? [null]).map(Number);
  if (!rawIds || ids.some((n) => !Number.isInteger(n) || n < 1)) throw arg('Value must be array of integers');
  // an empty process_id deletes every record outside a batch, erroneous ones too (the page's warning)
  q.remove((r) => inBatch(r) && (ids.length === 0 || ids.includes(r.ID)));
  return true;
}

export function offlineError(ctx: CallContext, p: Params): unknown {
  guard(ctx);
  noConnector(p);
  const pid = processIdOf(p);
  if (p.message_id === undefined) throw arg('Value must be array of MESSAGE_ID values');
  const list = listOf(p.message_id);
  if (!list) throw arg('Value must be array of MESSAGE_ID values');
  const mids = list.map(String);
  const q = offlineQueue(ctx.state);
  for (const r of q.records) {
    if (r.appId === ctx.appId && r.PROCESS_ID === pid && r.ERROR === 0 && mids.includes(r.MESSAGE_ID)) {
      r.ERROR = 1;
      r.PROCESS_ID = '';
    }
  }
  // unprocessed records with the same keys outside this batch are deleted (the page's warning)
  q.remove((r) => r.appId === ctx.appId && r.ERROR === 0 && r.PROCESS_ID !== pid && mids.includes(r.MESSAGE_ID));
  return true;
}

export function offlineList(ctx: CallContext, p: Params): { list: unknown[]; total: number; next?: number } {
  guard(ctx);
  noConnector(p);
  const match = filterOf(p, LIST_FIELDS, true);
  const all = offlineQueue(ctx.state)
    .records.filter((r) => r.appId === ctx.appId && match(r))
    .sort(orderOf(p, LIST_FIELDS, 'ID'));
  const start = Math.max(0, Number(p.start ?? 0) || 0);
  const page = all
    .slice(start, start + 50)
    .map((r) => ({ ...shape(r), PROCESS_ID: r.PROCESS_ID, ERROR: String(r.ERROR) }));
  return { list: page, total: all.length, ...(start + 50 < all.length ? { next: start + 50 } : {}) };
}

/** event.bind with `event_type`: offline needs an administrator and no handler (event-bind.md, offline-events.md). */
export function eventBindAny(ctx: CallContext, p: Params): unknown {
  const type = String(p.event_type ?? p.EVENT_TYPE ?? '').toLowerCase() || 'online';
  if (type !== 'online' && type !== 'offline') throw arg('Value must be one of {online|offline}');
  if (type === 'online') return eventBind(ctx, { ...p, event_type: 'online' });
  if (ctx.authType !== 'oauth')
    throw new RestError(403, 'WRONG_AUTH_TYPE', 'Current authorization type is denied for this method');
  if (!isAdmin(ctx))
    throw new RestError(403, 'ACCESS_DENIED', 'Access denied! Offline events are available to administrators only');
  const event = String(p.event ?? p.EVENT ?? '').toUpperCase();
  if (!event) throw arg("Argument 'EVENT' is null or empty");
  if (!APP_EVENTS.has(event)) throw new RestError(400, 'ERROR_EVENT_NOT_FOUND', 'Event not found');
  const authType = String(p.auth_type ?? '0') || '0';
  if (
    ctx.state.handlers.some(
      (h) => h.appId === ctx.appId && h.event === event && h.offline === 1 && h.auth_type === authType,
    )
  ) {
    throw core('Unable to set event handler: Handler already binded');
  }
  ctx.state.handlers.push({
    appId: ctx.appId,
    event,
    handler: String(p.handler ?? ''),
    auth_type: authType,
    offline: 1,
  });
  return true;
}

export const OFFLINE_METHODS = {
  'event.bind': eventBindAny,
  'event.unbind': eventUnbind,
  'event.offline.get': offlineGet,
  'event.offline.clear': offlineClear,
  'event.offline.error': offlineError,
  'event.offline.list': offlineList,
} satisfies Record<string, (ctx: CallContext, p: Params) => unknown>;
