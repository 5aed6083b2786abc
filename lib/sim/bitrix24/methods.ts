/** user.get, event.*, app.info, profile (bitrix24-telephony.md §10.5-§11). */
import { RestError, core } from './errors.js';
import type { CallContext, Params } from './telephony.js';

export interface ListResult {
  list: unknown[];
  total: number;
  next?: number;
}

function filterOf(p: Params): Record<string, unknown> {
  const f = (p.FILTER ?? p.filter) as unknown;
  if (f && typeof f === 'object' && !Array.isArray(f)) return f as Record<string, unknown>;
  const top: Record<string, unknown> = {};
  for (const k of ['ID', 'ACTIVE', 'UF_PHONE_INNER']) if (p[k] !== undefined) top[k] = p[k];
  return top;
}

const boolish = (v: unknown): boolean => v === true || v === 'true' || v === 'Y' || v === '1' || v === 1;

export function userGet(ctx: CallContext, p: Params): ListResult {
  const filter = filterOf(p);
  let users = [...ctx.state.users.values()].sort((a, b) => a.ID - b.ID);
  for (const [key, want] of Object.entries(filter)) {
    if (key === 'ACTIVE') users = users.filter((u) => u.ACTIVE === boolish(want));
    else if (key === 'ID') users = users.filter((u) => String(u.ID) === String(want));
    else if (key === 'UF_PHONE_INNER') users = users.filter((u) => u.UF_PHONE_INNER === String(want));
  }
  const start = Math.max(0, Number(p.start ?? 0) || 0);
  const page = users.slice(start, start + 50).map((u) => ({
    ID: String(u.ID),
    ACTIVE: u.ACTIVE,
    NAME: u.NAME,
    LAST_NAME: u.LAST_NAME,
    UF_PHONE_INNER: u.UF_PHONE_INNER,
  }));
  return { list: page, total: users.length, ...(start + 50 < users.length ? { next: start + 50 } : {}) };
}

export const APP_EVENTS = new Set([
  'ONEXTERNALCALLSTART',
  'ONEXTERNALCALLBACKSTART',
  'ONAPPUNINSTALL',
  'ONAPPINSTALL',
  'ONAPPUPDATE',
  'ONAPPTEST',
]);

function requireApp(ctx: CallContext): void {
  if (ctx.authType !== 'oauth')
    throw new RestError(403, 'WRONG_AUTH_TYPE', 'Current authorization type is denied for this method');
}

export function eventBind(ctx: CallContext, p: Params): unknown {
  requireApp(ctx);
  const event = String(p.event ?? p.EVENT ?? '').toUpperCase();
  const handler = String(p.handler ?? p.HANDLER ?? '');
  if (!event) throw new RestError(400, 'ERROR_ARGUMENT', "Argument 'EVENT' is null or empty");
  if (!handler) throw new RestError(400, 'ERROR_ARGUMENT', "Argument 'HANDLER' is null or empty");
  if (!APP_EVENTS.has(event)) throw new RestError(400, 'ERROR_EVENT_NOT_FOUND', 'Event not found');
  let url: URL;
  try {
    url = new URL(handler);
  } catch {
    throw new RestError(400, 'ERROR_WRONG_HANDLER_URL', 'Wrong handler URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new RestError(400, 'ERROR_UNSUPPORTED_PROTOCOL', 'Unsupported protocol');
  if (!url.hostname.includes('.')) throw new RestError(400, 'ERROR_WRONG_HANDLER_URL', 'Wrong handler URL');
  const authType = String(p.auth_type ?? '0') || '0';
  if (
    ctx.state.handlers.some(
      (h) => h.appId === ctx.appId && h.event === event && h.handler === handler && h.auth_type === authType,
    )
  ) {
    throw core('Unable to set event handler: Handler already binded');
  }
  ctx.state.handlers.push({
    appId: ctx.appId,
    event,
    handler,
    auth_type: authType,
    offline: p.event_type === 'offline' ? 1 : 0,
  });
  return true;
}

export function eventGet(ctx: CallContext): unknown {
  requireApp(ctx);
  return ctx.state.handlers
    .filter((h) => h.appId === ctx.appId)
    .map(({ event, handler, auth_type, offline }) => ({ event, handler, auth_type, offline }));
}

/**
 * event.unbind (§10.6, api-reference/events/event-unbind.md): removes the app's handlers
 * matching every parameter given (event, handler, auth_type: 0 or empty = bound without
 * a user); event_type online (default) or offline picks which kind; returns {count}.
 */
export function eventUnbind(ctx: CallContext, p: Params): unknown {
  requireApp(ctx);
  const event = (p.event ?? p.EVENT) ? String(p.event ?? p.EVENT).toUpperCase() : null;
  const handler = (p.handler ?? p.HANDLER) ? String(p.handler ?? p.HANDLER) : null;
  const rawAuth = p.auth_type ?? p.AUTH_TYPE;
  const authType = rawAuth === undefined ? null : String(rawAuth) || '0';
  const eventType = String(p.event_type ?? 'online');
  if (eventType !== 'online' && eventType !== 'offline') {
    throw new RestError(400, 'ERROR_ARGUMENT', 'Value must be one of {online|offline}');
  }
  const offline = eventType === 'offline' ? 1 : 0;
  let count = 0;
  for (let i = ctx.state.handlers.length - 1; i >= 0; i--) {
    const h = ctx.state.handlers[i]!;
    if (h.appId !== ctx.appId || h.offline !== offline) continue;
    if ((event && h.event !== event) || (handler && h.handler !== handler)) continue;
    if (authType !== null && h.auth_type !== authType) continue;
    ctx.state.handlers.splice(i, 1);
    count++;
  }
  return { count };
}

/** app.info (§10.5): with a webhook only SCOPE and LICENSE. */
export function appInfo(ctx: CallContext): unknown {
  if (ctx.authType === 'webhook') return { SCOPE: ['telephony', 'user'], LICENSE: 'ru_project' };
  return {
    ID: Number(ctx.appId),
    CODE: 'local.freeswitch',
    VERSION: 1,
    STATUS: 'L',
    INSTALLED: true,
    PAYMENT_EXPIRED: 'N',
    DAYS: null,
    LANGUAGE_ID: 'en',
    LICENSE: 'ru_project',
    LICENSE_TYPE: 'project',
    LICENSE_FAMILY: 'project',
  };
}
