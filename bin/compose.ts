/**
 * The composition root: builds the store, the switch unit, the portal unit and the HTTP
 * side from a frozen config and wires them together. No part of lib/ imports this file;
 * each gets the narrow ports it needs. Calls go from the switch to their portal through
 * the tenant router (lib/tenancy/): one portal per entry of FSB24_TENANTS, each with its
 * own store (tokens, outbox lane, directory), or FSB24_B24_PORTAL_URL alone: one portal
 * every call belongs to, on the service's store as before.
 */
import { buildApp } from '../lib/http/app.js';
import { serviceRoutes } from '../lib/http/routes.js';
import { connectRoutes } from '../lib/http/connect.js';
import { Metrics } from '../lib/metrics.js';
import { openStore, storeLabel } from '../lib/store/open.js';
import { PortalUnit } from '../lib/portal/unit.js';
import { SwitchUnit } from '../lib/switch/unit.js';
import { finishOrphans } from '../lib/switch/orphans.js';
import { modelConfig } from '../lib/switch/config.js';
import { realClock, type Clock, type Timer } from '../lib/clock.js';
import type { ComposeOptions, Runtime } from '../lib/runtime.js';
import { Unauthorized, type ParsedEvent } from '../lib/bitrix24/event-body.js';
import { Tenants, portalConfig, portalStoreAt, foreignLine, type Tenant } from '../lib/tenancy/tenants.js';
import { TenantRouter } from '../lib/tenancy/router.js';
import type { RoutePortal } from '../lib/http/routes.js';
import { ClusterSide } from './cluster.js';
import { instanceName, sharedOf } from '../lib/cluster/cluster.js';
import { withLease } from '../lib/cluster/seat.js';

/** How often the service stamps "alive" (a restart finishes orphans up to it). */
const ALIVE_EVERY_MS = 5_000;
/** Finished calls (and handled click-to-call ids) are forgotten after a week, looked at hourly. */
const PURGE_EVERY_MS = 3_600_000;
const KEEP_FINISHED_MS = 7 * 86_400_000;

export function compose(o: ComposeOptions, clock: Clock = realClock): Runtime {
  const c = o.config;
  const log = o.log;
  // FSB24_DATABASE_URL: PostgreSQL (a namespace per portal), else SQLite in FSB24_DATA_DIR (a file per portal)
  const store = openStore(c, { dir: c.dataDir, namespace: '' });
  /** A database shared with other instances (FSB24_DATABASE_URL, or a test's): the cluster side runs. */
  const shared = o.shared ?? (c.database.url ? sharedOf(store) : undefined);
  const tenants = new Tenants(c);
  let url = '';
  let previousAlive: number | null = null;
  const units = new Map<Tenant, PortalUnit>();
  /** This instance's name among several on one database (FSB24_INSTANCE_ID), or null: alone. */
  const instance = shared ? instanceName(c.instanceId) : null;
  const unitsList = (): PortalUnit[] => [...units.values()];
  const lost = (err: unknown): void => log.error({ err }, 'call effects could not be written to the store');
  const router = new TenantRouter(tenants, (call) => sw.factsOf(call), log.child({ mod: 'tenancy' }));
  const metrics = new Metrics(
    {
      outbox: async () => {
        const all = await Promise.all(unitsList().map((p) => p.store.stats()));
        const oldest = all.map((s) => s.oldestPendingAt).filter((x): x is number => x !== null);
        return {
          pending: all.reduce((n, s) => n + s.pending, 0),
          failed: all.reduce((n, s) => n + s.failed, 0),
          oldestPendingAt: oldest.length > 0 ? Math.min(...oldest) : null,
        };
      },
      limiterWaitMs: () => unitsList().reduce((n, p) => n + p.limiter.waitedMs, 0),
      uploads: () => ({
        count: unitsList().reduce((n, p) => n + p.uploader.uploads, 0),
        bytes: unitsList().reduce((n, p) => n + p.uploader.bytes, 0),
      }),
      reconnects: () => sw.listener.reconnects,
      liveCalls: () => sw.model.liveCalls,
      portals: () =>
        Promise.all(
          [...units].map(async ([t, p]) => {
            const [s, h] = await Promise.all([p.store.stats(), p.health()]);
            const { pending, failed } = s;
            return { portal: t.host, pending, failed, limiterWaitMs: p.limiter.waitedMs, installed: h.ok };
          }),
        ),
      unmatchedCalls: () => router.unmatched,
      // the operating-time figures of the first portal (the only one without FSB24_TENANTS)
      operating: () => portal.client.operating.totals(),
    },
    clock,
  );
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
        for (const e of effects)
          if (e.kind === 'finish') metrics.calls.inc({ direction: e.direction, outcome: e.status });
        // called after every event: a waiting call may have learnt its domain from it
        // (each portal's outbox writes in submission order: a call's effects keep the order of its events)
        for (const [t, mine] of router.route(effects)) units.get(t)?.submit(mine).catch(lost);
      },
      orphans: (live, known) => {
        // each portal finishes the calls its own store holds
        for (const [t, p] of units) {
          const finish = async (): Promise<void> => {
            const done = finishOrphans({
              unfinished: await p.store.unfinishedCalls(),
              live,
              known,
              // several instances: a takeover happens now, whoever stamped `alive` last
              lastAliveMs: (cl ? null : previousAlive) ?? clock.now(),
              addToChat: c.calls.addToChat,
              log,
            });
            for (const e of done) {
              router.assign(e.call, t);
              if (e.kind === 'finish') metrics.calls.inc({ direction: e.direction, outcome: e.status });
            }
            await p.submit(done);
          };
          finish().catch(lost);
        }
        return [];
      },
      onEventSeen: (name) => metrics.events.inc({ name }),
      onBadEvent: () => metrics.badEvents.inc(),
    },
    clock,
    log,
  );
  for (const t of tenants.list) {
    const own = tenants.single ? store : openStore(c, portalStoreAt(c, t, false));
    const plog = tenants.single ? log : log.child({ portal: t.host });
    units.set(
      t,
      new PortalUnit({
        config: portalConfig(c, t, tenants.single),
        log: plog,
        store: own,
        clock,
        registry: metrics.registry,
        onRequest: (method, result) => metrics.rest.inc({ method, result }),
        switchPort: {
          originate: (cmd, jobUuid) => (cl ? cl.originate(cmd, jobUuid) : sw.listener.bgapi(cmd, jobUuid)),
          isRegistered: (ext) => (cl ? cl.isRegistered(ext) : sw.registrations.has(ext)),
        },
        listenUrl: () => url,
        ...(instance ? { userAgent: `freeswitch-bitrix24 (instance ${instance})` } : {}),
        ...(shared
          ? { refreshLock: <T>(fn: () => Promise<T>) => withLease(shared.leases, `refresh:${t.host}`, fn) }
          : {}),
        ...(o.recordingsStableMs !== undefined ? { recordingsStableMs: o.recordingsStableMs } : {}),
        ...(tenants.single ? {} : { foreignLine: (line: string) => foreignLine(tenants, t, line) }),
      }),
    );
  }
  const portal = unitsList()[0] as PortalUnit;
  /** The cluster side (FSB24_DATABASE_URL): seats for the switch and each portal; null: one instance. */
  const routedHere = async (caller: string, ext: string, t: Tenant): Promise<void> => {
    const effects = sw.model.routed(caller, ext);
    for (const e of effects) router.assign(e.call, t);
    await units.get(t)?.submit(effects);
  };
  const cl =
    shared && instance ? new ClusterSide({ config: c, log, clock, instance, shared, sw, units, routedHere }) : null;
  const tenantOfUnit = (p: PortalUnit): Tenant =>
    [...units].find(([, u]) => u === p)?.[0] ?? (tenants.list[0] as Tenant);
  /** What the HTTP routes see of each portal: with several instances, its lookups go to its holder. */
  const routePortals = new Map<Tenant, RoutePortal>(
    [...units].map(([t, u]) => [
      t,
      cl
        ? {
            router: cl.router(t, u),
            get links() {
              return u.links;
            },
            uploader: u.uploader,
          }
        : u,
    ]),
  );
  const routePortalOf = (p: PortalUnit): RoutePortal => routePortals.get(tenantOfUnit(p)) ?? p;
  /** The portal an event of Bitrix24 comes from: its member_id, else its domain; none is refused. */
  const portalOfEvent = async (ev: ParsedEvent): Promise<PortalUnit> => {
    if (tenants.single) return portal;
    const named = tenants.ofHost(ev.auth.domain);
    const members = await Promise.all(
      [...units].map(async ([t, p]) => [t, (await p.store.tokens())?.memberId] as const),
    );
    const byMember = members.find(([, m]) => m === ev.auth.memberId)?.[0];
    if (byMember && named && byMember !== named) {
      throw new Unauthorized('member_id and domain name two different portals');
    }
    const t = byMember ?? named;
    if (!t) throw new Unauthorized(`${ev.auth.domain} is not a portal of this service (FSB24_TENANTS)`);
    return units.get(t) as PortalUnit;
  };
  /** The routing lookup asks only the portal the domain, else the DID, belongs to. */
  const portalOfLookup = (did: string | undefined, domain: string | undefined): PortalUnit | null => {
    if (tenants.single) return portal;
    const t = (domain ? tenants.ofDomain(domain) : undefined) ?? (did ? tenants.ofLine(did) : undefined);
    return t ? (units.get(t) ?? null) : null;
  };
  const health = async (): Promise<{ ok: boolean; body: Record<string, unknown> }> => {
    // a standby instance does not hold the switch: its holder, when one is known, answers for the socket
    const holder = cl?.switchHolder() ?? null;
    const esl = !cl || cl.holdsSwitch() ? sw.health() : { ok: holder !== null, body: { state: 'standby', holder } };
    const p = await portal.health();
    const all = await Promise.all([...units].map(async ([t, u]) => ({ t, h: await u.health() })));
    const ok = esl.ok && all.every((x) => x.h.ok);
    const each = tenants.single ? {} : { portals: Object.fromEntries(all.map(({ t, h }) => [t.host, h.body])) };
    return {
      ok,
      body: {
        status: ok ? 'ok' : 'degraded',
        eventSocket: esl.body,
        ...p.body,
        ...each,
        calls: { live: sw.model.liveCalls },
        ...(cl ? { cluster: cl.health() } : {}),
      },
    };
  };
  const app = buildApp({
    log: log.child({ mod: 'http' }),
    bodyLimit: c.http.bodyLimit,
    events: {
      verify: async (ev) => (await portalOfEvent(ev)).verify(ev),
      handle: async (ev) => {
        const unit = await portalOfEvent(ev);
        return cl ? cl.handle(tenantOfUnit(unit), unit, ev) : unit.handle(ev);
      },
    },
    health,
    extraRoutes: (a) => {
      serviceRoutes(a, {
        log,
        portal: routePortalOf(portal),
        portalFor: (did, domain) => {
          const p = portalOfLookup(did, domain);
          return p ? routePortalOf(p) : null;
        },
        portals: () => [...routePortals.values()],
        routed: async (caller, ext, to) => {
          const t = [...routePortals].find(([, p]) => p === to)?.[0] ?? (tenants.list[0] as Tenant);
          await (cl ? cl.routed(caller, ext, t) : routedHere(caller, ext, t));
        },
        registry: metrics.registry,
      });
      connectRoutes(
        a,
        portal,
        undefined,
        tenants.single
          ? undefined
          : (host) => {
              const t = host ? tenants.ofHost(host) : undefined;
              return t ? units.get(t) : undefined;
            },
      );
      o.extraRoutes?.(a);
    },
  });

  let aliveTimer: Timer | null = null;
  let sincePurgeMs = 0;
  const beat = (): void => {
    const purge = (sincePurgeMs += ALIVE_EVERY_MS) >= PURGE_EVERY_MS;
    if (purge) sincePurgeMs = 0;
    const stores = [store, ...[...units.values()].map((p) => p.store).filter((s) => s !== store)];
    const before = clock.now() - KEEP_FINISHED_MS;
    store
      .set('alive', clock.now())
      .then(async () => {
        if (purge) await Promise.all(stores.map((s) => s.purgeFinished(before)));
      })
      .catch((err: unknown) => log.error({ err }, 'the store refused the alive stamp or the purge'));
    aliveTimer = clock.setTimeout(beat, ALIVE_EVERY_MS);
  };

  const rt: Runtime = {
    config: c,
    log,
    store,
    metrics,
    app,
    portal,
    portals: unitsList(),
    tenants: tenants.list,
    router,
    switch: sw,
    cluster: cl,
    get url() {
      return url;
    },
    health,
    async start() {
      previousAlive = await store.get<number>('alive');
      await store.set('alive', clock.now());
      aliveTimer = clock.setTimeout(beat, ALIVE_EVERY_MS);
      for (const p of units.values()) await p.open();
      url = await app.listen({ host: c.http.host, port: c.http.port });
      if (cl)
        await cl.start(); // the switch and each portal start where their lease is held
      else {
        for (const p of units.values()) await p.start();
        sw.start();
      }
      const served = tenants.single ? {} : { portals: tenants.list.map((t) => t.host) };
      const esl = `${c.esl.host}:${c.esl.port}`;
      const instance = cl ? { instance: cl.instance } : {};
      const at = { store: storeLabel(c) };
      log.info({ http: url, esl, mode: portal.client.mode, ...at, ...served, ...instance }, 'service started');
    },
    async stop() {
      clock.clearTimeout(aliveTimer);
      // the store may be closed already (a second stop)
      await store.set('alive', clock.now()).catch(() => undefined);
      if (cl) await cl.stop();
      else {
        sw.stop();
        for (const p of units.values()) await p.stop();
      }
      await app.close();
      for (const p of units.values()) if (p.store !== store) await p.store.close();
      await store.close();
    },
  };
  return rt;
}
