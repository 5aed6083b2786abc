/**
 * The simulator's directory is per domain, as FreeSWITCH's is (fixtures/esl/tenants/README.md):
 * the same extension in two tenant domains is two users, each registered, rung, found and
 * listed on its own, and a tenant's registration carries its domain as the real switch does.
 */
import t from 'tap';
import { fixtureEvents } from '../../helpers/fixtures.js';
import { SimSwitch } from '../../../lib/sim/freeswitch/index.js';
import { runApi } from '../../../lib/sim/freeswitch/api.js';
import { EslEvent, type HeaderValue } from '../../../lib/esl/codec.js';

const A = { uuid: 'b20e19fb-86d7-4256-9c57-9b4986d04df7', extensions: { '1001': { ringMs: 1000 } } };
const B = { uuid: '37fc5e14-a99a-4b3d-879f-57426d45955f', extensions: { '1001': { mode: 'busy' as const } } };

function sim(): SimSwitch {
  return new SimSwitch({ domains: { 'a.pbx.test': A, 'b.pbx.test': B }, extensions: { '1002': {} } });
}

t.test("a tenant's sofia::register: realm, from-host, to-host and its directory variables", async (t) => {
  const sw = sim();
  const got: EslEvent[] = [];
  sw.subscribe((e) => got.push(new EslEvent(e.headers as Array<[string, HeaderValue]>, e.body)));
  sw.register('1001', 120, 'a.pbx.test');
  const real = fixtureEvents('tenants/tenant-a-register.json.txt').find((e) => e.get('realm') === 'a.pbx.test')!;
  const mine = got[0]!;
  const keys = [
    'Event-Subclass',
    'profile-name',
    'from-user',
    'from-host',
    'to-user',
    'to-host',
    'username',
    'realm',
    'network-port',
    'status',
    'expires',
    'sip_auth_realm',
    'domain_uuid',
    'domain_name',
    'user_context',
    'accountcode',
  ];
  t.same(
    keys.map((k) => [k, mine.get(k)]),
    keys.map((k) => [k, real.get(k)]),
  );
  const realNames = new Set(real.headers.map(([k]) => k));
  t.same(
    mine.headers.map(([k]) => k).filter((k) => !realNames.has(k)),
    [],
    'no header the real switch does not send',
  );
});

t.test('the same extension in two domains: two users, found, rung and listed each on its own', async (t) => {
  const sw = sim();
  const api = (line: string): Promise<string> => runApi({ sw }, line);
  t.equal(await api('user_exists id 1001 a.pbx.test'), 'true');
  t.equal(await api('user_exists id 1001 b.pbx.test'), 'true');
  t.equal(await api('user_exists id 1002 a.pbx.test'), 'false', "the switch's own 1002 is not a's");
  t.equal(await api('user_exists id 1002 127.0.0.1'), 'true');
  t.equal(await api('user_exists id 1001 nowhere.test'), 'false');
  t.equal(await api('global_getvar domain'), '127.0.0.1', 'what user/<ext> without a domain dials');
  t.equal(await api('sofia_contact */1001@b.pbx.test'), 'sofia/internal/sip:1001@127.0.0.1:5301;transport=UDP');
  t.equal(await api('sofia_contact */1001@a.pbx.test'), 'sofia/internal/sip:1001@127.0.0.1:5201;transport=UDP');
  sw.unregister('1001', 'b.pbx.test');
  t.equal(await api('sofia_contact */1001@b.pbx.test'), 'error/user_not_registered');
  const rows = (JSON.parse(await api('show registrations as json')) as { rows: Array<Record<string, string>> }).rows;
  t.same(
    rows.map((r) => `${r.reg_user}@${r.realm}:${r.network_port}`),
    ['1002@127.0.0.1:5102', '1001@a.pbx.test:5201'],
  );
  sw.register('1001', 120, 'b.pbx.test');
  // b's 1001 is busy, a's answers: the originate rings the domain's own user
  t.equal(await api('originate {ignore_early_media=true}user/1001@b.pbx.test &park()'), '-ERR USER_BUSY\n');
  t.match(await api('originate {ignore_early_media=true}user/1001@a.pbx.test &park()'), /^\+OK [0-9a-f-]{36}\n$/);
  t.equal(await api('originate {ignore_early_media=true}user/1001@nowhere.test &park()'), '-ERR SUBSCRIBER_ABSENT\n');
  t.equal(await api('originate {ignore_early_media=true}user/1001 &park()'), '-ERR SUBSCRIBER_ABSENT\n');
  t.ok(sw.contexts.has('a.pbx.test') && sw.contexts.has('b.pbx.test'), 'a context per tenant domain');
});
