/**
 * A capture of a multi-tenant switch played into a call model and a tenant router, as a switch unit
 * feeds them (no sockets): per channel event, the effects it made and whether it began a call.
 */
import { fixtureEvents } from './fixtures.js';
import { toChannelEvent } from '../../lib/events/channel-event.js';
import { CallModel, defaultModelConfig } from '../../lib/calls/model.js';
import type { Effect } from '../../lib/calls/effects.js';
import { LegFactsTracker } from '../../lib/switch/facts.js';
import { TenantRouter } from '../../lib/tenancy/router.js';
import { Tenants } from '../../lib/tenancy/tenants.js';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';

export interface RoutedStep {
  uuid: string;
  /** This event (a CHANNEL_CREATE) began a call the model now follows. */
  began: boolean;
  effects: Effect[];
}

/** Plays `file` with FSB24_TENANTS = `tenants`; `step` sees each event's outcome; returns the router. */
export function playRouted(
  file: string,
  tenants: Record<string, unknown>,
  step: (s: RoutedStep, router: TenantRouter) => void,
): TenantRouter {
  const c = loadConfig({ overrides: { tenants: JSON.stringify(tenants), 'b24.clientId': 'x' } });
  const model = new CallModel(defaultModelConfig);
  const legs = new LegFactsTracker();
  const router = new TenantRouter(
    new Tenants(c),
    (call) => {
      const d = model.describe(call);
      return d ? legs.facts(d.legs, d.line) : null;
    },
    createLogger('silent'),
  );
  for (const e of fixtureEvents(file)) {
    const ce = toChannelEvent(e);
    if (!ce) continue;
    legs.note(ce);
    const starts = ce.name === 'CHANNEL_CREATE' && !model.tracks(ce.uuid);
    const effects = model.apply(ce);
    step({ uuid: ce.uuid, began: starts && model.tracks(ce.uuid), effects }, router);
  }
  return router;
}
