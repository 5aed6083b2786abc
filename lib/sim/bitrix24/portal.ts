/**
 * The Bitrix24 portal emulator: REST (webhook and OAuth), the OAuth server, limits,
 * batch, uploads and the event sender, as bitrix24-telephony.md §1-§11 and its
 * checklist §14 describe. A Fastify app built on demand; state and journal readable.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import qs from 'qs';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { LeakyBucket } from './bucket.js';
import { RestError } from './errors.js';
import { PortalState } from './state.js';
import type * as tel from './telephony.js';
import type { ListResult } from './methods.js';
import { METHODS, SCOPE_OF } from './registry.js';
import { Journal } from '../journal.js';
import { runBatch } from './batch.js';
import { OperatingClock, timeBlock } from './operating.js';
import { offlineRoutes } from './authorize.js';
import { tokenEndpoint } from './token.js';
import { upload } from './upload.js';
import * as ev from './app-events.js';

export type { PortalRequest } from './state.js';
import type { PortalRequest } from './state.js';

export interface EmulatorOptions {
  port?: number;
  host?: string;
  /** The portal's public host (the `domain` of events, the host of client_endpoint). */
  domain?: string;
  clientId?: string;
  clientSecret?: string;
  scopes?: string;
  /** Leaky bucket: burst X and drain Y per second (default 50 and 2). */
  burst?: number;
  drainPerSec?: number;
  accessTokenTtlSec?: number;
  webhookAllowedForRegister?: boolean;
  now?: () => number;
  /** Server seconds per method per 10 minutes before OPERATION_TIME_LIMIT (default 480). */
  operatingLimitSec?: number;
  /** Server seconds a call of a method costs (default: the time it really took here). */
  operatingCost?: (method: string) => number;
}

interface Token {
  userId: number;
  expiresAt: number;
}

export class Bitrix24Emulator {
  readonly state = new PortalState();
  readonly journal = new Journal<PortalRequest>();
  readonly now: () => number;
  readonly bucket: LeakyBucket;
  domain: string;
  readonly app: {
    id: string;
    clientId: string;
    clientSecret: string;
    memberId: string;
    applicationToken: string;
    scopes: string;
    installed: boolean;
  };
  readonly webhook = { userId: 1, secret: randomBytes(8).toString('hex') };
  webhookAllowedForRegister: boolean;
  accessTokenTtlSec: number;
  /** Methods answering 429 OPERATION_TIME_LIMIT whatever their time (tests). */
  readonly blockedMethods = new Set<string>();
  /** Server time per (app, method) in the sliding 10 minutes; past the limit, the method is blocked. */
  readonly operating: OperatingClock;
  private readonly tokens = new Map<string, Token>();
  private readonly refreshTokens = new Map<string, { userId: number; used: boolean }>();
  private readonly uploads = new Map<string, string>();
  private outage: 'none' | 'reset' | 'http500' = 'none';
  /** REST requests that met an outage (refused or reset): what a client's probing cost. */
  outageRequests = 0;
  slowMs = 0;
  /** Methods whose next request is carried out and then its connection cut before the answer (see `loseReplyTo`). */
  private readonly replyLost = new Set<string>();
  readonly app_: FastifyInstance;
  url = '';

  constructor(private readonly opts: EmulatorOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.bucket = new LeakyBucket(opts.burst ?? 50, opts.drainPerSec ?? 2, this.now);
    this.operating = new OperatingClock(opts.operatingLimitSec ?? 480, this.now);
    this.domain = opts.domain ?? '';
    this.webhookAllowedForRegister = opts.webhookAllowedForRegister ?? false;
    this.accessTokenTtlSec = opts.accessTokenTtlSec ?? 3600;
    this.app = {
      id: '7',
      clientId: opts.clientId ?? 'local.65f1e2d3c4b5a6.12345678',
      clientSecret: opts.clientSecret ?? randomBytes(16).toString('hex'),
      memberId: randomBytes(16).toString('hex'),
      applicationToken: randomBytes(16).toString('hex'),
      scopes: opts.scopes ?? 'telephony,user',
      installed: false,
    };
    this.app_ = this.build();
  }

  // ---- control --------------------------------------------------------------------------

  async listen(port = this.opts.port ?? 0, host = this.opts.host ?? '127.0.0.1'): Promise<string> {
    await this.app_.listen({ port, host });
    const addr = this.app_.server.address();
    const p = typeof addr === 'object' && addr ? addr.port : port;
    this.url = `http://${host}:${p}`;
    // the portal's host is where it is reached, unless a test names another
    if (!this.domain) this.domain = `${host}:${p}`;
    return this.url;
  }

  async close(): Promise<void> {
    await this.app_.close();
  }

  /** The REST base of the OAuth app (client_endpoint). */
  get restUrl(): string {
    return `${this.url}/rest/`;
  }

  get webhookUrl(): string {
    return `${this.url}/rest/${this.webhook.userId}/${this.webhook.secret}/`;
  }

  setOutage(mode: 'none' | 'reset' | 'http500'): void {
    this.outage = mode;
  }

  /**
   * The next request carrying `method` (alone or in a batch) is carried out in full, then its
   * connection is cut before the answer: what a client killed, or cut off, in mid-request sees.
   */
  loseReplyTo(method: string): void {
    this.replyLost.add(method.toLowerCase());
  }

  /** Issue a token pair as an install or a code exchange would. */
  issueTokens(userId = 1): { access_token: string; refresh_token: string; expires: number; expires_in: number } {
    const access = randomBytes(20).toString('hex');
    const refresh = randomBytes(20).toString('hex');
    const expires = Math.floor(this.now() / 1000) + this.accessTokenTtlSec;
    this.tokens.set(access, { userId, expiresAt: expires * 1000 });
    this.refreshTokens.set(refresh, { userId, used: false });
    return { access_token: access, refresh_token: refresh, expires, expires_in: this.accessTokenTtlSec };
  }

  /** Expire every access token now (the next call gets 401 expired_token). */
  expireTokens(): void {
    for (const t of this.tokens.values()) t.expiresAt = 0;
  }

  authBlock(
    tokens: { access_token: string; refresh_token?: string; expires: number } | null,
    userId = 1,
  ): Record<string, string> {
    return {
      ...(tokens
        ? {
            access_token: tokens.access_token,
            expires: String(tokens.expires),
            expires_in: String(this.accessTokenTtlSec),
          }
        : {}),
      scope: this.app.scopes,
      domain: this.domain,
      server_endpoint: `${this.url}/rest/`,
      status: 'L',
      client_endpoint: this.restUrl,
      member_id: this.app.memberId,
      user_id: String(userId),
      ...(tokens?.refresh_token ? { refresh_token: tokens.refresh_token } : {}),
      application_token: this.app.applicationToken,
    };
  }

  /** POST an event to a URL exactly as the queue server does (§10.1): form, PHP keys, strings, no retry. */
  postEvent(
    url: string,
    event: string,
    data: Record<string, unknown>,
    auth: Record<string, string>,
    handlerId = '1',
  ): Promise<number> {
    return ev.postEvent(this, url, event, data, auth, handlerId);
  }

  /** Install the local application: ONAPPINSTALL with tokens to its install handler. */
  install(handlerUrl: string, userId = 1): Promise<number> {
    return ev.install(this, handlerUrl, userId);
  }

  /** A user clicks a number in the CRM (§10.3): the portal registers the call and sends ONEXTERNALCALLSTART. */
  clickToCall(o: ev.ClickToCall): Promise<{ callId: string; statuses: number[] }> {
    return ev.clickToCall(this, o, this.ctx('oauth', o.userId, ''));
  }

  /** A visitor asks for a callback in a CRM form (§10.4): no CALL_ID, no USER_ID. */
  callbackRequest(o: ev.CallbackRequest): Promise<number[]> {
    return ev.callbackRequest(this, o);
  }

  // ---- REST -----------------------------------------------------------------------------

  private ctx(authType: 'oauth' | 'webhook', userId: number, accessToken: string): tel.CallContext {
    return {
      state: this.state,
      appId: authType === 'oauth' ? this.app.id : '',
      authType,
      userId,
      portalHost: this.domain,
      accessToken,
      now: this.now,
      webhookAllowedForRegister: this.webhookAllowedForRegister,
      baseUrl: this.url,
      registerUpload: (token, callId) => this.uploads.set(token, callId),
      scopes: authType === 'oauth' ? this.app.scopes.split(',') : ['telephony', 'user'],
    };
  }

  /** Run one method; throws RestError. `List` results carry total/next; every reply its `time`. */
  private async call(
    method: string,
    params: tel.Params,
    ctx: tel.CallContext,
  ): Promise<{ result: unknown; total?: number; next?: number; time: unknown }> {
    const fn = METHODS[method];
    if (!fn) throw new RestError(404, 'ERROR_METHOD_NOT_FOUND', 'Method not found!');
    const app = ctx.authType === 'oauth' ? ctx.appId : 'webhook';
    if (this.blockedMethods.has(method) || this.operating.blocked(app, method)) {
      throw new RestError(429, 'OPERATION_TIME_LIMIT', 'Method is blocked due to operation time limit.');
    }
    const scope = SCOPE_OF[method.split('.')[0] ?? ''];
    const granted = ctx.scopes;
    if (scope && !granted.includes(scope)) {
      throw new RestError(
        403,
        'insufficient_scope',
        'The request requires higher privileges than provided by the webhook token',
      );
    }
    const started = this.now();
    const t0 = performance.now();
    let out: unknown;
    try {
      out = await fn(ctx, params);
    } finally {
      this.operating.charge(app, method, this.opts.operatingCost?.(method) ?? (performance.now() - t0) / 1000);
    }
    const time = timeBlock(started, this.now(), this.operating.state(app, method));
    if (method === 'user.get' || method === 'event.offline.list') {
      const l = out as ListResult;
      return { result: l.list, total: l.total, ...(l.next !== undefined ? { next: l.next } : {}), time };
    }
    return { result: out, time };
  }

  private envelope(body: Record<string, unknown>, started: number): Record<string, unknown> {
    return { ...body, time: body.time ?? timeBlock(started, this.now()) };
  }

  private authenticate(
    pathUser: string | undefined,
    pathSecret: string | undefined,
    params: tel.Params,
  ): tel.CallContext {
    if (pathUser !== undefined) {
      if (Number(pathUser) === this.webhook.userId && pathSecret === this.webhook.secret)
        return this.ctx('webhook', this.webhook.userId, '');
      throw new RestError(401, 'NO_AUTH_FOUND', 'Wrong authorization data');
    }
    const token = typeof params.auth === 'string' ? params.auth : '';
    const t = this.tokens.get(token);
    if (!t) throw new RestError(401, 'NO_AUTH_FOUND', 'Wrong authorization data');
    if (t.expiresAt <= this.now()) throw new RestError(401, 'expired_token', 'The access token provided has expired');
    return this.ctx('oauth', t.userId, token);
  }

  private async rest(req: FastifyRequest, reply: FastifyReply, segments: string[]): Promise<unknown> {
    if (this.outage !== 'none') this.outageRequests++;
    if (this.outage === 'reset') {
      req.raw.socket.destroy();
      return reply.hijack();
    }
    if (this.slowMs > 0) await sleep(this.slowMs);
    if (this.outage === 'http500')
      return reply.code(500).send({ error: 'INTERNAL_SERVER_ERROR', error_description: 'Internal server error' });
    const raw = segments[segments.length - 1] ?? '';
    const method = raw.replace(/\.(json|xml)$/i, '').toLowerCase();
    const [pathUser, pathSecret] = segments.length === 3 ? segments : [undefined, undefined];
    const params = { ...(req.query as Record<string, unknown>), ...bodyObject(req.body) };
    const entry: PortalRequest = {
      method,
      params,
      auth: pathUser ? 'webhook' : typeof params.auth === 'string' ? 'oauth' : 'none',
      status: 200,
      at: this.now(),
      ...(req.headers['user-agent'] ? { agent: req.headers['user-agent'] } : {}),
    };
    const started = this.now();
    const journaled = this.journal.entries.length;
    try {
      if (!this.bucket.take()) throw new RestError(503, 'QUERY_LIMIT_EXCEEDED', 'Too many requests');
      const ctx = this.authenticate(pathUser, pathSecret, params);
      const { auth: _auth, ...rest } = params;
      entry.params = rest;
      const out =
        method === 'batch'
          ? await runBatch(
              rest,
              (sub, p) => this.call(sub, p, ctx),
              (e) =>
                this.journal.push({
                  ...e,
                  auth: ctx.authType,
                  at: this.now(),
                  batch: true,
                  ...(entry.agent ? { agent: entry.agent } : {}),
                }),
            )
          : await this.call(method, rest, ctx);
      entry.result = out.result;
      this.journal.push(entry);
      const carried = this.journal.entries.slice(journaled).map((e) => e.method);
      const lost = [...this.replyLost].find((m) => carried.includes(m));
      if (lost !== undefined) {
        this.replyLost.delete(lost);
        req.raw.socket.destroy();
        return reply.hijack();
      }
      return reply
        .code(200)
        .header('content-type', 'application/json; charset=utf-8')
        .send(this.envelope(out, started));
    } catch (err) {
      if (!(err instanceof RestError)) throw err;
      entry.status = err.status;
      entry.error = err.error;
      this.journal.push(entry);
      return reply.code(err.status).send({ error: err.error, error_description: err.description });
    }
  }

  private build(): FastifyInstance {
    const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 * 1024 });
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, qs.parse(String(body), { depth: 10, arrayLimit: 1000, parameterLimit: 10000 }));
    });
    app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.route({
      method: ['GET', 'POST'],
      url: '/oauth/token/',
      handler: (req, reply) =>
        tokenEndpoint(
          this,
          this.refreshTokens,
          { ...(req.query as Record<string, unknown>), ...bodyObject(req.body) },
          reply,
        ),
    });
    offlineRoutes(app, this);
    app.post('/rest/upload.json', (req, reply) => upload(this, this.uploads, this.tokens, req, reply));
    const handler = (req: FastifyRequest, reply: FastifyReply): Promise<unknown> =>
      this.rest(req, reply, (req.params as { '*': string })['*'].split('/').filter(Boolean));
    // the front page (what `check` asks first) goes down with the portal: reset, or 503
    app.get('/', async (req, reply) =>
      this.outage === 'reset'
        ? (req.raw.socket.destroy(), reply.hijack())
        : reply
            .code(this.outage === 'none' ? 200 : 503)
            .type('text/html')
            .send('<html></html>'),
    );
    app.get('/rest/*', handler);
    app.post('/rest/*', handler);
    return app;
  }
}

function bodyObject(body: unknown): Record<string, unknown> {
  return body && typeof body === 'object' && !Buffer.isBuffer(body) && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : {};
}

export async function startBitrix24Emulator(opts: EmulatorOptions = {}): Promise<Bitrix24Emulator> {
  const emu = new Bitrix24Emulator(opts);
  await emu.listen();
  return emu;
}
