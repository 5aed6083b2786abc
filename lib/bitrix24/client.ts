/**
 * The Bitrix24 REST client (bitrix24-telephony.md §1-§3): JSON bodies over one undici
 * Pool per origin, OAuth local application with a single-flight refresh (rotating
 * refresh tokens are persisted before use) or an incoming webhook, one shared rate
 * limiter, rate-limit errors recognised by code, a deadline on every request.
 */
import { Pool, errors as undiciErrors } from 'undici';
import { B24Error, isRateLimit } from './errors.js';
import { OperatingLimits, parseTimeBlock, type RateLimiter, type TimeBlock } from './limiter.js';
import type { Store, StoredTokens } from '../store/store.js';
import { scrub, type Logger } from '../log.js';
import { batchWithFiles, jsonWithBase64File, type StreamedFile } from './bodies.js';
import { SpareConnection } from './spare.js';

export { pctBase64, pctBase64Stream } from './bodies.js';

export interface ClientOptions {
  mode: 'oauth' | 'webhook';
  webhookUrl?: string;
  oauthUrl?: string;
  clientId?: string;
  clientSecret?: string;
  store: Store;
  limiter: RateLimiter;
  /** Per-method server time (§3.2); fed from every reply's `time` block. */
  operating?: OperatingLimits;
  timeoutMs: number;
  log: Logger;
  /** Sent with every request (several instances: which one sent it). */
  userAgent?: string;
  /**
   * Several instances on one database: a token refresh runs under this lock (Bitrix24 rotates
   * refresh tokens: two instances refreshing with the same one would lose the portal).
   */
  refreshLock?: <T>(fn: () => Promise<T>) => Promise<T>;
}

export interface BatchResult {
  result: Record<string, unknown>;
  errors: Record<string, { error: string; error_description: string }>;
  /** Each sub-result's `time` block (`result_time`), when the portal sent one. */
  time: Record<string, TimeBlock>;
}

type Envelope = {
  result?: unknown;
  total?: number;
  next?: number;
  error?: string;
  error_description?: string;
  time?: unknown;
};

/** An idle connection is kept this long (unless the portal's `Keep-Alive: timeout` says less). */
const KEEP_ALIVE_MS = 30_000;

export class Bitrix24Client {
  private readonly pools = new Map<string, Pool>();
  /** The origin REST requests went to last (the portal's). */
  private restOrigin: string | null = null;
  /** A connection opened when a call starts and none is open (./spare.ts). */
  readonly spare = new SpareConnection(KEEP_ALIVE_MS);
  private refreshing: Promise<StoredTokens> | null = null;
  /** The last error a request got, until one succeeds again (health). */
  lastError: { at: number; message: string } | null = null;
  requests = 0;
  /** Called once per HTTP request with its outcome (metrics). */
  onRequest: ((method: string, result: string) => void) | null = null;

  readonly operating: OperatingLimits;

  constructor(private readonly o: ClientOptions) {
    this.operating = o.operating ?? new OperatingLimits();
  }

  get mode(): 'oauth' | 'webhook' {
    return this.o.mode;
  }

  tokens(): Promise<StoredTokens | null> {
    return this.o.store.tokens();
  }

  private pool(origin: string): Pool {
    let p = this.pools.get(origin);
    if (!p) {
      p = new Pool(origin, {
        connections: 4,
        pipelining: 1,
        keepAliveTimeout: KEEP_ALIVE_MS,
        connect: this.spare.connect,
        headersTimeout: this.o.timeoutMs,
        bodyTimeout: this.o.timeoutMs,
      });
      this.pools.set(origin, p);
    }
    return p;
  }

  /**
   * A call starts: unless a connection to the portal is open or in use, open one now, so its
   * register does not wait for TCP and TLS. Sends nothing; not installed yet: does nothing.
   */
  preconnect(): void {
    // the usual case, on every call: the pool has a connection; nothing is read, nothing opened
    const s = this.restOrigin ? this.pools.get(this.restOrigin)?.stats : undefined;
    if (s && s.connected + s.pending + s.running > 0) return;
    const known = this.restOrigin ?? (this.o.mode === 'webhook' ? new URL(this.o.webhookUrl!).origin : null);
    const origin = known
      ? Promise.resolve(known)
      : this.tokens().then((t) => (t ? new URL(t.clientEndpoint).origin : null));
    void origin.then((o) => o && this.spare.open(o)).catch(() => undefined);
  }

  /** Take a slot of the rate limit for a request made elsewhere (the upload of a recording). */
  acquireSlot(): Promise<void> {
    return this.o.limiter.acquire(false);
  }

  /**
   * Take a slot now if one is free, for a request that goes at once with `prepaid` (the outbox: what it planned
   * never waits in the limiter's queue, where a new card could not join it); false: none free.
   */
  takeSlot(): boolean {
    return this.o.limiter.tryAcquire();
  }

  /** Give back a slot taken for a request that did not go. */
  refundSlot(): void {
    this.o.limiter.refund();
  }

  /** Fewer than half the bucket's slots are free: requests should carry all they can. */
  loaded(): boolean {
    return this.o.limiter.available() < this.o.limiter.burst / 2;
  }

  /** One REST call; resolves with `result` (and total/next for lists). */
  async call<T = unknown>(
    method: string,
    params: Record<string, unknown> = {},
    opts: { urgent?: boolean; prepaid?: boolean } = {},
  ): Promise<T> {
    const env = await this.send(method, params, opts.urgent ?? false, false, undefined, opts.prepaid ?? false);
    return env.result as T;
  }

  async list<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T[]> {
    const out: T[] = [];
    let start = 0;
    for (let page = 0; page < 1000; page++) {
      const env = await this.send(method, { ...params, start }, false);
      if (!Array.isArray(env.result))
        throw new B24Error('B24_ERR_BAD_REPLY', `${method}: result is not a list`, { method });
      out.push(...(env.result as T[]));
      if (typeof env.next !== 'number') break;
      start = env.next;
    }
    return out;
  }

  /**
   * `batch` with halt=0: per-command results and errors (an empty map arrives as []).
   * `files[key]` yields a file's bytes, appended to `cmd[key]` as `&FILE_CONTENT=<base64>`:
   * encoded into the body as it goes out, never held whole (inline recordings).
   */
  async batch(
    cmd: Record<string, string>,
    files: Record<string, () => AsyncIterable<Buffer>> = {},
    opts: { prepaid?: boolean } = {},
  ): Promise<BatchResult> {
    const streamed = Object.keys(files).length > 0 ? { kind: 'batch' as const, files } : undefined;
    const env = await this.send('batch', { halt: 0, cmd }, false, false, streamed, opts.prepaid ?? false);
    const r = env.result as { result?: unknown; result_error?: unknown } | undefined;
    if (!r || typeof r !== 'object') throw new B24Error('B24_ERR_BAD_REPLY', 'batch: no result', { method: 'batch' });
    const asMap = (v: unknown): Record<string, unknown> =>
      v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
    const time: Record<string, TimeBlock> = {};
    const errors = asMap(r.result_error) as BatchResult['errors'];
    for (const [key, raw] of Object.entries(asMap((r as { result_time?: unknown }).result_time))) {
      const block = parseTimeBlock(raw);
      if (block) time[key] = block;
    }
    for (const [key, line] of Object.entries(cmd)) {
      const sub = line.split('?', 1)[0]!.replace(/\.json$/i, '');
      if (time[key]) this.operating.note(sub, time[key]!);
      if (errors[key]?.error === 'OPERATION_TIME_LIMIT') this.operating.blocked(sub);
    }
    return { result: asMap(r.result), errors, time };
  }

  /**
   * A call whose `field` is a file sent as base64 inside the JSON body, streamed from
   * disk: memory does not grow with the file (attachRecord's FILE_CONTENT).
   */
  async callWithFile<T = unknown>(
    method: string,
    params: Record<string, unknown>,
    field: string,
    path: string,
    size: number,
    opts: { prepaid?: boolean } = {},
  ): Promise<T> {
    const env = await this.send(method, params, false, false, { field, path, size }, opts.prepaid ?? false);
    return env.result as T;
  }

  private async send(
    method: string,
    params: Record<string, unknown>,
    urgent: boolean,
    refreshed = false,
    file?: StreamedFile,
    /** Its slot was taken already (`takeSlot`). */
    prepaid = false,
  ): Promise<Envelope> {
    let url: URL;
    let body: Record<string, unknown> = params;
    let sentToken: string | undefined;
    if (this.o.mode === 'webhook') {
      url = new URL(`${method}.json`, this.o.webhookUrl!.endsWith('/') ? this.o.webhookUrl : `${this.o.webhookUrl}/`);
    } else {
      const t = await this.tokens();
      if (!t)
        throw new B24Error('B24_ERR_NOT_INSTALLED', 'the application is not installed on the portal yet (no tokens)', {
          method,
        });
      url = new URL(`${method}.json`, t.clientEndpoint);
      body = { ...params, auth: t.accessToken };
      sentToken = t.accessToken;
    }
    this.restOrigin = url.origin;
    if (!prepaid) await this.o.limiter.acquire(urgent);
    this.requests++;
    let status: number;
    let text: string;
    try {
      const payload =
        file?.kind === 'batch'
          ? batchWithFiles(body, file.files)
          : file
            ? jsonWithBase64File(body, file.field, file.path, file.size)
            : { body: JSON.stringify(body), length: undefined };
      const res = await this.pool(url.origin).request({
        method: 'POST',
        path: url.pathname + url.search,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(this.o.userAgent ? { 'user-agent': this.o.userAgent } : {}),
          ...(payload.length !== undefined ? { 'content-length': String(payload.length) } : {}),
        },
        body: payload.body,
        headersTimeout: this.o.timeoutMs,
        bodyTimeout: this.o.timeoutMs,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      const timeout = err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError;
      const e = new B24Error(
        timeout ? 'B24_ERR_TIMEOUT' : 'B24_ERR_NETWORK',
        `${method}: ${timeout ? 'no reply in time' : scrub((err as Error).message)}`,
        { method },
        { cause: err },
      );
      this.noteError(e);
      throw e;
    }
    let env: Envelope;
    try {
      env = JSON.parse(text) as Envelope;
      if (!env || typeof env !== 'object') throw new Error('not an object');
    } catch {
      const e = new B24Error(
        status >= 500 ? 'B24_ERR_REST' : 'B24_ERR_BAD_REPLY',
        `${method}: HTTP ${status}, not a JSON envelope`,
        { status, method },
      );
      this.noteError(e);
      throw e;
    }
    if (typeof env.error === 'string') {
      if (isRateLimit(env.error)) {
        if (env.error === 'OPERATION_TIME_LIMIT') this.operating.blocked(method);
        else this.o.limiter.saturate();
        const e = new B24Error('B24_ERR_RATE_LIMIT', `${method}: ${env.error}`, {
          status,
          error: env.error,
          description: env.error_description,
          method,
        });
        this.noteError(e);
        throw e;
      }
      if (env.error === 'expired_token' && this.o.mode === 'oauth' && !refreshed) {
        await this.refresh(sentToken);
        return this.send(method, params, urgent, true, file);
      }
      const code = status === 401 ? 'B24_ERR_AUTH' : 'B24_ERR_REST';
      const e = new B24Error(code, `${method}: ${env.error}: ${env.error_description ?? ''}`, {
        status,
        error: env.error,
        description: env.error_description,
        method,
      });
      this.noteError(e);
      throw e;
    }
    if (status >= 400) {
      const e = new B24Error('B24_ERR_REST', `${method}: HTTP ${status}`, { status, method });
      this.noteError(e);
      throw e;
    }
    this.operating.note(method, parseTimeBlock(env.time));
    this.onRequest?.(method, 'ok');
    this.lastError = null; // the portal answers again: /healthz stops showing the old error
    return env;
  }

  private noteError(e: B24Error): void {
    this.onRequest?.(e.detail.method ?? 'unknown', e.detail.error ?? e.code);
    this.lastError = { at: Date.now(), message: scrub(e.message) };
    this.o.log.warn({ err: e }, 'bitrix24 request failed');
  }

  /**
   * Concurrent 401s share one refresh: a refresh token is good for one use only (§2.2).
   * `spent`: the access token the portal called expired; under the lock, stored tokens that
   * differ from it were refreshed meanwhile (by another instance) and are used as they are.
   */
  refresh(spent?: string): Promise<StoredTokens> {
    if (!this.refreshing) {
      const run = (): Promise<StoredTokens> => this.doRefresh(spent);
      this.refreshing = (this.o.refreshLock ? this.o.refreshLock(run) : run()).finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(spent?: string): Promise<StoredTokens> {
    const t = await this.tokens();
    if (!t) throw new B24Error('B24_ERR_NOT_INSTALLED', 'no refresh token: install the application');
    if (spent !== undefined && t.accessToken !== spent) {
      this.o.log.info('oauth tokens were refreshed by another instance; using them');
      return t;
    }
    const u = new URL('/oauth/token/', this.o.oauthUrl);
    u.searchParams.set('grant_type', 'refresh_token');
    u.searchParams.set('client_id', this.o.clientId ?? '');
    u.searchParams.set('client_secret', this.o.clientSecret ?? '');
    u.searchParams.set('refresh_token', t.refreshToken);
    let res;
    try {
      res = await this.pool(u.origin).request({
        method: 'GET',
        path: u.pathname + u.search,
        headersTimeout: this.o.timeoutMs,
        bodyTimeout: this.o.timeoutMs,
      });
    } catch (err) {
      throw new B24Error('B24_ERR_NETWORK', `token refresh: ${scrub((err as Error).message)}`, {}, { cause: err });
    }
    const body = (await res.body.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.statusCode !== 200 || typeof body.access_token !== 'string' || typeof body.refresh_token !== 'string') {
      const e = new B24Error(
        'B24_ERR_AUTH',
        `token refresh refused: ${String(body.error ?? res.statusCode)} (reinstall the application)`,
        { status: res.statusCode, error: String(body.error ?? '') },
      );
      this.noteError(e);
      throw e;
    }
    const next: StoredTokens = {
      ...t,
      accessToken: body.access_token,
      refreshToken: body.refresh_token,
      expiresAt: typeof body.expires === 'number' ? body.expires * 1000 : Date.now() + 3600_000,
      clientEndpoint: typeof body.client_endpoint === 'string' ? body.client_endpoint : t.clientEndpoint,
    };
    // the old refresh token is spent: persist the new pair before anything uses it
    await this.o.store.setTokens(next);
    this.o.log.info({ expiresAt: new Date(next.expiresAt).toISOString() }, 'oauth tokens refreshed');
    return next;
  }

  async close(): Promise<void> {
    this.spare.close();
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
  }
}
