/** `freeswitch-bitrix24 check` against the stand-ins, every failure provoked once. */
import t from 'tap';
import { stack } from '../helpers/stack.js';
import { check, runCheck, tokenFix } from '../../lib/check.js';
import { B24Error } from '../../lib/bitrix24/errors.js';
import type { StoredTokens } from '../../lib/store/store.js';
import { overrides } from '../helpers/stack.js';

t.test('a healthy setup passes every point', async (t) => {
  const s = await stack(t, { sim: { extensions: { '1001': {}, '1002': {}, '1003': {} } } });
  const lines: string[] = [];
  const code = await runCheck(
    { overrides: overrides(s, { publicUrl: new URL(s.service.portal.handlerUrl()).origin }) },
    (l) => lines.push(l),
  );
  t.equal(code, 0, lines.join('\n'));
  t.match(
    lines.join('\n'),
    /PASS {2}event socket[\s\S]*PASS {2}events arriving[\s\S]*PASS {2}token: valid until[\s\S]*PASS {2}scopes: telephony, user[\s\S]*PASS {2}event handlers[\s\S]*PASS {2}users with an extension: 4[\s\S]*PASS {2}registered phones map to users/,
  );
});

t.test('each failure is reported with its fix, and the exit status says so', async (t) => {
  const s = await stack(t);
  const failing = async (extra: Record<string, unknown>, name: string, fix: RegExp): Promise<void> => {
    const r = await check({ overrides: overrides(s, extra) });
    const hit = r.find((x) => x.name === name && !x.ok);
    t.ok(hit, `${name} fails`);
    t.match(hit?.fix ?? '', fix, `${name}: fix`);
  };
  await failing({ 'esl.password': 'wrong' }, 'event socket', /FSB24_ESL_PASSWORD/);
  await failing({ 'esl.port': 1 }, 'event socket', /mod_event_socket/);
  await failing({ publicUrl: s.service.url.replace('127.0.0.1', 'localhost') }, 'event handlers', /bind/);
  await failing({ 'calls.lines': { '4950000000': '4950000000' } }, 'lines', /bind/);
  await failing({}, 'registered phones map to users', /UF_PHONE_INNER/);
  s.portal.app.scopes = 'telephony';
  await failing({}, 'scopes', /scopes/);
  s.portal.app.scopes = 'telephony,user';
  await failing({ 'b24.portalUrl': 'http://127.0.0.1:1' }, 'portal reachable', /portal address/);
  const bad = await check({ env: { FSB24_ESL_PORT: 'abc' } });
  t.match(bad[0], { name: 'configuration', ok: false, detail: /esl\.port \(FSB24_ESL_PORT\)/ });
  t.equal(await runCheck({ overrides: overrides(s, { 'esl.password': 'wrong' }) }, () => undefined), 1);
});

t.test('check asks for every configured line, gateway lines included', async (t) => {
  const s = await stack(t, { config: { 'calls.lines': { '4951234567': '4951234567' } } });
  await s.portal.journal.until(() => s.portal.state.lines.length === 1);
  const r = await check({
    overrides: overrides(s, {
      'calls.lines': { '4951234567': '4951234567' },
      'calls.gatewayLines': { pstn: '4959999999' },
    }),
  });
  t.match(
    r.find((x) => x.name === 'lines'),
    { ok: false, detail: 'not registered: 4959999999', fix: /bind/ },
  );
});

t.test('a portal outage is "retry later", a spent token is "reinstall"', async (t) => {
  const s = await stack(t);
  const fixes = async (): Promise<string> =>
    (await check({ overrides: overrides(s) }))
      .filter((x) => !x.ok)
      .map((x) => `${x.name}: ${x.fix ?? ''}`)
      .join('\n');
  s.portal.setOutage('http500');
  t.match(await fixes(), /portal reachable: the portal is unreachable or failing: retry later/);
  s.portal.setOutage('reset');
  t.match(await fixes(), /portal reachable: the portal is unreachable or failing: retry later/, 'a reset too');
  s.portal.setOutage('none');
  const spent: StoredTokens = { ...(await s.service.store.tokens())!, refreshToken: 'spent-already' };
  await s.service.store.setTokens(spent);
  s.portal.expireTokens();
  t.match(await fixes(), /token: reinstall the application/);
  t.notMatch(await fixes(), /retry later/);
});

t.test('the token fix tells an outage from a spent token', async (t) => {
  const fix = (e: unknown) => tokenFix(e, 'oauth');
  t.match(fix(new B24Error('B24_ERR_REST', 'app.info: HTTP 503, not a JSON envelope', { status: 503 })), /retry later/);
  t.match(
    fix(
      new B24Error('B24_ERR_REST', 'app.info: INTERNAL_SERVER_ERROR', { status: 500, error: 'INTERNAL_SERVER_ERROR' }),
    ),
    /retry later/,
  );
  t.match(fix(new B24Error('B24_ERR_NETWORK', 'app.info: socket hang up')), /retry later/);
  t.match(
    fix(
      new B24Error('B24_ERR_AUTH', 'token refresh refused: 503 (reinstall the application)', {
        status: 503,
        error: '',
      }),
    ),
    /retry later/,
    'the OAuth server down is an outage',
  );
  t.match(
    fix(new B24Error('B24_ERR_AUTH', 'token refresh refused: invalid_grant', { status: 400, error: 'invalid_grant' })),
    /reinstall/,
  );
  t.match(
    fix(new B24Error('B24_ERR_AUTH', 'app.info: expired_token', { status: 401, error: 'expired_token' })),
    /reinstall/,
  );
  t.notMatch(
    fix(new B24Error('B24_ERR_AUTH', 'app.info: NO_AUTH_FOUND', { status: 401, error: 'NO_AUTH_FOUND' })),
    /reinstall|retry/,
  );
});
