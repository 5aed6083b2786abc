/**
 * The composition root: builds the store, the switch units, the portal units and the HTTP
 * side from a frozen config and wires them together. No part of lib/ imports this file;
 * each gets the narrow ports it needs. One switch unit per event socket of FSB24_SWITCHES
 * (or the one of FSB24_ESL_*, named `default`); calls go from whichever switch they are on
 * to their portal through the tenant router (lib/tenancy/): one portal per entry of
 * FSB24_TENANTS, each with its own store (tokens, outbox lane, directory), or
 * FSB24_B24_PORTAL_URL alone: one portal every call belongs to, on the service's store as before.
 * A click-to-call rings the employee on the switch their phone is on (lib/switch/fleet.ts).
 */
import { buildApp } from '../lib/http/app.js';
import { serviceRoutes } from '../lib/http/routes.js';
import { connectRoutes } from '../lib/http/connect.js';
import { Metrics } from '../lib/metrics.js';
import { metricSources } from './metric-sources.js';
import { openStore, storeLabel } from '../lib/store/open.js';
import { PortalUnit } from '../lib/portal/unit.js';
import { SwitchUnit } from '../lib/switch/unit.js';
import { finishOrphans } from '../lib/switch/orphans.js';
import { OrphanSweep, Switches } from '../lib/switch/fleet.js';
import { modelConfig } from '../lib/switch/config.js';
import { realClock, type Clock } from '../lib/clock.js';
import { isEslSwitch } from '../lib/config.js';
import type { ComposeOptions, Runtime } from '../lib/runtime.js';
import type { Effect } from '../lib/calls/effects.js';
import { Unauthorized, type ParsedEvent } from '../lib/bitrix24/event-body.js';
import { Tenants, portalConfig, portalStoreAt, foreignLine, type Tenant } from '../lib/tenancy/tenants.js';
import { TenantRouter } from '../lib/tenancy/router.js';
import { parseCdrBody } from '../lib/cdr/parse.js';
import { wireBackfill } from './cdr-wiring.js';
import { cdrRoutes } from '../lib/http/cdr.js';
import type { CallFacts } from '../lib/switch/facts.js';
import type { RoutePortal } from '../lib/http/routes.js';
import { ClusterSide } from './cluster.js';
import { Heartbeat } from './heartbeat.js';
import { instanceName, sharedOf } from '../lib/cluster/cluster.js';
import { withLease } from '../lib/cluster/seat.js';
import { CDR_SPOOL_LEASE, REFRESH_LEASE } from '../lib/cluster/messages.js';
import type { UnfinishedCall } from '../lib/store/store.js';

export function compose(o: ComposeOptions, clock: Clock = realClock): Runtime {
  const c = o.config;
  const log = o.log;
  // FSB24_DATABASE_URL: PostgreSQL (a namespace per portal), else SQLite in FSB24_DATA_DIR (a file per portal)
  const store = openStore(c, { dir: c.dataDir, namespace: '' });
  /** This instance's name among several on one database (FSB24_INSTANCE_ID), or null: alone. */
  const instance = o.shared || c.database.url ? instanceName(c.instanceId) : null;
  /** A database shared with other instances (FSB24_DATABASE_URL, or a test's): the cluster side runs. */
  const shared = o.shared ?? (c.database.url && instance ? sharedOf(store, instance) : undefined);
  const tenants = new Tenants(c);
  let url = '';
  /** What each portal's store held unfinished when this run started (after the CDR spool): the orphans. */
  const unfinishedAtStart = new Map<PortalUnit, UnfinishedCall[]>();
  const units = new Map<Tenant, PortalUnit>();
  const lost = (err: unknown): void => log.error({ err }, 'call effects could not be written to the store');
  /** What a back-filled call's CDRs say of its portal, while the router decides it. */
  const cdrFacts = new Map<string, CallFacts>();
  const router = new TenantRouter(
    tenants,
    (call) => switches.factsOf(call) ?? cdrFacts.get(call) ?? null,
    log.child({ mod: 'tenancy' }),
  );
  /** A portal's host names it on /metrics (a webhook's host when no portal address is set). */
  const labelOf = (t: Tenant): string => t.host || (c.b24.webhookUrl ? new URL(c.b24.webhookUrl).host : '');
  const metrics = new Metrics(
    metricSources(
      units,
      () => switches,
      () => router,
      labelOf,
    ),
    clock,
  );
  const sweep = new OrphanSweep(c.switches.map((s) => s.name));
  /** Finished calls on /metrics, by switch, direction and outcome. */
  const countFinishes = (effects: readonly Effect[], switchName: string): void => {
    for (const e of effects)
      if (e.kind === 'finish') metrics.calls.inc({ switch: switchName, direction: e.direction, outcome: e.status });
  };
  /** Channel variables that name a recording (b24_record_path): read from events and from CDRs. */
  const recordVariables = c.recordings.variable ? [c.recordings.variable] : [];
  const makeSwitch = (s: (typeof c.switches)[number]): SwitchUnit =>
    new SwitchUnit(
      {
        name: s.name,
        host: s.host,
        port: s.port,
        password: s.password,
        model: modelConfig(c),
        recordVariables,
        ...(isEslSwitch(c, s.name) ? {} : { passwordSource: `the password of "${s.name}" in FSB24_SWITCHES` }),
      },
      {
        sink: (effects) => {
          countFinishes(effects, s.name);
          // called after every event: a waiting call may have learnt its domain from it
          // (each portal's outbox writes in submission order: a call's effects keep the order of its events)
          for (const [t, mine] of router.route(effects)) units.get(t)?.submit(mine).catch(lost);
        },
        orphans: (live, tracked) => {
          // each portal finishes the calls its own store held at the start that were on this switch
          const liveRecordings = new Map<string, readonly string[]>();
          for (const g of sweep.connected(s.name, live, tracked))
            for (const [t, p] of units) {
              const done = finishOrphans({
                unfinished: (unfinishedAtStart.get(p) ?? []).filter(g.owns),
                live: g.live,
                tracked: g.known,
                lastSwitchUs: heartbeat.previousSwitchUs(s.name),
                addToChat: c.calls.addToChat,
                chooseRecordings: c.recordings.choose,
                log,
              });
              for (const e of done.effects) {
                router.assign(e.call, t);
                // a guess: the call's CDR may still come (spool, FreeSWITCH's retries) and replace it
                cdr.guess(e.call, () => void deliver(p, [e], s.name).catch(lost));
              }
              for (const [call, paths] of done.liveRecordings) {
                router.assign(call, t);
                liveRecordings.set(call, paths);
              }
            }
          return liveRecordings;
        },
        guessed: (effects) => {
          for (const [t, mine] of router.route(effects)) {
            const unit = units.get(t);
            if (unit)
              for (const [call, list] of byCall(mine))
                cdr.guess(call, () => void deliver(unit, list, s.name).catch(lost));
          }
        },
        // a connection to the call's portal, if none is open, while the switch still routes the call
        callStarting: (call) => {
          const t = router.peek(call);
          const unit = t ? units.get(t) : undefined;
          if (t && unit && (!cl || cl.holdsPortal(t))) void unit.client.preconnect();
        },
        onEventSeen: (name) => metrics.events.inc({ switch: s.name, name }),
        onBadEvent: () => metrics.badEvents.inc({ switch: s.name }),
      },
      clock,
      c.switches.length > 1 ? log.child({ switch: s.name }) : log,
    );
  const switches = new Switches(c.switches.map(makeSwitch));
  const sw = switches.first;
  for (const t of tenants.list) {
    const own = tenants.single ? store : openStore(c, portalStoreAt(c, t, false));
    const plog = tenants.single ? log : log.child({ portal: t.host });
    const pc = portalConfig(c, t, tenants.single);
    units.set(
      t,
      new PortalUnit({
        config: pc,
        log: plog,
        store: own,
        clock,
        registry: metrics.registry,
        onRequest: (method, result) => metrics.rest.inc({ portal: labelOf(t), method, result }),
        // several instances: each switch answers where its lease is held (bin/cluster.ts)
        switchPort: {
          originate: (cmd, jobUuid, name) =>
            cl ? cl.originate(cmd, jobUuid, name) : (switches.byName(name ?? '') ?? sw).listener.bgapi(cmd, jobUuid),
          // a portal's phones are in its domain (FSB24_TENANTS, FSB24_DOMAIN), else in any
          isRegistered: (ext) => (cl ?? switches).isRegistered(ext, pc.calls.domain || null),
          locate: (ext, domain) => (cl ?? switches).locate(ext, domain),
        },
        listenUrl: () => url,
        ...(instance ? { userAgent: `freeswitch-bitrix24 (instance ${instance})` } : {}),
        ...(shared
          ? { refreshLock: <T>(fn: () => Promise<T>) => withLease(shared.leases, REFRESH_LEASE(t.host), fn) }
          : {}),
        ...(o.recordingsStableMs !== undefined ? { recordingsStableMs: o.recordingsStableMs } : {}),
        ...(tenants.single ? {} : { foreignLine: (line: string) => foreignLine(tenants, t, line) }),
      }),
    );
  }
  const portal = [...units.values()][0] as PortalUnit;
  /** A routed caller's effects on one switch, to the portal asked (where that switch is held). */
  const routedHere = async (x: SwitchUnit, caller: string, ext: string, t: Tenant): Promise<void> => {
    const effects = x.routed(caller, ext);
    for (const e of effects) router.assign(e.call, t);
    await units.get(t)?.submit(effects);
  };
  /** The cluster side (FSB24_DATABASE_URL): a seat for each switch and each portal; null: one instance. */
  const cl: ClusterSide | null =
    shared && instance
      ? new ClusterSide({
          config: c,
          log,
          clock,
          instance,
          shared,
          switches: switches.list,
          units,
          // a takeover settles what ended since the last holder's last stamp, from the store as it is now
          retake: async (x) => {
            sweep.again(x.name);
            await heartbeat.readPrevious(x.name);
            for (const p of units.values()) unfinishedAtStart.set(p, await p.store.unfinishedCalls());
          },
          routedHere,
          cdr: {
            get owner() {
              return cdr.owner;
            },
            own: () => cdr.own(),
            disown: () => cdr.disown(),
            accept: (leg) => cdr.accept(leg),
            reconnected: () => cdr.reconnected(),
            noteSeen: () => cdr.noteSeen(),
          },
        })
      : null;
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
  /** Into a portal's outbox, counted (durable when it returns). */
  function deliver(unit: PortalUnit, effects: Effect[], switchName?: string): Promise<void> {
    countFinishes(effects, switchName ?? sw.name);
    return unit.submit(effects);
  }
  const cdr = wireBackfill({
    config: c,
    log,
    clock,
    store,
    router,
    facts: cdrFacts,
    units,
    switches,
    recordVariables,
    deliver,
    // several instances: the first switch's holder owns the back-fill (bin/cluster.ts)
    ...(cl && shared
      ? {
          cluster: {
            spoolLock: <T>(fn: () => Promise<T>) => withLease(shared.leases, CDR_SPOOL_LEASE, fn),
            reconnected: () => cl.cdrReconnected(),
          },
        }
      : {}),
  });
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
  /** An event's portal is looked up once (its stored tokens read once), for its check and its handling. */
  const eventPortals = new WeakMap<ParsedEvent, Promise<PortalUnit>>();
  const eventPortal = (ev: ParsedEvent): Promise<PortalUnit> => {
    const known = eventPortals.get(ev);
    if (known) return known;
    const found = portalOfEvent(ev);
    eventPortals.set(ev, found);
    return found;
  };
  /** The routing lookup asks only the portal the domain, else the DID, belongs to. */
  const portalOfLookup = (did: string | undefined, domain: string | undefined): PortalUnit | null => {
    if (tenants.single) return portal;
    const t = (domain ? tenants.ofDomain(domain) : undefined) ?? (did ? tenants.ofLine(did) : undefined);
    return t ? (units.get(t) ?? null) : null;
  };
  const health = async (): Promise<{ ok: boolean; body: Record<string, unknown> }> => {
    // a standby holds no switch: each switch's holder, when one is known, answers for its socket
    const esl = cl ? cl.switchesHealth() : switches.health();
    const p = await portal.health();
    const all = await Promise.all([...units].map(async ([t, u]) => ({ t, h: await u.health() })));
    const ok = esl.ok && all.every((x) => x.h.ok);
    const each = tenants.single ? {} : { portals: Object.fromEntries(all.map(({ t, h }) => [t.host, h.body])) };
    return {
      ok,
      body: {
        status: ok ? 'ok' : 'degraded',
        ...esl.body,
        ...p.body,
        ...each,
        calls: { live: switches.liveCalls },
        cdr: cdr.health(),
        ...(cl ? { cluster: cl.health() } : {}),
      },
    };
  };
  const app = buildApp({
    log: log.child({ mod: 'http' }),
    bodyLimit: c.http.bodyLimit,
    events: {
      verify: async (ev) => {
        const unit = await eventPortal(ev);
        // several instances: an install's tokens are proved on the portal by the portal's holder
        if (cl && ev.event === 'ONAPPINSTALL') return cl.verifyInstall(tenantOfUnit(unit), unit, ev);
        return unit.verify(ev);
      },
      handle: async (ev) => {
        const unit = await eventPortal(ev);
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
          if (cl) await cl.routed(caller, ext, t);
          else for (const x of switches.list) await routedHere(x, caller, ext, t);
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
        // several instances: the callback's calls to Bitrix24 are made by the portal's holder
        cl ? (svc, g) => cl.connect(tenantOfUnit(svc), svc, g) : undefined,
      );
      cdrRoutes(a, {
        log: log.child({ mod: 'cdr' }),
        credentials: c.cdr.credentials,
        parse: (body, type) => parseCdrBody(body, type, { extraVars: recordVariables }),
        // several instances: taken by the back-fill's owner, wherever it was posted
        accept: (leg) => (cl ? cl.acceptCdr(leg) : cdr.accept(leg)),
      });
      o.extraRoutes?.(a);
    },
  });

  const heartbeat = new Heartbeat({
    store,
    stores: () => [store, ...[...units.values()].map((p) => p.store).filter((x) => x !== store)],
    switches: () => switches.list,
    // several instances: only the switch's holder knows its time now
    stamps: (name) => !cl || cl.holdsSwitch(name),
    clock,
    log,
  });

  const rt: Runtime = {
    config: c,
    log,
    store,
    metrics,
    app,
    portal,
    portals: [...units.values()],
    tenants: tenants.list,
    router,
    switch: sw,
    switches: switches.list,
    cluster: cl,
    get url() {
      return url;
    },
    health,
    async start() {
      for (const x of switches.list) await heartbeat.readPrevious(x.name);
      await heartbeat.start();
      await cdr.load();
      for (const p of units.values()) await p.open();
      // a sample call through throwaway models and planners: the first real call does not pay for compiling its path
      const warmFrom = performance.now();
      const sample = sw.warm();
      for (const p of units.values()) await p.warm(sample);
      log.debug({ ms: Math.round(performance.now() - warmFrom) }, 'call path warmed up (nothing sent)');
      url = await app.listen({ host: c.http.host, port: c.http.port });
      if (!cl) for (const p of units.values()) await p.start();
      // FreeSWITCH's spool first: calls that ended while the service was down, before any orphan guess
      await cdr.start();
      for (const p of units.values()) unfinishedAtStart.set(p, await p.store.unfinishedCalls());
      // several instances: each switch and each portal start where their lease is held
      if (cl) await cl.start();
      else switches.start();
      const served = tenants.single ? {} : { portals: tenants.list.map((t) => t.host) };
      // the addresses only: the passwords never reach the log
      const esl = c.switches.map((s) => (c.switches.length > 1 ? `${s.name}=` : '') + `${s.host}:${s.port}`).join(', ');
      const at = { store: storeLabel(c), ...(cl ? { instance: cl.instance } : {}) };
      log.info({ http: url, esl, mode: portal.client.mode, ...at, ...served }, 'service started');
    },
    async stop() {
      heartbeat.stop();
      cdr.stop();
      // the store may be closed already (a second stop)
      await heartbeat.stamp().catch(() => undefined);
      if (cl) await cl.stop();
      else {
        switches.stop();
        for (const p of units.values()) await p.stop();
      }
      await app.close();
      for (const p of units.values()) if (p.store !== store) await p.store.close();
      await store.close();
    },
    crash() {
      heartbeat.stop();
      cdr.stop();
      switches.stop();
      for (const p of units.values()) p.halt();
      void app.close();
      for (const p of units.values()) if (p.store !== store) void p.store.close();
      void store.close();
    },
  };
  return rt;
}

/** Effects grouped by call, in order. */
function byCall(effects: readonly Effect[]): Map<string, Effect[]> {
  const out = new Map<string, Effect[]>();
  for (const e of effects) out.set(e.call, [...(out.get(e.call) ?? []), e]);
  return out;
}
