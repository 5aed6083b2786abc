/** `freeswitch-bitrix24 check` against the stand-ins, every failure provoked once. */
import t from 'tap';
import { stack } from '../helpers/stack.js';
import { check, runCheck } from '../../lib/check.js';
import type { Stack } from '../../lib/demo/stack.js';

function overrides(s: Stack, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const c = s.config;
  return {
    'esl.host': c.esl.host, 'esl.port': c.esl.port, dataDir: c.dataDir, publicUrl: s.service.url, 'b24.portalUrl': c.b24.portalUrl,
    'b24.clientId': c.b24.clientId, 'b24.clientSecret': c.b24.clientSecret, 'b24.oauthUrl': c.b24.oauthUrl, logLevel: 'silent', ...extra,
  };
}

t.test('a healthy setup passes every point', async (t) => {
  const s = await stack(t, { sim: { extensions: { '1001': {}, '1002': {}, '1003': {} } } });
  const lines: string[] = [];
  const code = await runCheck({ overrides: overrides(s, { publicUrl: new URL(s.service.handlerUrl()).origin }) }, (l) => lines.push(l));
  t.equal(code, 0, lines.join('\n'));
  t.match(lines.join('\n'), /PASS {2}event socket[\s\S]*PASS {2}events arriving[\s\S]*PASS {2}token: valid until[\s\S]*PASS {2}scopes: telephony, user[\s\S]*PASS {2}event handlers[\s\S]*PASS {2}users with an extension: 4[\s\S]*PASS {2}registered phones map to users/);
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
  await failing({ publicUrl: 'https://elsewhere.example.com' }, 'event handlers', /bind/);
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
