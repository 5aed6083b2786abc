/**
 * Several instances on one database (FSB24_DATABASE_URL): the composition root's cluster side.
 * One seat per switch (`switch:<name>`: its event socket, call model and originates) and one per
 * portal (`portal:<host>`: its outbox, offline pull, directory, event handling and lookups), each
 * run by the instance holding its lease. Any instance answers HTTP: what it cannot do itself goes
 * to the holder through the mailbox (lib/cluster/), what it commits to a portal's outbox wakes
 * that portal's holder. The first switch's holder also owns the CDR back-fill: CDRs posted to any
 * instance are taken there, and only there is the spool imported. Without a shared database
 * compose.ts does not build this at all.
 */
import type { Clock } from '../lib/clock.js';
import type { ConfigShape } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import type { BackgroundJob } from '../lib/esl/client.js';
import { EslJobLost } from '../lib/esl/errors.js';
import { Unauthorized, type ParsedEvent } from '../lib/bitrix24/event-body.js';
import type { RouteAnswer } from '../lib/routing/responsible.js';
import type { PortalUnit } from '../lib/portal/unit.js';
import type { SwitchUnit } from '../lib/switch/unit.js';
import type { Tenant } from '../lib/tenancy/tenants.js';
import type { Placement } from '../lib/switch/fleet.js';
import type { CdrLeg } from '../lib/cdr/parse.js';
import { cdrLegFromWire } from '../lib/cdr/wire.js';
import { Cluster, type ClusterHealth, type Shared } from '../lib/cluster/cluster.js';
import { channel } from '../lib/cluster/mailbox.js';
import { portalRole, switchRole } from '../lib/cluster/roles.js';
import {
  NoHolder,
  OUTBOX_CHANNEL,
  PORTAL_LEASE,
  SWITCH_LEASE,
  dispatch,
  eventToWire,
  fromWire,
  parseEventMessage,
  parseOriginate,
  parsePhoneAsk,
  parseRouteAnswer,
  parseRouteAsk,
  parseRouted,
  toWire,
  installToWire,
  parseInstall,
  parseInstallAnswer,
  parseConnectGrant,
  parseConnectPage,
} from '../lib/cluster/messages.js';
import { completeConnect, type ConnectGrant, type ConnectPage } from '../lib/http/connect.js';

export interface ClusterDeps {
  config: Readonly<ConfigShape>;
  log: Logger;
  clock: Clock;
  /** This instance's name (FSB24_INSTANCE_ID, else <hostname>:<pid>). */
  instance: string;
  shared: Shared;
  /** Every switch (FSB24_SWITCHES), each run where its lease is held. */
  switches: readonly SwitchUnit[];
  units: ReadonlyMap<Tenant, PortalUnit>;
  /** A switch's next tenure settles the orphans of its calls again (lib/switch/fleet.ts OrphanSweep). */
  retake: (sw: SwitchUnit) => Promise<void>;
  /** On a switch's holder: a routed caller's effects, to their portal (what a lone instance does). */
  routedHere: (sw: SwitchUnit, caller: string, extension: string, t: Tenant) => Promise<void>;
  /** The CDR back-fill (lib/cdr/backfill.ts): owned by the holder of the first switch's lease. */
  cdr: CdrOwner;
}

/** What the cluster does with the CDR back-fill of this instance. */
export interface CdrOwner {
  readonly owner: boolean;
  own(): Promise<void>;
  disown(): Promise<void>;
  accept(leg: CdrLeg): Promise<void>;
  reconnected(): Promise<void>;
  noteSeen(): void;
}

/** Nobody took an originate within this: the call is finished as when the switch is unreachable. */
const ORIGINATE_PICKUP_MS = 5_000;
/** bgapi's own deadline (EslClient's jobTimeoutMs) and a margin. */
const ORIGINATE_RESULT_MS = 125_000;
/** An event waits this long for a portal's holder (a takeover takes up to 5 s). */
const EVENT_PICKUP_MS = 10_000;
const EVENT_RESULT_MS = 120_000;
/** An install or a browser connect waits this long for the portal's holder, then for its REST calls. */
const INSTALL_PICKUP_MS = 5_000;
const INSTALL_RESULT_MS = 20_000;
const CONNECT_RESULT_MS = 60_000;
/** A CDR posted here waits this long for the back-fill's owner (mod_json_cdr's timeout is 5 s; after it, it retries). */
const CDR_PICKUP_MS = 2_000;
const CDR_RESULT_MS = 4_500;

export class ClusterSide {
  readonly cluster: Cluster;
  private readonly log: Logger;
  private readonly toWake = new Set<string>();

  constructor(private readonly d: ClusterDeps) {
    this.log = d.log.child({ mod: 'cluster' });
    const { shared, clock } = d;
    this.cluster = new Cluster({
      instance: d.instance,
      leases: shared.leases,
      bus: shared.bus,
      claims: shared.claims,
      clock,
      log: d.log,
    });
    const mailbox = this.cluster.mailbox;
    for (const sw of d.switches) {
      const switchLease = SWITCH_LEASE(sw.name);
      // the first switch's holder owns the CDR back-fill: the spool first, then orphans (as a lone start)
      const first = sw === d.switches[0];
      this.cluster.seat(
        switchLease,
        switchRole({
          socket: sw.listener,
          start: async () => {
            sw.reset();
            if (first) await d.cdr.own();
            await d.retake(sw);
            sw.start();
          },
          stop: async () => {
            sw.stop();
            if (first) await d.cdr.disown();
          },
          serve: () =>
            mailbox.serve(
              switchLease,
              dispatch({
                originate: async (body) => {
                  const o = parseOriginate(body);
                  this.log.info({ jobUuid: o.jobUuid, switch: sw.name }, 'originate placed for another instance');
                  return toWire(await sw.listener.bgapi(o.cmd, o.jobUuid));
                },
                registered: async (body) => {
                  const q = parsePhoneAsk(body);
                  return sw.isRegistered(q.extension, q.domain);
                },
                inDirectory: async (body) => {
                  const q = parsePhoneAsk(body);
                  return sw.inDirectory(q.extension, q.domain);
                },
                routed: async (body) => {
                  const r = parseRouted(body);
                  const t = this.tenantOf(r.portal);
                  if (t) await d.routedHere(sw, r.caller, r.extension, t);
                  return null;
                },
                // the back-fill's owner: a CDR posted to another instance, durable here when this answers
                cdr: async (body) => {
                  await d.cdr.accept(cdrLegFromWire(body));
                  return null;
                },
                cdrSpool: async () => {
                  await d.cdr.reconnected();
                  return null;
                },
              }),
            ),
          clock,
        }),
      );
    }
    for (const [t, p] of d.units) {
      const lease = PORTAL_LEASE(t.host);
      this.cluster.seat(
        lease,
        portalRole({
          listenOutbox: () => shared.bus.listen(channel(OUTBOX_CHANNEL(t.host)), () => p.outbox.wake()),
          reload: async () => {
            await p.store.reload?.();
            // the directory first: a register planned before it is loaded would go to the default user
            if (p.client.mode === 'webhook' || (await p.store.tokens()))
              await p.directory.refresh().catch((err: unknown) => this.log.warn({ err }, 'directory not loaded'));
          },
          start: () => p.start(),
          stop: () => p.stop(),
          serve: () =>
            mailbox.serve(
              lease,
              dispatch({
                event: async (body) => {
                  await p.handle(parseEventMessage(body));
                  return null;
                },
                route: async (body) => p.router.route(parseRouteAsk(body).caller),
                // installs and browser connects: every REST call of them from here, the portal's sender
                install: async (body) => {
                  try {
                    await p.verify(parseInstall(body));
                    return { refused: null };
                  } catch (err) {
                    if (err instanceof Unauthorized) return { refused: err.message };
                    throw err;
                  }
                },
                connect: async (body) => completeConnect(p, parseConnectGrant(body)),
              }),
            ),
        }),
      );
      // what this instance commits to a portal it does not hold wakes that portal's holder
      p.onEffect(() => this.committed(t));
    }
  }

  get instance(): string {
    return this.cluster.instance;
  }

  holdsSwitch(name: string): boolean {
    return this.cluster.holds(SWITCH_LEASE(name));
  }

  holdsPortal(t: Tenant): boolean {
    return this.cluster.holds(PORTAL_LEASE(t.host));
  }

  private switchNamed(name?: string): SwitchUnit {
    return this.d.switches.find((s) => s.name === name) ?? (this.d.switches[0] as SwitchUnit);
  }

  /** `bgapi originate` on the switch (none named: the first), from whichever instance holds it. */
  async originate(cmd: string, jobUuid: string, name?: string): Promise<BackgroundJob> {
    const sw = this.switchNamed(name);
    if (this.holdsSwitch(sw.name)) return sw.listener.bgapi(cmd, jobUuid);
    const lease = SWITCH_LEASE(sw.name);
    const a = await this.cluster.mailbox.ask(
      lease,
      'originate',
      { cmd, jobUuid },
      ORIGINATE_PICKUP_MS,
      ORIGINATE_RESULT_MS,
    );
    if (a.ok) return fromWire(a.value, jobUuid);
    // taken but no answer: the holder died with it; the switch's events (and the next resync) tell
    if (a.why === 'lost')
      return { jobUuid, ok: false, lost: new EslJobLost('ESL_ERR_CONNECTION_LOST', jobUuid, a.message) };
    throw new NoHolder(lease, a.holder, a.message);
  }

  /**
   * A CDR posted to this instance: taken here when this instance owns the back-fill, else by its
   * owner (the first switch's holder); resolves once it is durable there. Nobody took it: a 503,
   * and FreeSWITCH posts it again, then spools it (imported by the owner).
   */
  async acceptCdr(leg: CdrLeg): Promise<void> {
    if (this.d.cdr.owner) return this.d.cdr.accept(leg);
    this.d.cdr.noteSeen();
    const lease = SWITCH_LEASE((this.d.switches[0] as SwitchUnit).name);
    const a = await this.cluster.mailbox.ask(lease, 'cdr', leg, CDR_PICKUP_MS, CDR_RESULT_MS);
    if (!a.ok) throw new NoHolder(lease, a.holder, `CDR ${leg.uuid} not taken: ${a.message}`);
  }

  /** A switch (re)connected here: a spool pass by the back-fill's owner. */
  async cdrReconnected(): Promise<void> {
    if (this.d.cdr.owner) return this.d.cdr.reconnected();
    await this.cluster.mailbox.tell(SWITCH_LEASE((this.d.switches[0] as SwitchUnit).name), 'cdrSpool', {});
  }

  /** A question about a phone, to a switch's holder (null: nobody could say in time). */
  private async askPhone(
    sw: SwitchUnit,
    kind: 'registered' | 'inDirectory',
    ext: string,
    domain: string | null,
  ): Promise<boolean | null> {
    if (this.holdsSwitch(sw.name))
      return kind === 'registered' ? sw.isRegistered(ext, domain) : sw.inDirectory(ext, domain);
    const deadline = this.d.config.routing.deadlineMs;
    const q = { extension: ext, domain };
    const a = await this.cluster.mailbox.ask(SWITCH_LEASE(sw.name), kind, q, deadline, deadline);
    return a.ok && typeof a.value === 'boolean' ? a.value : null;
  }

  /** Registered on some switch (true), on none (false), or some switch's holder could not say (null). */
  async isRegistered(ext: string, domain: string | null): Promise<boolean | null> {
    const all = await Promise.all(this.d.switches.map((s) => this.askPhone(s, 'registered', ext, domain)));
    return all.includes(true) ? true : all.includes(null) ? null : false;
  }

  /** Switches.locate (lib/switch/fleet.ts), each switch asked where it is held. */
  async locate(ext: string, domain: string | null): Promise<Placement> {
    const list = this.d.switches;
    if (list.length === 1) return { switch: (list[0] as SwitchUnit).name };
    const registered = await Promise.all(list.map((s) => this.askPhone(s, 'registered', ext, domain)));
    const on = registered.indexOf(true);
    if (on >= 0) return { switch: (list[on] as SwitchUnit).name };
    const known = await Promise.all(list.map((s) => this.askPhone(s, 'inDirectory', ext, domain)));
    const has = known.indexOf(true);
    if (has >= 0) return { switch: (list[has] as SwitchUnit).name };
    const who = domain ? `${ext}@${domain}` : ext;
    const deaf = list.filter((_, i) => known[i] === null).map((s) => s.name);
    if (deaf.length > 0)
      return { switch: null, status: '503', reason: `the PBX is not reachable (switch ${deaf.join(', ')})` };
    return { switch: null, status: '480', reason: `extension ${who} is on no switch` };
  }

  /** After the 200: the event is handled by the portal's holder (its directory, outbox, switch port). */
  async handle(t: Tenant, p: PortalUnit, ev: ParsedEvent): Promise<void> {
    if (this.holdsPortal(t)) return p.handle(ev);
    const a = await this.cluster.mailbox.ask(
      PORTAL_LEASE(t.host),
      'event',
      eventToWire(ev),
      EVENT_PICKUP_MS,
      EVENT_RESULT_MS,
    );
    if (!a.ok)
      this.log.error(
        { event: ev.event, portal: t.host, why: a.why, reason: a.message, holder: a.holder },
        'event not handled by the holder of its portal',
      );
  }

  /**
   * An install (ONAPPINSTALL) arriving here: its tokens proved on the portal (app.info) and stored
   * by the portal's holder, so only it sends to the portal. Refused there: a 401 here; nobody
   * could say: a 503 (Bitrix24's install fails; the admin installs again).
   */
  async verifyInstall(t: Tenant, p: PortalUnit, ev: ParsedEvent): Promise<void> {
    if (this.holdsPortal(t)) return p.verify(ev);
    const lease = PORTAL_LEASE(t.host);
    const a = await this.cluster.mailbox.ask(lease, 'install', installToWire(ev), INSTALL_PICKUP_MS, INSTALL_RESULT_MS);
    if (!a.ok) throw new NoHolder(lease, a.holder, `install not verified: ${a.message}`);
    const { refused } = parseInstallAnswer(a.value);
    if (refused !== null) throw new Unauthorized(refused);
  }

  /** The browser connect's callback: the code exchange, the bindings and lines, by the portal's holder. */
  async connect(t: Tenant, p: PortalUnit, g: ConnectGrant): Promise<ConnectPage> {
    if (this.holdsPortal(t)) return completeConnect(p, g);
    const a = await this.cluster.mailbox.ask(PORTAL_LEASE(t.host), 'connect', g, INSTALL_PICKUP_MS, CONNECT_RESULT_MS);
    if (a.ok) return parseConnectPage(a.value);
    const lines = [a.message, 'Open /bitrix24/connect again in a few seconds.'];
    return { status: 503, title: 'Not connected: no instance sends for this portal now', lines };
  }

  /** The routing lookup of a portal, answered by its holder (its REST client and caches). */
  router(t: Tenant, p: PortalUnit): { route: (caller: string) => Promise<RouteAnswer> } {
    return {
      route: async (caller) => {
        if (this.holdsPortal(t)) return p.router.route(caller);
        const deadline = this.d.config.routing.deadlineMs;
        const a = await this.cluster.mailbox.ask(PORTAL_LEASE(t.host), 'route', { caller }, deadline, deadline);
        if (a.ok) return parseRouteAnswer(a.value);
        return {
          extension: null,
          userId: null,
          reason: `no answer from the portal's holder: ${a.message}`,
          cached: false,
        };
      },
    };
  }

  /** A routed caller: each switch's holder registers that caller's live call for the extension. */
  async routed(caller: string, extension: string, t: Tenant): Promise<void> {
    for (const sw of this.d.switches) {
      if (this.holdsSwitch(sw.name)) await this.d.routedHere(sw, caller, extension, t);
      else
        await this.cluster.mailbox
          .tell(SWITCH_LEASE(sw.name), 'routed', { caller, extension, portal: t.host })
          .catch((err: unknown) => this.log.warn({ err }, 'routed caller not told to the switch holder'));
    }
  }

  /**
   * /healthz of the switches: a switch held here says its socket's state, one held elsewhere
   * `standby` and its holder (healthy while one is known).
   */
  switchesHealth(): { ok: boolean; body: Record<string, unknown> } {
    const each = this.d.switches.map((s) => {
      if (this.holdsSwitch(s.name)) return { s, h: s.health() };
      const holder = this.cluster.mailbox.holderOf(SWITCH_LEASE(s.name));
      return { s, h: { ok: holder !== null, body: { state: 'standby', holder } as Record<string, unknown> } };
    });
    const ok = each.every((x) => x.h.ok);
    if (each.length === 1) return { ok, body: { eventSocket: (each[0] as (typeof each)[number]).h.body } };
    return { ok, body: { switches: Object.fromEntries(each.map(({ s, h }) => [s.name, h.body])) } };
  }

  health(): ClusterHealth {
    return this.cluster.health();
  }

  onChange(fn: (h: ClusterHealth) => void): void {
    this.cluster.onChange(fn);
  }

  start(): Promise<void> {
    return this.cluster.start();
  }

  stop(): Promise<void> {
    return this.cluster.stop();
  }

  private tenantOf(host: string): Tenant | undefined {
    return [...this.d.units.keys()].find((t) => t.host === host);
  }

  /** One NOTIFY per portal per turn, after the commit, when another instance delivers for it. */
  private committed(t: Tenant): void {
    if (this.holdsPortal(t) || this.toWake.has(t.host)) return;
    this.toWake.add(t.host);
    queueMicrotask(() => {
      this.toWake.delete(t.host);
      this.d.shared.bus
        .notify(channel(OUTBOX_CHANNEL(t.host)), '')
        .catch((err: unknown) => this.log.warn({ err, portal: t.host }, "portal's holder not woken"));
    });
  }
}
