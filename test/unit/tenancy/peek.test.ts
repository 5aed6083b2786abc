/**
 * The router's hint for a connection opened ahead (lib/bitrix24/spare.ts): the portal a call
 * goes to as far as its legs say now, on the captures of two FusionPBX-style domains, deciding
 * nothing (a call whose trunk leg names no domain yet still reaches its portal later).
 */
import t from 'tap';
import { fixtureEvents } from '../../helpers/fixtures.js';
import { toChannelEvent } from '../../../lib/events/channel-event.js';
import { CallModel, defaultModelConfig } from '../../../lib/calls/model.js';
import { LegFactsTracker } from '../../../lib/switch/facts.js';
import { TenantRouter } from '../../../lib/tenancy/router.js';
import { Tenants } from '../../../lib/tenancy/tenants.js';
import { loadConfig } from '../../../lib/config.js';
import { createLogger } from '../../../lib/log.js';

const A = 'https://a.bitrix24.test';
const B = 'https://b.bitrix24.test';

/** Each call's hint at its first leg's CREATE, and where its effects went in the end. */
function play(file: string): { hint: Array<string | null>; to: string[]; unmatched: number } {
  const tenants = { [A]: { domains: ['a.pbx.test'] }, [B]: { domains: ['b.pbx.test'] } };
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
  const hint: Array<string | null> = [];
  const to: string[] = [];
  for (const e of fixtureEvents(file)) {
    const ce = toChannelEvent(e);
    if (!ce) continue;
    legs.note(ce);
    const starts = ce.name === 'CHANNEL_CREATE' && !model.tracks(ce.uuid);
    const effects = model.apply(ce);
    if (starts && model.tracks(ce.uuid)) hint.push(router.peek(ce.uuid)?.url ?? null);
    for (const [tenant] of router.route(effects)) to.push(tenant.url);
  }
  return { hint, to: [...new Set(to)], unmatched: router.unmatched };
}

t.test('a phone dialling out names its domain at once: the hint is its portal', async (t) => {
  t.same(play('tenants/tenant-b-outbound-answered.json.txt'), { hint: [B], to: [B], unmatched: 0 });
});

t.test('a trunk leg that names no domain yet: no hint, and the call still reaches its portal', async (t) => {
  t.same(play('tenants/tenant-a-inbound-answered.json.txt'), { hint: [null], to: [A], unmatched: 0 });
});
