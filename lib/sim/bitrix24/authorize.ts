/**
 * The portal's browser side of OAuth (b24restdocs settings/oauth/index.md): the admin's
 * browser opens /oauth/authorize/?client_id=…&state=…; for an installed application the
 * portal redirects it to the application's handler address with a 30-second single-use
 * `code`, `state` passed through, `domain`, `member_id`, `scope` and `server_domain`.
 * Also the offline queue's lost-reply fault (the reservation happens, the reply is lost).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PortalRequest } from './state.js';

/** What the authorize flow needs of the emulator (an interface, so no import cycle with portal.ts). */
export interface Bitrix24Emulator {
  readonly app: { clientId: string; installed: boolean; memberId: string; scopes: string };
  readonly domain: string;
  readonly url: string;
  readonly state: PortalState;
  readonly journal: { push(entry: PortalRequest): void };
  now(): number;
}
import { randomBytes } from 'node:crypto';
import { offlineBound, offlineQueue } from './offline.js';
import type { PortalState } from './state.js';

export { OFFLINE_METHODS } from './offline.js';

/** handlersFor() names an offline binding so; postEvent() queues instead of POSTing. */
export const OFFLINE_HANDLER = 'offline:';

export interface LocalApp {
  /** The application's handler address (where /oauth/authorize/ sends the browser). */
  redirectUri: string;
  /** The user logged in to the portal in the admin's browser. */
  browserUserId: number;
}

const apps = new WeakMap<Bitrix24Emulator, LocalApp>();
const codes = new WeakMap<Bitrix24Emulator, Map<string, { userId: number; expiresAt: number }>>();

/** An authorization code, valid 30 s, single use (settings/oauth/index.md). */
export function issueCode(emu: Bitrix24Emulator, userId = 1): string {
  const code = randomBytes(12).toString('hex');
  let m = codes.get(emu);
  if (!m) codes.set(emu, (m = new Map()));
  m.set(code, { userId, expiresAt: emu.now() + 30_000 });
  return code;
}

/** The code exchange takes the code: valid once, within 30 s; null otherwise. */
export function takeCode(emu: Bitrix24Emulator, code: string): { userId: number; expiresAt: number } | null {
  const c = codes.get(emu)?.get(code);
  codes.get(emu)?.delete(code);
  return c && c.expiresAt > emu.now() ? c : null;
}

/** The event sender's side for an offline binding (always "delivered": it is queued). */
export function queueOfflineEvent(
  state: PortalState,
  appId: string,
  event: string,
  data: Record<string, unknown>,
  auth: Record<string, string>,
  now: number,
): number {
  // no access_token: nobody acted (a web form, an agent), and EVENT_ADDITIONAL.user_id is 0
  const userId = auth.access_token ? Number(auth.user_id ?? 0) : 0;
  if (offlineBound(state, appId, event)) offlineQueue(state).push(appId, event, data, userId, now);
  return 200;
}

export function localApp(emu: Bitrix24Emulator): LocalApp {
  let a = apps.get(emu);
  if (!a) apps.set(emu, (a = { redirectUri: '', browserUserId: 1 }));
  return a;
}

/** The admin saves a local application whose handler address is `redirectUri` (no install event). */
export function installLocalApp(emu: Bitrix24Emulator, redirectUri: string, browserUserId = 1): void {
  emu.app.installed = true;
  Object.assign(localApp(emu), { redirectUri, browserUserId });
}

function page(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(`<!doctype html><title>Bitrix24</title><p>${text}</p>`);
}

function authorize(emu: Bitrix24Emulator, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const q = req.query as Record<string, unknown>;
  const app = localApp(emu);
  const clientId = typeof q.client_id === 'string' ? q.client_id : '';
  emu.journal.push({
    method: 'oauth.authorize',
    params: { client_id: clientId, state: q.state },
    auth: 'none',
    status: 302,
    at: emu.now(),
  });
  if (clientId !== emu.app.clientId) return page(reply, 400, 'Application not found');
  if (!emu.app.installed) return page(reply, 400, 'The application is not installed on this portal');
  if (!app.redirectUri) return page(reply, 400, 'The application has no handler address');
  const to = new URL(app.redirectUri);
  to.searchParams.set('code', issueCode(emu, app.browserUserId));
  if (typeof q.state === 'string' && q.state !== '') to.searchParams.set('state', q.state);
  to.searchParams.set('domain', emu.domain);
  to.searchParams.set('member_id', emu.app.memberId);
  to.searchParams.set('scope', emu.app.scopes);
  to.searchParams.set('server_domain', new URL(emu.url).host);
  return reply.code(302).header('location', to.href).send();
}

/** Routes and hooks of this file, added to the emulator's Fastify app when it is built. */
export function offlineRoutes(app: FastifyInstance, emu: Bitrix24Emulator): void {
  app.get('/oauth/authorize/', (req, reply) => authorize(emu, req, reply));
  app.addHook('onSend', async (req, _reply, payload) => {
    const q = offlineQueue(emu.state);
    if (q.dropReply) {
      q.dropReply = false;
      req.raw.socket.destroy();
    }
    return payload;
  });
}
