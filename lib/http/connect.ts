/**
 * Installing through the admin's browser (both modes; the only way in offline mode),
 * the OAuth authorization-code flow of b24restdocs settings/oauth/index.md:
 *
 *   GET /bitrix24/connect          → 302 to FSB24_B24_PORTAL_URL/oauth/authorize/?client_id&state
 *                                    (state: random, single use, 10 minutes, bound to a cookie,
 *                                    kept in the store: any instance may serve the callback)
 *   portal                          → 302 to the app's handler address, FSB24_PUBLIC_URL/bitrix24/oauth/callback,
 *                                    with code, state, domain, member_id, scope, server_domain
 *   GET /bitrix24/oauth/callback   → checks, code exchange (grant_type=authorization_code on
 *                                    FSB24_B24_OAUTH_URL; the code lives 30 s), tokens proved on the
 *                                    portal and stored, events bound for the mode, lines registered,
 *                                    and a small page saying what was done or exactly what went wrong.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { request } from 'undici';
import type { PortalUnit } from '../portal/unit.js';
import type { ConnectStateUse, Store, StoredTokens } from '../store/store.js';
import { acceptInstall } from '../portal/install.js';

const COOKIE = 'fsb24_connect';
const STATE_TTL_MS = 10 * 60_000;
const NEEDED_SCOPES = ['telephony', 'user'];

type StateCheck = ConnectStateUse | 'missing' | 'other-browser';

/**
 * One-time states, each bound to the browser that asked for it (its cookie), kept in the store
 * (several instances: any of them may serve the connect page or the callback). The store keeps
 * a digest of each state, never the state itself; the state is never logged.
 */
export class ConnectStates {
  constructor(
    private readonly store: Pick<Store, 'connectStates'>,
    private readonly now: () => number = Date.now,
  ) {}

  async create(): Promise<string> {
    const state = randomBytes(24).toString('hex');
    const now = this.now();
    await this.store.connectStates.create(digest(state), now + STATE_TTL_MS, now);
    return state;
  }

  /** The state's browser first (compared in constant time), then the state used once, whoever uses it. */
  async consume(state: string | undefined, cookie: string | undefined): Promise<StateCheck> {
    if (!state) return 'missing';
    const a = Buffer.from(state);
    const b = Buffer.from(cookie ?? '');
    if (a.length !== b.length || !timingSafeEqual(a, b)) return 'other-browser';
    return this.store.connectStates.consume(digest(state), this.now());
  }
}

function digest(state: string): string {
  return createHash('sha256').update(state).digest('hex');
}

const STATE_TEXT: Record<Exclude<StateCheck, 'ok'>, string> = {
  missing:
    'The portal sent the browser back without a state: open /bitrix24/connect again to start the connection here.',
  unknown: 'This connection attempt is unknown (it expired, or was not started here): open /bitrix24/connect again.',
  expired: 'This connection attempt expired (it is valid for 10 minutes): open /bitrix24/connect again.',
  used: 'This connection attempt was used already: open /bitrix24/connect again.',
  'other-browser':
    'This connection was started in another browser (its cookie is missing): open /bitrix24/connect in this browser.',
};

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(reply: FastifyReply, status: number, title: string, lines: string[]): FastifyReply {
  const body =
    `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body>` +
    `<h1>${esc(title)}</h1><ul>${lines.map((l) => `<li>${esc(l)}</li>`).join('')}</ul></body></html>`;
  return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
}

function cookieOf(req: FastifyRequest, name: string): string | undefined {
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

/** Where the admin's browser reaches the service. */
export function connectUrl(publicUrl: string, fallback: string): string {
  return new URL('/bitrix24/connect', publicUrl || fallback).href;
}

export function connectRoutes(
  app: FastifyInstance,
  only: PortalUnit,
  states = new ConnectStates(only.store, () => only.clock.now()),
  /** Several portals (FSB24_TENANTS): the one a host names (`?portal=` here, the callback's `domain`). */
  pick?: (host: string | undefined) => PortalUnit | undefined,
  /** Several instances: the callback's calls to Bitrix24 made by the portal's holder (default: here). */
  complete: (svc: PortalUnit, g: ConnectGrant) => Promise<ConnectPage> = completeConnect,
): void {
  app.get('/bitrix24/connect', async (req, reply) => {
    const asked = (req.query as Record<string, unknown>).portal;
    const svc = pick ? pick(typeof asked === 'string' ? asked : undefined) : only;
    if (!svc) {
      const how = 'Open /bitrix24/connect?portal=<host> with a portal of FSB24_TENANTS.';
      return page(reply, 404, 'No such portal', [how]);
    }
    const c = svc.config;
    if (svc.client.mode !== 'oauth')
      return page(reply, 409, 'Not used in webhook mode', [
        'FSB24_B24_WEBHOOK_URL is set: unset it to use the local application.',
      ]);
    if (!c.b24.portalUrl || !c.b24.clientId)
      return page(reply, 409, 'Not configured', [
        'Set FSB24_B24_PORTAL_URL, FSB24_B24_CLIENT_ID and FSB24_B24_CLIENT_SECRET first.',
      ]);
    const state = await states.create();
    const secure = new URL(c.publicUrl || svc.url || 'http://x').protocol === 'https:';
    const to = new URL('/oauth/authorize/', c.b24.portalUrl);
    to.searchParams.set('client_id', c.b24.clientId);
    to.searchParams.set('state', state);
    const cookie =
      `${COOKIE}=${state}; Max-Age=600; Path=/bitrix24/oauth; HttpOnly; SameSite=Lax` + (secure ? '; Secure' : '');
    req.log.debug('connect started');
    return reply
      .code(302)
      .header('set-cookie', cookie)
      .header('cache-control', 'no-store')
      .header('location', to.href)
      .send();
  });

  app.get('/bitrix24/oauth/callback', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const s = (k: string): string | undefined =>
      typeof q[k] === 'string' && q[k] !== '' ? (q[k] as string) : undefined;
    const fail = (title: string, ...lines: string[]): FastifyReply => {
      only.log.warn({ reason: title }, 'connect failed');
      return page(reply, 400, `Not connected: ${title}`, lines);
    };
    if (s('error')) return fail('the portal refused', `${s('error')}: ${s('error_description') ?? ''}`);
    const check = await states.consume(s('state'), cookieOf(req, COOKIE));
    if (check !== 'ok') return fail(`state ${check}`, STATE_TEXT[check]);
    const domain = s('domain');
    const svc = pick ? (pick(domain) ?? only) : only;
    const c = svc.config;
    const portal = new URL(c.b24.portalUrl);
    if (domain !== portal.host) {
      return fail(
        'another portal',
        `The browser came back from ${domain ?? '(no domain)'}, ` +
          `but this service serves ${portal.host} (FSB24_B24_PORTAL_URL).`,
      );
    }
    const code = s('code');
    if (!code) return fail('no code', 'The portal sent no authorization code.');
    const granted = (s('scope') ?? '').split(',').map((x) => x.trim());
    const missing = NEEDED_SCOPES.filter((x) => !granted.includes(x));
    if (missing.length)
      return fail(
        'scopes missing',
        `The application lacks the scope(s) ${missing.join(', ')}: ` +
          'add them in its settings, then open /bitrix24/connect again.',
      );
    // the code lives 30 s: exchanged at once, where the portal's REST calls are made (several instances: its holder)
    const done = await complete(svc, { code, memberId: s('member_id') });
    if (done.status !== 200) svc.log.warn({ reason: done.title }, 'connect failed');
    return page(reply, done.status, done.title, done.lines);
  });
}

/** What the admin's browser came back with, once its state, portal and scopes are checked. */
export interface ConnectGrant {
  code: string;
  memberId: string | undefined;
}

/** The page the callback answers: what was done, or exactly what went wrong. */
export interface ConnectPage {
  status: number;
  title: string;
  lines: string[];
}

/**
 * The rest of the callback, every call to Bitrix24 in it (the code exchange, the tokens proved on
 * the portal, the bindings and lines, the directory): run by whichever instance sends for the
 * portal (bin/cluster.ts hands it there).
 */
export async function completeConnect(svc: PortalUnit, g: ConnectGrant): Promise<ConnectPage> {
  const c = svc.config;
  const portal = new URL(c.b24.portalUrl);
  const fail = (title: string, ...lines: string[]): ConnectPage => ({
    status: 400,
    title: `Not connected: ${title}`,
    lines,
  });
  const { code } = g;
  // the code lives 30 s: exchange it at once (an outbound call to the OAuth server)
  const u = new URL('/oauth/token/', c.b24.oauthUrl);
  u.searchParams.set('grant_type', 'authorization_code');
  u.searchParams.set('client_id', c.b24.clientId);
  u.searchParams.set('client_secret', c.b24.clientSecret);
  u.searchParams.set('code', code);
  let body: Record<string, unknown>;
  try {
    const res = await request(u, {
      method: 'GET',
      ...(svc.userAgent ? { headers: { 'user-agent': svc.userAgent } } : {}),
      headersTimeout: c.b24.requestTimeoutMs,
      bodyTimeout: c.b24.requestTimeoutMs,
    });
    body = ((await res.body.json().catch(() => ({}))) ?? {}) as Record<string, unknown>;
  } catch (err) {
    return fail('the OAuth server is unreachable', `${new URL(c.b24.oauthUrl).host}: ${(err as Error).message}`);
  }
  if (typeof body.access_token !== 'string' || typeof body.refresh_token !== 'string') {
    const error = String(body.error ?? 'no tokens');
    const why =
      error === 'invalid_grant'
        ? 'The authorization code was already used or expired (it lives 30 seconds): open /bitrix24/connect again.'
        : error === 'invalid_client'
          ? 'FSB24_B24_CLIENT_ID / FSB24_B24_CLIENT_SECRET do not match the application on the portal.'
          : `The OAuth server answered ${error}: ${String(body.error_description ?? '')}`;
    return fail(error === 'invalid_grant' ? 'code already used or expired' : 'code exchange refused', why);
  }
  const tokenScopes = String(body.scope ?? '').split(',');
  const lacking = NEEDED_SCOPES.filter((x) => !tokenScopes.includes(x));
  if (lacking.length)
    return fail(
      'scopes missing',
      `The tokens lack the scope(s) ${lacking.join(', ')}: add them to the application, then connect again.`,
    );
  const previous = await svc.store.tokens();
  const expiresIn = Number(body.expires_in ?? 3600);
  let tokens: StoredTokens;
  try {
    tokens = await acceptInstall(
      {
        accessToken: body.access_token,
        refreshToken: body.refresh_token,
        domain: portal.host,
        expires: typeof body.expires === 'number' ? body.expires : Math.floor(svc.clock.now() / 1000) + expiresIn,
        clientEndpoint:
          typeof body.client_endpoint === 'string' ? body.client_endpoint : new URL('/rest/', portal).href,
        memberId: String(body.member_id ?? g.memberId ?? ''),
        applicationToken: previous?.applicationToken ?? '',
        scope: String(body.scope ?? ''),
      },
      c.b24.portalUrl,
      svc.store,
      c.b24.requestTimeoutMs,
      svc.clock,
      svc.userAgent,
    );
  } catch (err) {
    return fail('tokens refused', (err as Error).message);
  }
  svc.log.info({ domain: tokens.domain, memberId: tokens.memberId }, 'connected through the browser');
  const done = [
    `Connected to ${portal.host} (member ${tokens.memberId}); the tokens work on the portal and are stored.`,
  ];
  try {
    const r = await svc.bind();
    done.push(
      c.events.mode === 'offline'
        ? `Bound ${r.bound.join(', ')} as offline events: ` +
            `the service pulls them every ${c.events.offlinePollMs} ms, no inbound address needed.`
        : `Bound ${r.bound.join(', ')} to ${svc.handlerUrl()}.`,
    );
    done.push(
      r.lines.length
        ? `Lines registered: ${r.lines.join(', ')}.`
        : 'No lines configured (FSB24_LINES, FSB24_LINE_GATEWAYS).',
    );
  } catch (err) {
    return { status: 502, title: 'Connected, but the events are not bound', lines: [...done, (err as Error).message] };
  }
  void svc.directory.refresh();
  svc.offline?.kick();
  if (c.events.mode === 'online' && !tokens.applicationToken) {
    done.push(
      'Online mode: events are verified by the application_token that arrives with the install event; ' +
        'set the initial installation path to …/bitrix24/events and reinstall, or use FSB24_EVENTS_MODE=offline.',
    );
  }
  done.push(
    "Next: Telephony → Settings → Default number for outgoing calls: choose the application's line; " +
      'give every employee their extension in Internal phone; run freeswitch-bitrix24 check.',
  );
  return { status: 200, title: 'Connected to Bitrix24', lines: done };
}
