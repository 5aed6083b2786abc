/**
 * Several instances on one database (FSB24_DATABASE_URL): the composition root's cluster side.
 * One seat per switch (`switch:<name>`: its event socket, call model and originates) and one per
 * portal (`portal:<host>`: its outbox, offline pull, directory, event handling and lookups), each
 * run by the instance holding its lease. Any instance answers HTTP: what it cannot do itself goes
 * to the holder through the mailbox (lib/cluster/), what it commits to a portal's outbox wakes
 * that portal's holder. Without a shared database compose.ts does not build this at all.
 */
import type { Clock } from '../lib/clock.js';
import type { ConfigShape } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import type { BackgroundJob } from '../lib/esl/client.js';
import { EslJobLost } from '../lib/esl/errors.js';
import type { ParsedEvent } from '../lib/bitrix24/event-body.js';
import type { RouteAnswer } from '../lib/routing/responsible.js';
import type { PortalUnit } from '../lib/portal/unit.js';
import type { SwitchUnit } from '../lib/switch/unit.js';
import type { Tenant } from '../lib/tenancy/tenants.js';
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
  parseRegisteredAsk,
  parseRouteAnswer,
  parseRouteAsk,
  parseRouted,
  toWire,
} from '../lib/cluster/messages.js';

export interface ClusterDeps {
  config: Readonly<ConfigShape>;
  log: Logger;
  clock: Clock;
  /** This instance's name (FSB24_INSTANCE_ID, else <hostname>:<pid>). */
  instance: string;
  shared: Shared;
  sw: SwitchUnit;
  units: ReadonlyMap<Tenant, PortalUnit>;
  /** On the switch's holder: a routed caller's effects, to their portal (what a lone instance does). */
  routedHere: (caller: string, extension: string, t: Tenant) => Promise<void>;
}

/** Nobody took an originate within this: the call is finished as when the switch is unreachable. */
const ORIGINATE_PICKUP_MS = 5_000;
/** bgapi's own deadline (EslClient's jobTimeoutMs) and a margin. */
const ORIGINATE_RESULT_MS = 125_000;
/** An event waits this long for a portal's holder (a takeover takes up to 5 s). */
const EVENT_PICKUP_MS = 10_000;
const EVENT_RESULT_MS = 120_000;

export class ClusterSide {
  readonly cluster: Cluster;
  private readonly log: Logger;
  private readonly toWake = new Set<string>();

  constructor(private readonly d: ClusterDeps) {
    this.log = d.log.child({ mod: 'cluster' });
    const { sw, shared, clock } = d;
    this.cluster = new Cluster({
      instance: d.instance,
      leases: shared.leases,
      bus: shared.bus,
      claims: shared.claims,
      clock,
      log: d.log,
    });
    const mailbox = this.cluster.mailbox;
    const switchLease = SWITCH_LEASE(sw.name);
    this.cluster.seat(
      switchLease,
      switchRole({
        socket: sw.listener,
        start: () => {
          sw.reset();
          sw.start();
        },
        stop: () => sw.stop(),
        serve: () =>
          mailbox.serve(
            switchLease,
            dispatch({
              originate: async (body) => {
                const o = parseOriginate(body);
                this.log.info({ jobUuid: o.jobUuid }, 'originate placed for another instance');
                return toWire(await sw.listener.bgapi(o.cmd, o.jobUuid));
              },
              registered: async (body) => sw.registrations.has(parseRegisteredAsk(body).extension),
              routed: async (body) => {
                const r = parseRouted(body);
                const t = this.tenantOf(r.portal);
                if (t) await d.routedHere(r.caller, r.extension, t);
                return null;
              },
            }),
          ),
        clock,
      }),
    );
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

  holdsSwitch(): boolean {
    return this.cluster.holds(SWITCH_LEASE(this.d.sw.name));
  }

  holdsPortal(t: Tenant): boolean {
    return this.cluster.holds(PORTAL_LEASE(t.host));
  }

  /** `bgapi originate` on the switch, from whichever instance holds it. */
  async originate(cmd: string, jobUuid: string): Promise<BackgroundJob> {
    if (this.holdsSwitch()) return this.d.sw.listener.bgapi(cmd, jobUuid);
    const lease = SWITCH_LEASE(this.d.sw.name);
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

  /** Registered on the switch? Its holder says (null: nobody could say in time). */
  async isRegistered(ext: string): Promise<boolean | null> {
    if (this.holdsSwitch()) return this.d.sw.registrations.has(ext);
    const deadline = this.d.config.routing.deadlineMs;
    const a = await this.cluster.mailbox.ask(
      SWITCH_LEASE(this.d.sw.name),
      'registered',
      { extension: ext },
      deadline,
      deadline,
    );
    return a.ok && typeof a.value === 'boolean' ? a.value : null;
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

  /** A routed caller: the switch's holder registers the call for the extension. */
  async routed(caller: string, extension: string, t: Tenant): Promise<void> {
    if (this.holdsSwitch()) return this.d.routedHere(caller, extension, t);
    await this.cluster.mailbox
      .tell(SWITCH_LEASE(this.d.sw.name), 'routed', { caller, extension, portal: t.host })
      .catch((err: unknown) => this.log.warn({ err }, 'routed caller not told to the switch holder'));
  }

  health(): ClusterHealth {
    return this.cluster.health();
  }

  onChange(fn: (h: ClusterHealth) => void): void {
    this.cluster.onChange(fn);
  }

  /** The switch's holder, as far as this instance knows (itself included). */
  switchHolder(): string | null {
    return this.cluster.health().holders[SWITCH_LEASE(this.d.sw.name)] ?? null;
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
