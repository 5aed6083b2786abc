/**
 * One Bitrix24 portal: its REST client and leaky bucket, its tokens and install, its user
 * directory and lines, its outbox lane, recordings, the responsible-manager lookup, and
 * the handling of the events it sends (click-to-call, callbacks; online or offline).
 * It reaches the switch only through `SwitchPort` (bin/ wires it).
 */
import type { Registry } from 'prom-client';
import type { Effect } from '../calls/effects.js';
import type { ConfigShape } from '../config.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { BackgroundJob } from '../esl/client.js';
import type { Store } from '../store/store.js';
import { Outbox } from '../outbox/scheduler.js';
import { rehearseDelivery } from '../outbox/warm.js';
import { Bitrix24Client } from '../bitrix24/client.js';
import { RateLimiter } from '../bitrix24/limiter.js';
import { UserDirectory } from '../bitrix24/directory.js';
import { Unauthorized, type ParsedEvent } from '../bitrix24/event-body.js';
import { configuredLines, provision, registerLines, type ProvisionReport } from '../bitrix24/provision.js';
import { RecordingUploader } from '../recordings/uploader.js';
import { RecordingLinks } from '../recordings/links.js';
import { CallEvents, type CallEventPorts } from '../originate/handler.js';
import { ResponsibleRouter } from '../routing/responsible.js';
import { attachOffline, bindOffline, type OfflinePuller } from '../offline/wire.js';
import { acceptInstall, sameSecret, InstallRefused } from './install.js';

/** What a portal needs of the switches its users' phones are on. */
export interface SwitchPort {
  /** `bgapi` on the switch `locate` named (none: the one switch). */
  originate: (cmd: string, jobUuid: string, switchName?: string) => Promise<BackgroundJob>;
  isRegistered: (ext: string) => Promise<boolean | null>;
  /** Several switches: which one has the employee's phone (lib/originate's `locate`). */
  locate?: CallEventPorts['locate'];
}

export interface PortalDeps {
  config: Readonly<ConfigShape>;
  log: Logger;
  store: Store;
  clock: Clock;
  switchPort: SwitchPort;
  /** /metrics' registry (offline pull figures) and a per-request counter. */
  registry: Registry;
  onRequest?: (method: string, result: string) => void;
  /** The address the HTTP side listens on, once it does (handler URL fallback). */
  listenUrl: () => string;
  recordingsStableMs?: number;
  /** A LINE_NUMBER of another portal of the tenant map (click-to-call refuses it). */
  foreignLine?: (line: string) => boolean;
  /** The User-Agent of its REST requests (several instances: which one sent it). */
  userAgent?: string;
  /** Several instances: token refreshes run under this lock (see Bitrix24Client). */
  refreshLock?: <T>(fn: () => Promise<T>) => Promise<T>;
}

export class PortalUnit {
  readonly config: Readonly<ConfigShape>;
  readonly log: Logger;
  readonly store: Store;
  readonly clock: Clock;
  readonly limiter: RateLimiter;
  readonly client: Bitrix24Client;
  readonly directory: UserDirectory;
  readonly uploader: RecordingUploader;
  readonly outbox: Outbox;
  readonly router: ResponsibleRouter;
  readonly callEvents: CallEvents;
  /** Offline mode (FSB24_EVENTS_MODE=offline): pulls the portal's event queue. */
  readonly offline: OfflinePuller | null;
  private readonly effectListeners: Array<(e: Effect) => void> = [];
  private linksCache: RecordingLinks | null = null;
  private stopped = false;
  /** The User-Agent of its requests to Bitrix24 (several instances: which one sent it). */
  readonly userAgent: string | undefined;

  constructor(private readonly deps: PortalDeps) {
    const c = deps.config;
    this.config = c;
    this.userAgent = deps.userAgent;
    this.log = deps.log;
    this.store = deps.store;
    this.clock = deps.clock;
    this.limiter = new RateLimiter(c.b24.rateBurst, c.b24.rateDrainPerSec, deps.clock);
    this.client = new Bitrix24Client({
      mode: c.b24.webhookUrl ? 'webhook' : 'oauth',
      webhookUrl: c.b24.webhookUrl,
      oauthUrl: c.b24.oauthUrl,
      clientId: c.b24.clientId,
      clientSecret: c.b24.clientSecret,
      store: this.store,
      limiter: this.limiter,
      timeoutMs: c.b24.requestTimeoutMs,
      log: deps.log.child({ mod: 'bitrix24' }),
      ...(deps.userAgent ? { userAgent: deps.userAgent } : {}),
      ...(deps.refreshLock ? { refreshLock: deps.refreshLock } : {}),
    });
    if (deps.onRequest) this.client.onRequest = deps.onRequest;
    this.directory = new UserDirectory(this.client, deps.log.child({ mod: 'directory' }), deps.clock);
    // behind NAT the portal cannot fetch a link: offline mode always uploads
    const byLink = c.recordings.mode === 'url' && c.events.mode !== 'offline';
    this.uploader = new RecordingUploader({
      client: this.client,
      dirs: c.recordings.dirs,
      log: deps.log.child({ mod: 'recordings' }),
      inlineMaxBytes: c.recordings.inlineMaxBytes,
      stableMs: deps.recordingsStableMs ?? c.recordings.stableMs,
      giveUpMs: c.recordings.giveUpSec * 1000,
      deleteAfterUpload: c.recordings.deleteAfterUpload,
      clock: deps.clock,
      ...(byLink ? { linkFor: (path: string, name: string) => this.recordingLink(path, name) } : {}),
    });
    this.outbox = new Outbox({
      store: this.store,
      client: this.client,
      directory: this.directory,
      defaultUserId: c.calls.defaultUserId,
      cardWindowMs: c.calls.cardWindowMs,
      retryBaseMs: c.b24.retryBaseMs,
      maxBatch: Math.min(50, Math.max(1, c.b24.batchMax)),
      log: deps.log.child({ mod: 'outbox' }),
      recordings: this.uploader,
      clock: deps.clock,
      // the offline pull rides in batches that go out anyway (the puller is built below)
      piggyback: {
        take: () => this.offline?.piggyback() ?? null,
        done: (outcome) => this.offline?.onPiggybackResult(outcome) ?? Promise.resolve(),
      },
    });
    this.router = new ResponsibleRouter({
      client: this.client,
      directory: this.directory,
      log: deps.log.child({ mod: 'routing' }),
      deadlineMs: c.routing.deadlineMs,
      cacheSec: c.routing.cacheSec,
      isRegistered: (ext) => deps.switchPort.isRegistered(ext),
      clock: deps.clock,
    });
    this.callEvents = new CallEvents({
      config: c,
      log: deps.log,
      store: this.store,
      directory: this.directory,
      originate: (cmd, jobUuid, switchName) => deps.switchPort.originate(cmd, jobUuid, switchName),
      ...(deps.switchPort.locate ? { locate: deps.switchPort.locate } : {}),
      awaitCallId: (call, timeoutMs) => this.outbox.awaitCallId(call, timeoutMs),
      submit: (effects) => this.submit(effects),
      route: (phone) => this.router.route(phone),
      clock: deps.clock,
      ...(deps.foreignLine ? { foreignLine: deps.foreignLine } : {}),
    });
    this.offline =
      c.events.mode === 'offline'
        ? attachOffline(
            {
              client: this.client,
              store: this.store,
              log: deps.log,
              pollMs: c.events.offlinePollMs,
              registry: deps.registry,
              callEvents: this.callEvents,
            },
            deps.clock,
          )
        : null;
  }

  /** The listen address (the handler URL's fallback when FSB24_PUBLIC_URL is not set). */
  get url(): string {
    return this.deps.listenUrl();
  }

  /** Signed recording links (url mode); the secret lives in the store, made on first use (`open`). */
  get links(): RecordingLinks {
    if (!this.linksCache) throw new Error('the portal unit is not open yet (recording links)');
    return this.linksCache;
  }

  /** What must be read from the store before anything is served: the recording-link secret. */
  async open(): Promise<void> {
    if (this.linksCache) return;
    const secret = await this.store.recordingSecret(() => RecordingLinks.newSecret());
    this.linksCache ??= new RecordingLinks(Buffer.from(secret, 'hex'), this.clock);
  }

  private recordingLink(path: string, name: string): string {
    const c = this.config;
    return new URL(this.links.link(path, name, c.recordings.urlTtlSec), c.publicUrl || this.url).href;
  }

  /**
   * Plan and deliver a sample call's effects as its outbox would (lib/outbox/warm.ts), to a
   * client that answers itself: at start, so the first real call does not pay for compiling
   * that path. Sends nothing, writes nothing; resolves with the request bodies it made (tests).
   */
  warm(effects: readonly Effect[]): Promise<string[]> {
    const users = (ext: string | null): number | null => this.directory.userFor(ext);
    return rehearseDelivery(effects, { users, defaultUserId: this.config.calls.defaultUserId }, this.clock.now());
  }

  /** Observe the effects as they are committed (tests, the demo). */
  onEffect(fn: (e: Effect) => void): void {
    this.effectListeners.push(fn);
  }

  /** Durable first: the effects are in the outbox when this resolves (in submission order). */
  async submit(effects: Effect[]): Promise<void> {
    if (effects.length === 0) return;
    if (this.log.isLevelEnabled('debug'))
      for (const e of effects) this.log.debug({ callUuid: e.call, effect: e.kind }, 'call effect');
    await this.outbox.submit(effects);
    for (const e of effects) for (const fn of this.effectListeners) fn(e);
  }

  /** Is this event from this installation? Throws Unauthorized (401) or BadEvent (400). */
  async verify(ev: ParsedEvent): Promise<void> {
    const c = this.config;
    if (ev.event === 'ONAPPINSTALL') {
      if (c.b24.webhookUrl)
        throw new Unauthorized(
          'webhook mode: installs are not used (unset FSB24_B24_WEBHOOK_URL to use the application)',
        );
      try {
        await acceptInstall(ev.auth, c.b24.portalUrl, this.store, c.b24.requestTimeoutMs, this.clock, this.userAgent);
      } catch (err) {
        if (err instanceof InstallRefused) throw new Unauthorized(err.message, { cause: err });
        throw err;
      }
      this.log.info({ domain: ev.auth.domain, memberId: ev.auth.memberId }, 'application installed');
      return;
    }
    const tokens = await this.store.tokens();
    const expected = c.b24.webhookUrl
      ? c.b24.appToken
      : tokens?.memberId === ev.auth.memberId
        ? tokens.applicationToken
        : undefined;
    if (!expected || !sameSecret(expected, ev.auth.applicationToken))
      throw new Unauthorized('application_token does not match this installation');
    // whatever would reach an originate string is checked now: a bad value gets a 400 and changes nothing
    await this.callEvents.check(ev);
  }

  /** After the 200: the work an event asks for. */
  async handle(ev: ParsedEvent): Promise<void> {
    switch (ev.event) {
      case 'ONAPPINSTALL':
        await this.bind();
        await this.directory.refresh();
        return;
      case 'ONAPPUNINSTALL':
        this.log.warn(
          { memberId: ev.auth.memberId },
          'application uninstalled from the portal; calls are no longer sent',
        );
        await this.store.setTokens(null);
        return;
      default:
        await this.callEvents.handle(ev);
    }
  }

  /** Bind both call events (replacing ones at an old public URL, or offline) and register the lines. */
  async bind(): Promise<ProvisionReport> {
    if (this.client.mode === 'oauth' && this.config.events.mode === 'offline') {
      const { bound } = await bindOffline(this.client, this.log);
      return { bound, replaced: [], ...(await registerLines(this.client, configuredLines(this.config))) };
    }
    if (this.client.mode === 'oauth' && !this.config.publicUrl) {
      const why = 'FSB24_PUBLIC_URL is not set: handlers go to the listen address (Bitrix24 may not reach it)';
      this.log.warn({ url: this.url }, why);
    }
    return provision({ client: this.client, config: this.config, handlerUrl: this.handlerUrl(), log: this.log });
  }

  /** Where Bitrix24 sends events: FSB24_PUBLIC_URL, else the listen address. */
  handlerUrl(): string {
    return new URL('/bitrix24/events', this.config.publicUrl || this.url).href;
  }

  /** The portal's part of /healthz: install, tokens, last error, outbox, offline pulls. */
  async health(): Promise<{ ok: boolean; body: Record<string, unknown> }> {
    const now = this.clock.now();
    const s = await this.store.stats();
    const tokens = this.client.mode === 'oauth' ? await this.store.tokens() : null;
    const installed = this.client.mode === 'webhook' || tokens !== null;
    const offline = this.offline?.health();
    const oldest = s.oldestPendingAt ? Math.round((now - s.oldestPendingAt) / 1000) : null;
    return {
      ok: installed && (offline?.ok ?? true),
      body: {
        portal: {
          mode: this.client.mode,
          installed,
          tokenExpiresAt: tokens ? new Date(tokens.expiresAt).toISOString() : null,
          lastError: this.client.lastError,
        },
        outbox: {
          pending: s.pending,
          failed: s.failed,
          delivered: s.done,
          oldestPendingAgeSec: oldest,
          recentFailures: s.failed > 0 ? await this.store.failedJobs(5) : [],
        },
        ...(offline ? { events: offline.body } : {}),
      },
    };
  }

  async start(): Promise<void> {
    const c = this.config;
    this.stopped = false;
    await this.open();
    await this.offline?.start();
    if (this.client.mode === 'webhook' || (await this.store.tokens())) {
      // a register names its employee: the outbox starts once the directory loaded (or failed),
      // so a register pending from before a restart is not re-sent for the default user (Bitrix24
      // would take it as another call: its dedup key holds USER_ID)
      void this.directory.refresh().finally(() => {
        if (!this.stopped) this.outbox.start();
      });
    } else this.outbox.start();
    this.directory.start(c.b24.directoryRefreshSec);
  }

  /** A crash as far as a process can play one on itself (tests): nothing more is sent, nothing flushed. */
  halt(): void {
    this.stopped = true;
    this.directory.stop();
    this.outbox.halt();
    void this.offline?.stop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.directory.stop();
    await this.offline?.stop();
    await this.outbox.stop();
    await this.client.close();
  }
}
