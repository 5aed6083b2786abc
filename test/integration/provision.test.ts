/**
 * Bitrix24 must reach the service at FSB24_PUBLIC_URL: `check` verifies it as the portal
 * would, and `freeswitch-bitrix24 bind` moves the handlers there and says what it did.
 */
import t from 'tap';
import { stack } from '../helpers/stack.js';
import { check } from '../../lib/check.js';
import { main } from '../../bin/cli.js';
import { configuredLines, bindReport } from '../../lib/bitrix24/provision.js';
import { loadConfig } from '../../lib/config.js';
import { overrides } from '../helpers/stack.js';

t.test('configuredLines: DID lines, lines with a gateway and gateway lines, once each', async (t) => {
  const c = loadConfig({
    overrides: {
      'calls.lines': { '74951234567': '4951234567' },
      'calls.lineGateways': { '4957654321': 'pstn' },
      'calls.gatewayLines': { pstn: '4957654321', gw2: '4950000001' },
    },
  });
  t.same(configuredLines(c), ['4950000001', '4951234567', '4957654321']);
});

t.test('check: the public URL answers as this service, over HTTPS (http only warns)', async (t) => {
  const s = await stack(t);
  const point = async (publicUrl: string) =>
    (await check({ overrides: overrides(s, { publicUrl }) })).find((x) => x.name === 'public URL');
  t.match(await point(s.service.url), { ok: true, warn: true, detail: /plain http/, fix: /HTTPS/ });
  t.match(await point('http://127.0.0.1:1'), { ok: false, fix: /must reach this service/ });
  t.match(await point(s.portal.url), { ok: false, detail: /not this service's health/, fix: /reverse proxy/ });
  t.match(await point(''), { ok: false, detail: 'FSB24_PUBLIC_URL is not set' });
});

t.test('bind moves handlers left at an old public URL, and check sees them until then', async (t) => {
  const s = await stack(t);
  const old = 'https://old-address.example.com/bitrix24/events';
  for (const event of ['ONEXTERNALCALLSTART', 'ONEXTERNALCALLBACKSTART'])
    s.portal.state.handlers.push({ appId: s.portal.app.id, event, handler: old, auth_type: '0', offline: 0 });
  const handlers = async () => (await check({ overrides: overrides(s) })).find((x) => x.name === 'event handlers');
  t.match(await handlers(), { ok: false, detail: `also bound to ${old} (events go there)`, fix: /bind/ });
  const r = await s.service.portal.bind();
  t.same(r.replaced.map((h) => [h.event, h.handler]).sort(), [
    ['ONEXTERNALCALLBACKSTART', old],
    ['ONEXTERNALCALLSTART', old],
  ]);
  t.same(
    s.portal.state.handlers.map((h) => h.handler),
    [s.service.portal.handlerUrl(), s.service.portal.handlerUrl()],
    'only the current address is left',
  );
  t.ok(
    s.portal.journal.entries.some((e) => e.method === 'event.unbind' && e.status === 200 && e.params.handler === old),
  );
  t.match(await handlers(), { ok: true });
});

t.test('bind reports honestly: a refused line is not "registered", an existing one is not an error', async (t) => {
  const s = await stack(t, {
    config: { 'calls.lines': { '4951234567': '4951234567' }, 'calls.gatewayLines': { pstn: '4957654321' } },
  });
  await s.portal.journal.until(() => s.portal.state.lines.length === 2);
  const again = await s.service.portal.bind();
  t.same(
    { lines: again.lines, failed: again.failed },
    { lines: ['4951234567', '4957654321'], failed: [] },
    'existing lines: updated, fine',
  );
  s.portal.blockedMethods.add('telephony.externalline.add');
  s.portal.state.lines.splice(0); // both must be added again, and the portal refuses
  const env = {
    FSB24_ESL_HOST: s.config.esl.host,
    FSB24_ESL_PORT: String(s.config.esl.port),
    FSB24_DATA_DIR: s.config.dataDir,
    FSB24_PUBLIC_URL: s.service.url,
    FSB24_B24_PORTAL_URL: s.config.b24.portalUrl,
    FSB24_B24_CLIENT_ID: s.config.b24.clientId,
    FSB24_B24_CLIENT_SECRET: s.config.b24.clientSecret,
    FSB24_B24_OAUTH_URL: s.config.b24.oauthUrl,
    FSB24_LINES: '{"4951234567":"4951234567"}',
    FSB24_GATEWAY_LINES: '{"pstn":"4957654321"}',
    FSB24_LOG_LEVEL: 'silent',
  };
  const printed: string[] = [];
  const log = console.log;
  console.log = (line: string) => void printed.push(line);
  let code: number;
  try {
    code = await main(['bind'], env);
  } finally {
    console.log = log;
  }
  t.equal(code, 1, 'a failed line fails the command');
  t.notMatch(printed.join('\n'), /lines registered/);
  t.match(
    printed.join('\n'),
    /line NOT registered: 4951234567: .*OPERATION_TIME_LIMIT[\s\S]*line NOT registered: 4957654321/,
  );
  t.same(bindReport({ bound: [], replaced: [], lines: [], failed: [] }, 'webhook', ''), [
    'event handlers: none (webhook mode: only the application can bind events)',
    'lines: none configured (FSB24_LINES, FSB24_GATEWAY_LINES, FSB24_LINE_GATEWAYS)',
  ]);
});
