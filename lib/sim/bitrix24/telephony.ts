/**
 * telephony.externalCall.* and telephony.externalLine.* with the validation order,
 * dedup and finish semantics of bitrix24-telephony.md §4-§9 (exact error texts,
 * including the missing parenthesis of the "Call is not found" message).
 */
import { createHash, randomUUID } from 'node:crypto';
import { RestError, core } from './errors.js';
import type { ActiveCall, PortalState, PortalUser } from './state.js';

export interface CallContext {
  state: PortalState;
  appId: string;
  authType: 'oauth' | 'webhook';
  userId: number;
  portalHost: string;
  accessToken: string;
  now: () => number;
  webhookAllowedForRegister: boolean;
  /** Where uploadUrl points (the emulator's own base URL). */
  baseUrl: string;
  registerUpload: (token: string, callId: string) => void;
  scopes: string[];
}

export type Params = Record<string, unknown>;

const DEDUP_WINDOW_MS = 30 * 60 * 1000;
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:?\d{2}|Z)$/;

export function scalar(p: Params, key: string): string | undefined {
  const v = p[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function phpInt(v: unknown): number {
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    const m = /^\s*[+-]?\d+/.exec(v);
    return m ? parseInt(m[0], 10) : 0;
  }
  return 0;
}

function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false) return false;
  if (typeof v === 'string') return v !== '' && v !== '0';
  if (typeof v === 'number') return v !== 0;
  return true;
}

export function requireAppAuth(ctx: CallContext): void {
  if (ctx.authType === 'webhook' && !ctx.webhookAllowedForRegister) {
    throw new RestError(403, 'WRONG_AUTH_TYPE', 'Current authorization type is denied for this method');
  }
}

/** USER_ID takes precedence; USER_PHONE_INNER is looked up exactly among active users (§4.3, §15.14). */
function resolveUser(ctx: CallContext, p: Params): number {
  const id = phpInt(p.USER_ID);
  if (id !== 0) return id;
  const inner = scalar(p, 'USER_PHONE_INNER');
  if (inner) {
    for (const u of ctx.state.users.values())
      if (u.ACTIVE && u.UF_PHONE_INNER !== '' && u.UF_PHONE_INNER === inner) return u.ID;
  }
  throw core('USER_ID or USER_PHONE_INNER should be set');
}

function activeUser(ctx: CallContext, id: number): PortalUser {
  const u = ctx.state.users.get(id);
  if (!u || !u.ACTIVE) throw core('User is not found or is not active');
  return u;
}

function normalizePhone(raw: string): string {
  return raw.replace(/[^0-9+#*]/g, '').replace(/(?!^)\+/g, '');
}

function isoNow(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, '+00:00');
}

export function register(ctx: CallContext, p: Params): unknown {
  requireAppAuth(ctx);
  const userId = resolveUser(ctx, p);
  const type = phpInt(p.TYPE);
  if (![1, 2, 3, 4, 5].includes(type)) throw core('Unknown TYPE');
  const start = scalar(p, 'CALL_START_DATE');
  if (start !== undefined && start !== '' && !ISO_WITH_OFFSET.test(start))
    throw core('CALL_START_DATE should be in the ISO-8601 format');
  const phone = normalizePhone(scalar(p, 'PHONE_NUMBER') ?? '');
  if (phone.replace(/\D/g, '') === '') throw core('Unsupported phone number format');
  activeUser(ctx, userId);
  return registerCall(ctx, {
    userId,
    phone,
    type,
    start: start || isoNow(ctx.now()),
    line: (scalar(p, 'LINE_NUMBER') ?? '').trim().slice(0, 50) || null,
    externalId: scalar(p, 'EXTERNAL_CALL_ID') ?? null,
    crmCreate: truthy(p.CRM_CREATE ?? p.CRM),
    crmEntityType: scalar(p, 'CRM_ENTITY_TYPE') ?? null,
    crmEntityId: phpInt(p.CRM_ENTITY_ID) || null,
    show: p.SHOW === undefined ? true : truthy(p.SHOW),
    by: 'rest',
  });
}

export interface NewCall {
  userId: number;
  phone: string;
  type: number;
  start: string;
  line: string | null;
  externalId: string | null;
  crmCreate: boolean;
  crmEntityType: string | null;
  crmEntityId: number | null;
  show: boolean;
  by: ActiveCall['registeredBy'];
}

/** Shared by REST register and the portal's own click-to-call registration (§10.3). */
export function registerCall(ctx: CallContext, c: NewCall): Record<string, unknown> {
  const s = ctx.state;
  if (c.line && !s.lines.some((l) => l.appId === ctx.appId && l.NUMBER === c.line)) {
    s.lines.push({ appId: ctx.appId, NUMBER: c.line, NAME: '', CRM_AUTO_CREATE: 'Y' });
  }
  const now = ctx.now();
  for (const call of s.active.values()) {
    if (
      call.appId === ctx.appId &&
      call.USER_ID === c.userId &&
      call.PHONE_NUMBER === c.phone &&
      call.TYPE === c.type &&
      now - call.createdAt < DEDUP_WINDOW_MS &&
      (c.line === null || call.LINE_NUMBER === c.line) &&
      (c.externalId === null || call.EXTERNAL_CALL_ID === c.externalId)
    ) {
      if (c.show) showTo(s, call.CALL_ID, [c.userId]);
      return {
        CALL_ID: call.CALL_ID,
        CRM_CREATED_LEAD: null,
        CRM_CREATED_ENTITIES: [],
        CRM_ENTITY_TYPE: call.CRM_ENTITY_TYPE,
        CRM_ENTITY_ID: call.CRM_ENTITY_ID,
      };
    }
  }
  const internal = [...s.users.values()].some(
    (u) => u.ACTIVE && u.ID !== c.userId && u.UF_PHONE_INNER !== '' && u.UF_PHONE_INNER === c.phone,
  );
  let entityType: string | null = c.crmEntityType;
  let entityId: number | null = c.crmEntityId;
  let lead: number | null = null;
  const created: Array<{ ENTITY_TYPE: string; ENTITY_ID: number }> = [];
  if (!internal && !(entityType && entityId)) {
    const hit = s.findCrmByPhone(c.phone)[0];
    if (hit) {
      entityType = hit.TYPE;
      entityId = hit.ID;
    } else if (c.crmCreate) {
      lead = s.next('lead');
      s.addCrm({ TYPE: 'LEAD', ID: lead, PHONES: [c.phone], ASSIGNED_BY_ID: c.userId, NAME: `Lead #${lead}` });
      created.push({ ENTITY_TYPE: 'LEAD', ENTITY_ID: lead });
      entityType = 'LEAD';
      entityId = lead;
    }
  }
  const hash = createHash('md5').update(`${ctx.appId}${c.userId}${c.phone}${randomUUID()}`).digest('hex');
  const callId = `externalCall.${hash}.${Math.floor(now / 1000)}`;
  s.active.set(callId, {
    CALL_ID: callId,
    appId: ctx.appId,
    USER_ID: c.userId,
    PHONE_NUMBER: c.phone,
    TYPE: c.type,
    LINE_NUMBER: c.line,
    EXTERNAL_CALL_ID: c.externalId,
    CALL_START_DATE: c.start,
    createdAt: now,
    CRM_ENTITY_TYPE: entityType ?? '',
    CRM_ENTITY_ID: entityId,
    CRM_CREATED_LEAD: lead,
    internal,
    registeredBy: c.by,
  });
  if (c.show) showTo(s, callId, [c.userId]);
  return {
    CALL_ID: callId,
    CRM_CREATED_LEAD: lead,
    CRM_CREATED_ENTITIES: created,
    CRM_ENTITY_TYPE: entityType ?? '',
    CRM_ENTITY_ID: entityId,
  };
}

function showTo(s: PortalState, callId: string, users: number[]): void {
  const set = s.cards.get(callId) ?? new Set<number>();
  const ever = s.everShown.get(callId) ?? new Set<number>();
  for (const u of users) {
    set.add(u);
    ever.add(u);
  }
  s.cards.set(callId, set);
  s.everShown.set(callId, ever);
}

export function finish(ctx: CallContext, p: Params): unknown {
  requireAppAuth(ctx);
  if (p.CALL_ID !== undefined && typeof p.CALL_ID !== 'string')
    throw new RestError(400, 'INVALID_ARGUMENT', 'CALL_ID must be a string');
  const userId = resolveUser(ctx, p);
  const callId = scalar(p, 'CALL_ID') ?? '';
  const call = ctx.state.active.get(callId);
  if (!call || call.appId !== ctx.appId) throw core('Call is not found (call should be registered prior to finishing');
  activeUser(ctx, userId);
  const duration = Math.max(0, phpInt(p.DURATION));
  const status = scalar(p, 'STATUS_CODE') || (duration > 0 ? '200' : '304');
  const row = {
    ID: ctx.state.next('stat'),
    CALL_ID: call.CALL_ID,
    EXTERNAL_CALL_ID: call.EXTERNAL_CALL_ID,
    PORTAL_USER_ID: userId,
    PHONE_NUMBER: call.PHONE_NUMBER,
    PORTAL_NUMBER: call.LINE_NUMBER ?? `REST_APP:${ctx.appId}`,
    INCOMING: String(call.TYPE),
    CALL_DURATION: duration,
    CALL_START_DATE: call.CALL_START_DATE,
    CALL_STATUS: duration > 0 ? 1 : 0,
    CALL_VOTE: phpInt(p.VOTE),
    COST: Number(scalar(p, 'COST') ?? 0) || 0,
    COST_CURRENCY: scalar(p, 'COST_CURRENCY') ?? '',
    CALL_FAILED_CODE: status,
    CALL_FAILED_REASON: scalar(p, 'FAILED_REASON') ?? '',
    REST_APP_ID: ctx.appId,
    CRM_ACTIVITY_ID: call.internal ? null : ctx.state.next('activity'),
    ...(call.CRM_ENTITY_TYPE && call.CRM_ENTITY_ID
      ? { CRM_ENTITY_TYPE: call.CRM_ENTITY_TYPE, CRM_ENTITY_ID: call.CRM_ENTITY_ID }
      : {}),
    // the REST layer passes ADD_TO_CHAT != false: a missing value becomes false (§5.1)
    addToChat: truthy(p.ADD_TO_CHAT),
    registeredType: call.TYPE,
    lineNumber: call.LINE_NUMBER,
  };
  ctx.state.addFinished(row);
  ctx.state.active.delete(callId);
  // finish hides the card for USER_ID only (§5.4): anyone else still sees it until a hide
  ctx.state.cards.get(callId)?.delete(userId);
  const { addToChat: _a, registeredType: _r, lineNumber: _l, ...reply } = row;
  return { ...reply, CALL_START_DATE: {}, REST_APP_NAME: ctx.authType === 'webhook' ? false : 'FreeSWITCH' };
}

function userIds(v: unknown): number[] | null {
  if (v === undefined || v === null || v === '') return null;
  if (Array.isArray(v)) return v.map(phpInt).filter((n) => n > 0);
  if (typeof v === 'object')
    return Object.values(v as Record<string, unknown>)
      .map(phpInt)
      .filter((n) => n > 0);
  const n = phpInt(v);
  return n > 0 ? [n] : null;
}

export function showHide(kind: 'show' | 'hide') {
  return (ctx: CallContext, p: Params): unknown => {
    const callId = scalar(p, 'CALL_ID') ?? '';
    const call = ctx.state.active.get(callId);
    if (!call) return false;
    const users = userIds(p.USER_ID) ?? [call.USER_ID];
    if (kind === 'show') showTo(ctx.state, callId, users);
    else {
      const set = ctx.state.cards.get(callId);
      for (const u of users) set?.delete(u);
    }
    return true;
  };
}

export function searchCrmEntities(ctx: CallContext, p: Params): unknown {
  const phone = scalar(p, 'PHONE_NUMBER') ?? '';
  if (phone === '') throw core('PHONE_NUMBER is empty');
  return ctx.state.findCrmByPhone(phone).map((e) => {
    const u = ctx.state.users.get(e.ASSIGNED_BY_ID);
    return {
      CRM_ENTITY_TYPE: e.TYPE,
      CRM_ENTITY_ID: e.ID,
      ASSIGNED_BY_ID: e.ASSIGNED_BY_ID,
      ...(e.NAME ? { NAME: e.NAME } : {}),
      ASSIGNED_BY: {
        ID: String(e.ASSIGNED_BY_ID),
        TIMEMAN_STATUS: u?.TIMEMAN_STATUS ?? 'UNAVAILABLE',
        USER_PHONE_INNER: u?.UF_PHONE_INNER ? u.UF_PHONE_INNER : null,
        WORK_PHONE: null,
        PERSONAL_PHONE: null,
        PERSONAL_MOBILE: null,
      },
    };
  });
}

export function attachRecord(ctx: CallContext, p: Params): unknown {
  const callId = scalar(p, 'CALL_ID') ?? '';
  const url = scalar(p, 'RECORD_URL');
  const filename = scalar(p, 'FILENAME');
  if (!url && !filename)
    throw core('Required parameters are not set. Request should contain or URL or FILENAME parameter');
  if (!ctx.state.isFinished(callId))
    throw core('Call is not found in the statistic table. Looks like it is not finished yet.');
  if (url) {
    // one synchronous GET, the file named by FILENAME or the URL's basename (§6)
    const name = filename ?? new URL(url).pathname.split('/').pop() ?? 'record';
    return fetch(url).then(
      async (res) => {
        if (res.status !== 200) throw core(`Server returns HTTP error code ${res.status}`);
        return { FILE_ID: storeFile(ctx.state, callId, name, Buffer.from(await res.arrayBuffer()), 'url') };
      },
      (err: Error) => {
        throw core(`0: ${err.message}`);
      },
    );
  }
  const content = p.FILE_CONTENT;
  if (content === undefined || content === null) {
    const token = randomUUID();
    ctx.registerUpload(token, callId);
    const signed = Buffer.from(`CALL_ID=${callId}`).toString('base64');
    return {
      uploadUrl:
        `${ctx.baseUrl}/rest/upload.json?auth=${ctx.accessToken}` +
        `&token=telephony%7C${encodeURIComponent(signed)}%7C${token}`,
      fieldName: 'file',
    };
  }
  if (filename === '') throw core('File name is empty');
  if (!/\.(mp3|wav)$/i.test(filename ?? '')) throw core('Wrong file extension. Only wav and mp3 are allowed');
  if (typeof content !== 'string' || content === '') throw core('File content is empty.');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(content) || content.length % 4 !== 0)
    throw core('File content is not properly encoded. Base64 encoding is expected.');
  return { FILE_ID: storeFile(ctx.state, callId, filename as string, Buffer.from(content, 'base64'), 'content') };
}

export function storeFile(
  s: PortalState,
  callId: string,
  name: string,
  bytes: Buffer,
  via: 'content' | 'upload' | 'url',
): number {
  const fileId = s.next('file');
  // calling again replaces the previous recording (§6)
  for (let i = s.files.length - 1; i >= 0; i--) if (s.files[i]!.CALL_ID === callId) s.files.splice(i, 1);
  s.files.push({ CALL_ID: callId, FILE_ID: fileId, name, bytes, via });
  return fileId;
}
