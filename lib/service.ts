/**
 * The running service: event socket → call model → durable outbox → Bitrix24, and the
 * HTTP side for Bitrix24's events. Built from a frozen config; bin/ owns the process.
 */
import type { FastifyInstance } from 'fastify';
import { EslListener, type Snapshot } from './esl/listener.js';
import { CHANNEL_EVENT_NAMES, EventParseError, toChannelEvent } from './events/channel-event.js';
import { CallModel, type CardPolicy, type ModelConfig } from './calls/model.js';
import { synthesize } from './calls/resync.js';
import type { Effect } from './calls/effects.js';
import { Store, type StoredTokens } from './outbox/store.js';
import { Outbox } from './outbox/scheduler.js';
import { Bitrix24Client, TOKENS_KEY } from './bitrix24/client.js';
import { RateLimiter } from './bitrix24/limiter.js';
import { UserDirectory } from './bitrix24/directory.js';
import { RecordingUploader } from './recordings/uploader.js';
import { buildApp, Unauthorized } from './http/app.js';
import { acceptInstall, sameSecret, InstallRefused } from './http/install.js';
import type { ParsedEvent } from './http/event-body.js';
import { CallEvents } from './originate/handler.js';
import { ResponsibleRouter } from './routing/responsible.js';
import { Metrics } from './metrics.js';
import { Registrations } from './esl/registrations.js';
import { serviceRoutes } from './http/routes.js';
import { RecordingLinks } from './recordings/links.js';
import type { ConfigShape } from './config.js';
import type { Logger } from './log.js';
import type { EslEvent } from './esl/codec.js';

export interface ServiceOptions {
  config: Readonly<ConfigShape>;
  log: Logger;
  extraRoutes?: (app: FastifyInstance, svc: Service) => void;
  recordingsStableMs?: number;
}

export class Service {
  readonly config: Readonly<ConfigShape>;
  readonly log: Logger;
  readonly store: Store;
  readonly limiter: RateLimiter;
  readonly client: Bitrix24Client;
  readonly directory: UserDirectory;
  readonly outbox: Outbox;
  readonly uploader: RecordingUploader;
  readonly listener: EslListener;
  readonly model: CallModel;
  readonly app: FastifyInstance;
  readonly counters = { events: 0, badEvents: 0, effects: 0, callsStarted: 0 };
  readonly callEvents: CallEvents;
  readonly router: ResponsibleRouter;
  readonly metrics: Metrics;
  readonly registrations: Registrations;
  private linksCache: RecordingLinks | null = null;

  /** Signed recording links (url mode); the secret lives in the store, made on first use. */
  get links(): RecordingLinks {
    if (!this.linksCache) {
      let secret = this.store.get<string>('recordings.secret');
      if (!secret) {
        secret = RecordingLinks.newSecret();
        this.store.set('recordings.secret', secret);
      }
      this.linksCache = new RecordingLinks(Buffer.from(secret, 'hex'));
    }
    return this.linksCache;
  }
  private readonly eventListeners: Array<(e: EslEvent) => void> = [];
  url = '';

  constructor(o: ServiceOptions) {
    const c = o.config;
    this.config = c;
    this.log = o.log;
    this.store = new Store(c.dataDir);
    this.limiter = new RateLimiter(c.b24.rateBurst, c.b24.rateDrainPerSec);
    this.client = new Bitrix24Client({
      mode: c.b24.webhookUrl ? 'webhook' : 'oauth',
      webhookUrl: c.b24.webhookUrl,
      oauthUrl: c.b24.oauthUrl,
      clientId: c.b24.clientId,
      clientSecret: c.b24.clientSecret,
      store: this.store,
      limiter: this.limiter,
      timeoutMs: c.b24.requestTimeoutMs,
      log: o.log.child({ mod: 'bitrix24' }),
    });
    this.directory = new UserDirectory(this.client, o.log.child({ mod: 'directory' }));
    this.uploader = new RecordingUploader({
      client: this.client,
      dirs: c.recordings.dirs,
      log: o.log.child({ mod: 'recordings' }),
      inlineMaxBytes: c.recordings.inlineMaxBytes,
      stableMs: o.recordingsStableMs ?? c.recordings.stableMs,
      giveUpMs: c.recordings.giveUpSec * 1000,
      deleteAfterUpload: c.recordings.deleteAfterUpload,
      ...(c.recordings.mode === 'url' ? { linkFor: (path: string, name: string) => new URL(this.links.link(path, name, c.recordings.urlTtlSec), c.publicUrl || this.url).href } : {}),
    });
    this.outbox = new Outbox({
      store: this.store,
      client: this.client,
      directory: this.directory,
      defaultUserId: c.calls.defaultUserId,
      cardWindowMs: c.calls.cardWindowMs,
      retryBaseMs: c.b24.retryBaseMs,
      maxBatch: Math.min(50, Math.max(1, c.b24.batchMax)),
      log: o.log.child({ mod: 'outbox' }),
      recordings: this.uploader,
    });
    this.model = new CallModel(modelConfig(c));
    this.listener = new EslListener({
      host: c.esl.host,
      port: c.esl.port,
      password: c.esl.password,
      events: [...CHANNEL_EVENT_NAMES, 'BACKGROUND_JOB', 'HEARTBEAT', 'CUSTOM', 'sofia::register', 'sofia::unregister', 'sofia::expire'],
      log: o.log.child({ mod: 'esl' }),
    });
    this.registrations = new Registrations(this.listener);
    this.listener.on('event', (e) => this.onEvent(e));
    this.listener.on('ready', (snap) => this.onReady(snap));
    this.listener.on('bad', () => this.metrics.badEvents.inc());
    this.app = buildApp({
      log: o.log.child({ mod: 'http' }),
      bodyLimit: c.http.bodyLimit,
      events: { verify: (ev) => this.verify(ev), handle: (ev) => this.handleEvent(ev) },
      health: () => this.health(),
      extraRoutes: (app) => {
        serviceRoutes(app, this);
        o.extraRoutes?.(app, this);
      },
    });
    this.metrics = new Metrics({
      outbox: () => this.store.stats(),
      limiterWaitMs: () => this.limiter.waitedMs,
      uploads: () => ({ count: this.uploader.uploads, bytes: this.uploader.bytes }),
      reconnects: () => this.listener.reconnects,
      liveCalls: () => this.model.liveCalls,
      operating: () => this.client.operating.totals(),
    });
    this.client.onRequest = (method, result) => this.metrics.rest.inc({ method, result });
    this.callEvents = new CallEvents(this);
    this.router = new ResponsibleRouter({
      client: this.client,
      directory: this.directory,
      log: o.log.child({ mod: 'routing' }),
      deadlineMs: c.routing.deadlineMs,
      cacheSec: c.routing.cacheSec,
      isRegistered: (ext) => this.registrations.has(ext),
    });
  }

  /** Observe raw events (click-to-call tracks its originates). */
  onEslEvent(fn: (e: EslEvent) => void): void {
    this.eventListeners.push(fn);
  }

  private readonly effectListeners: Array<(e: Effect) => void> = [];

  /** Observe the call model's effects as they are committed (tests, metrics). */
  onEffect(fn: (e: Effect) => void): void {
    this.effectListeners.push(fn);
  }

  submit(effects: Effect[]): void {
    if (effects.length === 0) return;
    if (this.log.isLevelEnabled('debug')) for (const e of effects) this.log.debug({ callUuid: e.call, effect: e.kind }, 'call effect');
    this.counters.effects += effects.length;
    for (const e of effects) {
      if (e.kind === 'register') this.counters.callsStarted++;
      if (e.kind === 'finish') this.metrics.calls.inc({ direction: e.direction, outcome: e.status });
    }
    this.outbox.submit(effects);
    for (const e of effects) for (const fn of this.effectListeners) fn(e);
  }

  private onEvent(e: EslEvent): void {
    this.counters.events++;
    if (e.name === 'CUSTOM') this.registrations.onEvent(e);
    this.metrics.events.inc({ name: e.name === 'CUSTOM' ? `CUSTOM ${e.get('Event-Subclass') ?? ''}` : e.name });
    for (const fn of this.eventListeners) fn(e);
    let ce;
    try {
      ce = toChannelEvent(e, this.config.recordings.variable ? [this.config.recordings.variable] : []);
    } catch (err) {
      this.counters.badEvents++;
      this.metrics.badEvents.inc();
      this.log.warn({ callUuid: (err as EventParseError).uuid, err: (err as Error).message }, 'channel event does not parse; skipped');
      return;
    }
    if (!ce) return;
    // the switch's clock may differ from ours: hold timers run on the switch's time
    this.clockSkewUs = ce.atUs - Date.now() * 1000;
    this.submit(this.model.apply(ce));
  }

  private onReady(snap: Snapshot): void {
    const nowUs = Date.now() * 1000;
    this.registrations.reset(); // events may have been missed while disconnected: ask again
    const live = new Set(snap.channels.map((r) => r.uuid));
    // calls that ended while we were away are closed first, then unknown live legs adopted
    this.submit(this.model.reconcile(live, nowUs));
    if (!this.orphansChecked) {
      this.orphansChecked = true;
      this.submit(this.finishOrphans(live));
    }
    for (const ev of synthesize(snap.channels, snap.calls, (u) => this.model.knows(u), nowUs)) this.submit(this.model.apply(ev));
  }

  /**
   * After a restart: calls registered before it, never finished, and gone from the
   * switch ended while the service was down. They are finished with what was stored:
   * answered (and by whom, since when) or not; the duration runs to the last moment
   * the service was known alive, a lower bound.
   */
  private finishOrphans(live: ReadonlySet<string>): Effect[] {
    const lastAlive = this.previousAlive ?? Date.now();
    const out: Effect[] = [];
    for (const o of this.store.unfinishedCalls()) {
      if (live.has(o.call) || this.model.knows(o.call)) continue;
      const reg = o.register?.kind === 'register' ? o.register : null;
      const con = o.connected?.kind === 'connected' ? o.connected : null;
      const status = con ? '200' : reg?.type === 2 ? '304' : 'OTHER';
      const ext = con?.extension ?? reg?.extension ?? null;
      out.push({
        kind: 'finish', call: o.call, direction: reg?.type === 2 ? 'incoming' : reg?.type === 4 ? 'callback' : 'outgoing',
        extension: ext, candidates: ext ? [ext] : [], duration: con ? Math.max(1, Math.round((lastAlive * 1000 - con.atUs) / 1e6)) : 0,
        status, addToChat: this.config.calls.addToChat, reason: 'the call ended while the connector was down; the duration is a lower bound',
      });
      this.log.warn({ callUuid: o.call, status }, 'call ended while the service was down; finishing it from what was stored');
    }
    return out;
  }

  private async verify(ev: ParsedEvent): Promise<void> {
    const c = this.config;
    if (ev.event === 'ONAPPINSTALL') {
      if (c.b24.webhookUrl) throw new Unauthorized('webhook mode: installs are not used (unset FSB24_B24_WEBHOOK_URL to use the application)');
      try {
        await acceptInstall(ev.auth, c.b24.portalUrl, this.store, c.b24.requestTimeoutMs);
      } catch (err) {
        if (err instanceof InstallRefused) throw new Unauthorized(err.message);
        throw err;
      }
      this.log.info({ domain: ev.auth.domain, memberId: ev.auth.memberId }, 'application installed');
      return;
    }
    const tokens = this.store.get<StoredTokens>(TOKENS_KEY);
    const expected = c.b24.webhookUrl ? c.b24.appToken : tokens?.memberId === ev.auth.memberId ? tokens.applicationToken : undefined;
    if (!expected || !sameSecret(expected, ev.auth.applicationToken)) throw new Unauthorized('application_token does not match this installation');
    // whatever would reach an originate string is checked now: a bad value gets a 400 and changes nothing
    this.callEvents.validate(ev);
  }

  private async handleEvent(ev: ParsedEvent): Promise<void> {
    switch (ev.event) {
      case 'ONAPPINSTALL':
        await this.bind();
        await this.directory.refresh();
        return;
      case 'ONAPPUNINSTALL':
        this.log.warn({ memberId: ev.auth.memberId }, 'application uninstalled from the portal; calls are no longer sent');
        this.store.set(TOKENS_KEY, null);
        return;
      default:
        await this.callEvents.handle(ev);
    }
  }

  /** event.bind both call events and register the configured lines ("already binded" is fine). */
  async bind(): Promise<{ bound: string[]; lines: string[] }> {
    const c = this.config;
    const bound: string[] = [];
    if (this.client.mode === 'oauth') {
      if (!c.publicUrl) this.log.warn({ url: this.url }, 'FSB24_PUBLIC_URL is not set: binding event handlers to the listen address, which Bitrix24 may not reach');
      const handler = this.handlerUrl();
      for (const event of ['ONEXTERNALCALLSTART', 'ONEXTERNALCALLBACKSTART']) {
        try {
          await this.client.call('event.bind', { event, handler });
          bound.push(event);
        } catch (err) {
          if (/already binded/i.test((err as Error).message)) bound.push(event);
          else throw err;
        }
      }
    }
    const lines: string[] = [];
    const numbers = new Set([...Object.values(c.calls.lines), ...Object.keys(c.calls.lineGateways), ...Object.values(c.calls.gatewayLines)]);
    for (const number of numbers) {
      try {
        await this.client.call('telephony.externalLine.add', { NUMBER: number, NAME: `FreeSWITCH ${number}` });
      } catch (err) {
        if (!/already exists/i.test((err as Error).message)) throw err;
        await this.client.call('telephony.externalLine.update', { NUMBER: number, NAME: `FreeSWITCH ${number}` });
      }
      lines.push(number);
    }
    this.log.info({ bound, lines }, 'event handlers bound and lines registered');
    return { bound, lines };
  }

  /** Where Bitrix24 sends events: FSB24_PUBLIC_URL, else the listen address. */
  handlerUrl(): string {
    return new URL('/bitrix24/events', this.config.publicUrl || this.url).href;
  }

  health(): { ok: boolean; body: Record<string, unknown> } {
    const s = this.store.stats();
    const tokens = this.client.mode === 'oauth' ? this.store.get<StoredTokens>(TOKENS_KEY) : null;
    const portalOk = this.client.mode === 'webhook' || tokens !== null;
    const ok = this.listener.connected && portalOk;
    return {
      ok,
      body: {
        status: ok ? 'ok' : 'degraded',
        eventSocket: { state: this.listener.state, lastEventAgeSec: this.listener.lastEventAt ? Math.round((Date.now() - this.listener.lastEventAt) / 1000) : null, reconnects: this.listener.reconnects, badFrames: this.listener.badFrames },
        portal: { mode: this.client.mode, installed: portalOk, tokenExpiresAt: tokens ? new Date(tokens.expiresAt).toISOString() : null, lastError: this.client.lastError },
        outbox: {
          pending: s.pending, failed: s.failed, delivered: s.done, oldestPendingAgeSec: s.oldestPendingAt ? Math.round((Date.now() - s.oldestPendingAt) / 1000) : null,
          recentFailures: s.failed > 0 ? this.store.failedJobs(5) : [],
        },
        calls: { live: this.model.liveCalls },
      },
    };
  }

  private ticker: NodeJS.Timeout | null = null;
  private clockSkewUs = 0;
  private orphansChecked = false;
  /** When the previous run of the service was last known alive (kv 'alive'). */
  private previousAlive: number | null = null;
  private aliveTimer: NodeJS.Timeout | null = null;

  async start(): Promise<void> {
    const c = this.config;
    this.ticker = setInterval(() => this.submit(this.model.tick(Date.now() * 1000 + this.clockSkewUs)), 100);
    this.ticker.unref();
    this.previousAlive = this.store.get<number>('alive');
    this.store.set('alive', Date.now());
    let beats = 0;
    this.aliveTimer = setInterval(() => {
      this.store.set('alive', Date.now());
      // once an hour: forget calls finished more than a week ago
      if (++beats % 720 === 0) this.store.purgeFinished(Date.now() - 7 * 86_400_000);
    }, 5000);
    this.aliveTimer.unref();
    this.url = await this.app.listen({ host: c.http.host, port: c.http.port });
    this.outbox.start();
    if (this.client.mode === 'webhook' || this.store.get(TOKENS_KEY)) void this.directory.refresh();
    this.directory.start(c.b24.directoryRefreshSec);
    this.listener.start();
    this.log.info({ http: this.url, esl: `${c.esl.host}:${c.esl.port}`, mode: this.client.mode }, 'service started');
  }

  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    if (this.aliveTimer) clearInterval(this.aliveTimer);
    try {
      this.store.set('alive', Date.now());
    } catch {
      // the store may be closed already (a second stop)
    }
    this.listener.stop();
    this.directory.stop();
    await this.outbox.stop();
    await this.app.close();
    await this.client.close();
    this.store.close();
  }
}

function modelConfig(c: Readonly<ConfigShape>): ModelConfig {
  return {
    trunkProfiles: c.calls.trunkProfiles,
    trunkIps: c.calls.trunkIps,
    didSource: c.calls.didSource,
    lines: c.calls.lines,
    gatewayLines: c.calls.gatewayLines,
    numberRules: c.calls.numberRules,
    sendInternal: c.calls.sendInternal,
    crmCreateIncoming: c.calls.crmCreateIncoming,
    crmCreateOutgoing: c.calls.crmCreateOutgoing,
    addToChat: c.calls.addToChat,
    cardPolicy: c.calls.cardPolicy,
    cardPolicyByExtension: c.calls.cardPolicyByExtension as Record<string, CardPolicy>,
    recordVariable: c.recordings.variable || null,
    chooseRecordings: c.recordings.choose,
    registerHoldMs: c.calls.registerHoldMs,
  };
}
