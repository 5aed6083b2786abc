/**
 * The router's hint for a connection opened ahead (lib/bitrix24/spare.ts): the portal a call
 * goes to as far as its legs say now, on the captures of two FusionPBX-style domains, deciding
 * nothing (a call whose trunk leg names no domain yet still reaches its portal later).
 */
import t from 'tap';
import { playRouted } from '../../helpers/tenancy.js';

const A = 'https://a.bitrix24.test';
const B = 'https://b.bitrix24.test';

/** Each call's hint at its first leg's CREATE, and where its effects went in the end. */
function play(file: string): { hint: Array<string | null>; to: string[]; unmatched: number } {
  const tenants = { [A]: { domains: ['a.pbx.test'] }, [B]: { domains: ['b.pbx.test'] } };
  const hint: Array<string | null> = [];
  const to: string[] = [];
  const router = playRouted(file, tenants, ({ uuid, began, effects }, r) => {
    if (began) hint.push(r.peek(uuid)?.url ?? null);
    for (const [tenant] of r.route(effects)) to.push(tenant.url);
  });
  return { hint, to: [...new Set(to)], unmatched: router.unmatched };
}

t.test('a phone dialling out names its domain at once: the hint is its portal', async (t) => {
  t.same(play('tenants/tenant-b-outbound-answered.json.txt'), { hint: [B], to: [B], unmatched: 0 });
});

t.test('a trunk leg that names no domain yet: no hint, and the call still reaches its portal', async (t) => {
  t.same(play('tenants/tenant-a-inbound-answered.json.txt'), { hint: [null], to: [A], unmatched: 0 });
});
