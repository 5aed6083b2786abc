/**
 * The composition root: builds the store, the switch unit, the portal unit and the HTTP
 * side from a frozen config and wires them together. No part of lib/ imports this file;
 * each gets the narrow ports it needs. Calls go from the switch to their portal through
 * `portalOf` (one portal today; the tenants issue makes it a lookup).
 */
import { buildApp } from '../lib/http/app.js';
import { serviceRoutes } from '../lib/http/routes.js';
import { connectRoutes } from '../lib/http/connect.js';
import { Metrics } from '../lib/metrics.js';
import { SqliteStore } from '../lib/store/sqlite.js';
import { PortalUnit } from '../lib/portal/unit.js';
import { SwitchUnit } from '../lib/switch/unit.js';
import { finishOrphans } from '../lib/switch/orphans.js';
import { modelConfig } from '../lib/switch/config.js';
import { realClock, type Clock, type Timer } from '../lib/clock.js';
import type { Effect } from '../lib/calls/effects.js';
import type { ComposeOptions, Runtime } from '../lib/runtime.js';

/** How often the service stamps "alive" (a restart finishes orphans up to it). */
const ALIVE_EVERY_MS = 5_000;
/** Finished calls (and handled click-to-call ids) are forgotten after a week, looked at hourly. */
const PURGE_EVERY_MS = 3_600_000;
const KEEP_FINISHED_MS = 7 * 86_400_000;

export function compose(o: ComposeOptions, clock: Clock = realClock): Runtime {
  const c = o.config;
  const log = o.log;
  const store = new SqliteStore(c.dataDir);
  let url = '';
  // the switch and the portal know each other only through these two functions
  const portalOf = (_effects: readonly Effect[]): PortalUnit => portal;
  const metrics = new Metrics({
    outbox: () => store.stats(),
    limiterWaitMs: () => portal.limiter.waitedMs,
    uploads: () => ({ count: portal.uploader.uploads, bytes: portal.uploader.bytes }),
    reconnects: () => sw.listener.reconnects,
    liveCalls: () => sw.model.liveCalls,
    operating: () => portal.client.operating.totals(),
  }, clock);
  let previousAlive: number | null = null;
  const sw: SwitchUnit = new SwitchUnit(
    {
      name: 'default',
      host: c.esl.host,
      port: c.esl.port,
      password: c.esl.password,
      model: modelConfig(c),
      recordVariables: c.recordings.variable ? [c.recordings.variable] : [],
    },
    {
      sink: (effects) => {
        if (effects.length === 0) return;
        for (const e of effects) if (e.kind === 'finish') metrics.calls.inc({ direction: e.direction, outcome: e.status });
        portalOf(effects).submit(effects);
      },
      orphans: (live, known) =>
        finishOrphans({
          unfinished: store.unfinishedCalls(),
          live,
          known,
          lastAliveMs: previousAlive ?? clock.now(),
          addToChat: c.calls.addToChat,
          log,
        }),
      onEventSeen: (name) => metrics.events.inc({ name }),
      onBadEvent: () => metrics.badEvents.inc(),
    },
    clock,
    log,
  );
  const portal: PortalUnit = new PortalUnit({
    config: c,
    log,
    store,
    clock,
    registry: metrics.registry,
    onRequest: (method, result) => metrics.rest.inc({ method, result }),
    switchPort: {
      originate: (cmd, jobUuid) => sw.listener.bgapi(cmd, jobUuid),
      isRegistered: (ext) => sw.registrations.has(ext),
    },
    listenUrl: () => url,
    ...(o.recordingsStableMs !== undefined ? { recordingsStableMs: o.recordingsStableMs } : {}),
  });
  const health = (): { ok: boolean; body: Record<string, unknown> } => {
    const esl = sw.health();
    const p = portal.health();
    const ok = esl.ok && p.ok;
    return {
      ok,
      body: { status: ok ? 'ok' : 'degraded', eventSocket: esl.body, ...p.body, calls: { live: sw.model.liveCalls } },
    };
  };
  const app = buildApp({
    log: log.child({ mod: 'http' }),
    bodyLimit: c.http.bodyLimit,
    events: { verify: (ev) => portal.verify(ev), handle: (ev) => portal.handle(ev) },
    health,
    extraRoutes: (a) => {
      serviceRoutes(a, {
        log,
        portal,
        routed: (caller, ext) => portalOf([]).submit(sw.model.routed(caller, ext)),
        registry: metrics.registry,
      });
      connectRoutes(a, portal);
      o.extraRoutes?.(a);
    },
  });

  let aliveTimer: Timer | null = null;
  let sincePurgeMs = 0;
  const beat = (): void => {
    store.set('alive', clock.now());
    sincePurgeMs += ALIVE_EVERY_MS;
    if (sincePurgeMs >= PURGE_EVERY_MS) {
      sincePurgeMs = 0;
      store.purgeFinished(clock.now() - KEEP_FINISHED_MS);
    }
    aliveTimer = clock.setTimeout(beat, ALIVE_EVERY_MS);
  };

  const rt: Runtime = {
    config: c,
    log,
    store,
    metrics,
    app,
    portal,
    switch: sw,
    get url() {
      return url;
    },
    health,
    async start() {
      previousAlive = store.get<number>('alive');
      store.set('alive', clock.now());
      aliveTimer = clock.setTimeout(beat, ALIVE_EVERY_MS);
      url = await app.listen({ host: c.http.host, port: c.http.port });
      portal.start();
      sw.start();
      log.info({ http: url, esl: `${c.esl.host}:${c.esl.port}`, mode: portal.client.mode }, 'service started');
    },
    async stop() {
      clock.clearTimeout(aliveTimer);
      try {
        store.set('alive', clock.now());
      } catch {
        // the store may be closed already (a second stop)
      }
      sw.stop();
      await portal.stop();
      await app.close();
      store.close();
    },
  };
  return rt;
}
