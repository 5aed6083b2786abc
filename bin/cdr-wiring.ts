/**
 * The CDR back-fill (lib/cdr/) wired to the running parts: which portal a back-filled call
 * belongs to (its CDR's facts when the switch has none), what that portal was sent of it, and
 * a spool pass after every (re)connect of any switch. bin/compose.ts builds it.
 */
import { Backfill, type CallSent } from '../lib/cdr/backfill.js';
import { parseCdrText } from '../lib/cdr/parse.js';
import type { Effect } from '../lib/calls/effects.js';
import type { Clock } from '../lib/clock.js';
import type { ConfigShape } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import type { PortalUnit } from '../lib/portal/unit.js';
import type { Store } from '../lib/store/store.js';
import { modelConfig } from '../lib/switch/config.js';
import type { CallFacts } from '../lib/switch/facts.js';
import type { Switches } from '../lib/switch/fleet.js';
import type { TenantRouter } from '../lib/tenancy/router.js';
import type { Tenant } from '../lib/tenancy/tenants.js';

export interface BackfillWiring {
  config: Readonly<ConfigShape>;
  log: Logger;
  clock: Clock;
  /** The service's store: the back-fill's own bookkeeping (held legs). */
  store: Store;
  router: TenantRouter;
  /** Read by the router's facts lookup while it decides a back-filled call's portal. */
  facts: Map<string, CallFacts>;
  units: ReadonlyMap<Tenant, PortalUnit>;
  switches: Switches;
  recordVariables: readonly string[];
  /** Into a portal's outbox, counted (durable when it resolves). */
  deliver: (unit: PortalUnit, effects: Effect[]) => Promise<void>;
  /**
   * Several instances (bin/cluster.ts): the back-fill is owned by one at a time (`own`), its spool
   * passes under a lease, and a switch's reconnect asks the owner for a pass.
   */
  cluster?: {
    spoolLock: <T>(fn: () => Promise<T>) => Promise<T>;
    reconnected: () => Promise<void>;
  };
}

export function wireBackfill(w: BackfillWiring): Backfill {
  const c = w.config;
  /** The portal a back-filled call belongs to, decided with its CDR's facts when the switch has none. */
  const unitOf = (call: string, facts?: CallFacts): PortalUnit | undefined => {
    if (facts) w.facts.set(call, facts);
    const t = w.router.portalOf(call);
    w.facts.delete(call);
    return t ? w.units.get(t) : undefined;
  };
  const cdr = new Backfill(
    {
      kv: { get: async (k) => w.store.get(k), set: async (k, v) => w.store.set(k, v) },
      sent: async (call, facts): Promise<CallSent> => {
        const s = unitOf(call, facts)?.store;
        if (!s) return 'nowhere';
        if (await s.hasEffect(`finish:${call}`)) return 'finished';
        return (await s.hasEffect(`register:${call}`)) || (await s.hasEffect(`adopt:${call}`))
          ? 'registered'
          : 'unknown';
      },
      submit: async (call, effects) => {
        const unit = unitOf(call);
        if (unit) await w.deliver(unit, effects);
      },
      followed: (call) => w.switches.list.some((x) => x.listener.connected && x.model.tracks(call)),
    },
    {
      model: modelConfig(c),
      spoolDirs: c.cdr.spoolDirs,
      graceMs: c.cdr.graceMs,
      maxAgeMs: c.cdr.maxAgeHours * 3_600_000,
      parse: (text) => parseCdrText(text, { extraVars: [...w.recordVariables] }),
      clock: w.clock,
      log: w.log.child({ mod: 'cdr' }),
      ...(w.cluster ? { owned: false, spoolLock: w.cluster.spoolLock } : {}),
    },
  );
  // after every (re)connect: FreeSWITCH's spool, then the calls held for the switch looked at again
  const reconnected = w.cluster?.reconnected ?? (() => cdr.reconnected());
  for (const x of w.switches.list)
    x.listener.on('ready', () => {
      reconnected().catch((err: unknown) => w.log.error({ err }, 'CDR spool import failed'));
    });
  return cdr;
}
