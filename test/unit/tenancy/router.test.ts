/**
 * The tenant lookup against the captures of a real FreeSWITCH with two FusionPBX-style
 * domains (fixtures/esl/tenants): every effect of each call reaches its tenant's portal,
 * though the trunk leg names no domain at CREATE and a gateway leg never does.
 */
import t from 'tap';
import { playRouted } from '../../helpers/tenancy.js';
import type { TenantRouter } from '../../../lib/tenancy/router.js';
import { Tenants, portalConfig, foreignLine } from '../../../lib/tenancy/tenants.js';
import { loadConfig, ConfigError } from '../../../lib/config.js';
import type { Effect } from '../../../lib/calls/effects.js';

const A = 'https://a.bitrix24.test';
const B = 'https://b.bitrix24.test';

function play(
  file: string,
  tenants: Record<string, unknown>,
): { to: Array<[string, Effect['kind'][]]>; router: TenantRouter } {
  const to: Array<[string, Effect['kind'][]]> = [];
  const router = playRouted(file, tenants, ({ effects }, r) => {
    for (const [tenant, mine] of r.route(effects)) to.push([tenant.url, mine.map((x) => x.kind)]);
  });
  return { to, router };
}

const byDomain = { [A]: { domains: ['a.pbx.test'] }, [B]: { domains: ['b.pbx.test'] } };

for (const format of ['plain', 'json']) {
  for (const [tenant, url] of [
    ['a', A],
    ['b', B],
  ] as const) {
    t.test(`tenant-${tenant} ${format}: inbound and outbound calls reach ${tenant}'s portal only`, async (t) => {
      for (const kind of ['inbound', 'outbound']) {
        const { to, router } = play(`tenants/tenant-${tenant}-${kind}-answered.${format}.txt`, byDomain);
        t.ok(to.length > 0, `${kind}: effects were routed`);
        t.same([...new Set(to.map(([u]) => u))], [url], `${kind}: all to ${url}`);
        t.same(
          to.flatMap(([, k]) => k).filter((k) => k === 'register' || k === 'finish'),
          ['register', 'finish'],
          `${kind}: register and finish`,
        );
        t.equal(router.waitingCalls, 0, `${kind}: nothing left waiting`);
        t.equal(router.unmatched, 0);
      }
    });
  }
}

t.test('the register of an inbound call is not held: the user/ leg names dialed_domain at CREATE', async (t) => {
  const { to } = play('tenants/tenant-a-inbound-answered.plain.txt', byDomain);
  t.same(to[0], [A, ['register']], 'the first effect goes out as it is made');
});

t.test('else the line (DID), else the gateway; a call of no portal is counted, sent nowhere', async (t) => {
  const lines = { [A]: { lines: ['4951110000'] }, [B]: { lines: ['4952220000'] } };
  t.same([...new Set(play('tenants/tenant-b-inbound-answered.plain.txt', lines).to.map(([u]) => u))], [B], 'by DID');
  // a's domain is of no portal, its DID is B's: a named domain of nobody does not hold the call
  const mixed = { [A]: { domains: ['x.pbx.test'] }, [B]: { lines: ['4951110000'] } };
  const r = play('tenants/tenant-a-inbound-answered.plain.txt', mixed);
  t.same(r.to[0], [B, ['register']], 'decided at once by the line');
  const gw = { [A]: { gateways: ['pstn'] }, [B]: { domains: ['nowhere.test'] } };
  t.same([...new Set(play('tenants/tenant-a-outbound-answered.plain.txt', gw).to.map(([u]) => u))], [A], 'by gateway');
  const none = play('tenants/tenant-a-outbound-answered.plain.txt', { [B]: { domains: ['b.pbx.test'] } });
  t.same(none.to, [], 'sent nowhere');
  t.equal(none.router.unmatched, 1);
});

t.test('the config refuses clashes and empty entries, and says which', async (t) => {
  const load = (v: unknown): unknown => loadConfig({ overrides: { tenants: JSON.stringify(v), 'b24.clientId': 'x' } });
  t.throws(() => load({ [A]: { lines: ['1'] }, [B]: { lines: ['1'] } }), new ConfigError(''), 'clash');
  t.throws(() => load({ [A]: { lines: ['1'] }, [B]: { lines: ['1'] } }), {
    message: /line 1 belongs to both https:\/\/a\.bitrix24\.test and https:\/\/b\.bitrix24\.test/,
  });
  t.throws(() => load({ [A]: { domains: ['A.pbx.test'] }, [B]: { domains: ['a.pbx.test'] } }), {
    message: /domain a\.pbx\.test belongs to both/,
  });
  t.throws(() => load({ [A]: {} }), { message: /give at least one of domains, lines, gateways/ });
  t.throws(() => load({ [A]: { domain: ['x'] } }), { message: /unknown key "domain"/ });
  t.throws(() => load({ 'ftp://x': { lines: ['1'] } }), { message: /must be an http\(s\) URL/ });
  t.same(loadConfig({}).tenants, {}, 'none by default');
});

t.test("a portal's configuration: its domain, its gateways, its lines", async (t) => {
  const c = loadConfig({
    overrides: {
      tenants: JSON.stringify({
        [A]: { domains: ['a.pbx.test'], lines: ['4951110000'], gateways: ['a-trunk'] },
        [B]: { domains: ['b.pbx.test'] },
      }),
      'b24.clientId': 'x',
      'calls.gateway': 'pstn',
      'calls.lineGateways': '{"4951110000":"a-trunk","4952220000":"pstn"}',
    },
  });
  const ts = new Tenants(c);
  const [ta, tb] = ts.list as [(typeof ts.list)[0], (typeof ts.list)[0]];
  const ca = portalConfig(c, ta, false);
  t.match(ca, {
    b24: { portalUrl: A },
    calls: {
      domain: 'a.pbx.test',
      gateway: 'a-trunk',
      lineGateways: { 4951110000: 'a-trunk' },
      lines: { 4951110000: '4951110000' },
    },
  });
  t.same(ca.calls.lineGateways, { 4951110000: 'a-trunk' }, "B's line is not A's");
  t.match(portalConfig(c, tb, false), { calls: { domain: 'b.pbx.test', gateway: 'pstn' } });
  t.ok(foreignLine(ts, tb, '4951110000'), "A's line is foreign to B");
  t.notOk(foreignLine(ts, ta, '4951110000'));
  const one = loadConfig({ overrides: { 'b24.portalUrl': A } });
  const single = new Tenants(one);
  t.ok(single.single);
  t.equal(portalConfig(one, single.list[0]!, true), one, 'FSB24_B24_PORTAL_URL alone: the configuration as it is');
});
