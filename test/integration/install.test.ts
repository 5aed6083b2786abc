/** Install, reinstall, uninstall, bind, and webhook mode, as the portal would drive them. */
import t from 'tap';
import { stack } from '../helpers/stack.js';
import { outboundCall } from '../../lib/sim/freeswitch/index.js';
import { ok } from '../helpers/portal.js';

t.test(
  'install binds both events to the public URL and registers the configured lines; bind again is harmless',
  async (t) => {
    const s = await stack(t, {
      config: { 'calls.lines': { '4951234567': '4951234567' }, 'calls.lineGateways': { '4957654321': 'pstn' } },
    });
    t.same(s.portal.state.handlers.map((h) => [h.event, h.handler]).sort(), [
      ['ONEXTERNALCALLBACKSTART', s.service.portal.handlerUrl()],
      ['ONEXTERNALCALLSTART', s.service.portal.handlerUrl()],
    ]);
    await s.portal.journal.until(() => s.portal.state.lines.length === 2);
    t.same(s.portal.state.lines.map((l) => l.NUMBER).sort(), ['4951234567', '4957654321']);
    const again = await s.service.portal.bind();
    t.same(again.bound.sort(), ['ONEXTERNALCALLBACKSTART', 'ONEXTERNALCALLSTART'], '"already binded" counts as bound');
    t.equal(s.portal.state.handlers.length, 2);
    t.ok(s.portal.journal.entries.some(ok('telephony.externalline.update')), 'existing lines are updated');
  },
);

t.test(
  'a reinstall of the same portal is accepted; uninstall stops sending and is verified by its token',
  async (t) => {
    const s = await stack(t);
    t.equal(await s.portal.install(`${s.service.url}/bitrix24/events`), 200, 'reinstall');
    const forged = await s.service.app.inject({
      method: 'POST',
      url: '/bitrix24/events',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `event=ONAPPUNINSTALL&data[CLEAN]=0&auth[domain]=${s.portal.domain}&auth[member_id]=${s.portal.app.memberId}&auth[application_token]=forged`,
    });
    t.equal(forged.statusCode, 401, 'a forged uninstall changes nothing');
    t.ok(await s.service.portal.client.tokens(), 'still installed');
    const real = await s.portal.postEvent(
      `${s.service.url}/bitrix24/events`,
      'ONAPPUNINSTALL',
      { LANGUAGE_ID: 'en', CLEAN: 0 },
      {
        domain: s.portal.domain,
        client_endpoint: s.portal.restUrl,
        server_endpoint: `${s.portal.url}/rest/`,
        member_id: s.portal.app.memberId,
        application_token: s.portal.app.applicationToken,
      },
    );
    t.equal(real, 200);
    // handled after the 200, on the next turn (the embedded store writes at once)
    await new Promise<void>((r) => setImmediate(r));
    t.equal(await s.service.portal.client.tokens(), null, 'the tokens are forgotten');
    const h = await s.service.app.inject({ method: 'GET', url: '/healthz' });
    t.equal(h.statusCode, 503);
    t.match(JSON.parse(h.body), { portal: { installed: false } });
  },
);

t.test('webhook mode: calls are registered through the webhook; events need FSB24_B24_APP_TOKEN', async (t) => {
  const s = await stack(t, { install: false, emulator: { webhookAllowedForRegister: true } });
  await s.stopService();
  const { compose } = await import('../../bin/compose.js');
  const { loadConfig } = await import('../../lib/config.js');
  const { createLogger } = await import('../../lib/log.js');
  const config = loadConfig({
    overrides: {
      'esl.host': s.sim.host,
      'esl.port': s.sim.port,
      'http.port': 0,
      dataDir: `${s.config.dataDir}-webhook`,
      'b24.webhookUrl': s.portal.webhookUrl,
      'b24.appToken': 'outgoing-webhook-token',
      'recordings.dirs': s.config.recordings.dirs,
      logLevel: 'silent',
    },
  });
  const svc = compose({ config, log: createLogger('silent') });
  t.teardown(() => svc.stop());
  const ready = new Promise<void>((r) => svc.switch.listener.once('ready', () => r()));
  await svc.start();
  await svc.portal.directory.refresh();
  await ready;
  await outboundCall(s.sim.sw, { extension: '1003', number: '79161234567' });
  const fin = await s.portal.journal.next(ok('telephony.externalcall.finish'));
  t.equal(fin.auth, 'webhook');
  t.match(fin.params, { USER_ID: 13, STATUS_CODE: '200' });
  const post = (token: string) =>
    svc.app.inject({
      method: 'POST',
      url: '/bitrix24/events',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `event=ONEXTERNALCALLBACKSTART&data[PHONE_NUMBER]=%2B79161234567&auth[domain]=x&auth[member_id]=m&auth[application_token]=${token}`,
    });
  t.equal((await post('wrong')).statusCode, 401);
  t.equal((await post('outgoing-webhook-token')).statusCode, 200);
});

t.test('webhook mode on a portal that refuses register over webhooks: kept as failed, with the reason', async (t) => {
  const s = await stack(t, { install: false });
  await s.stopService();
  const { compose } = await import('../../bin/compose.js');
  const { loadConfig } = await import('../../lib/config.js');
  const { createLogger } = await import('../../lib/log.js');
  const config = loadConfig({
    overrides: {
      'esl.host': s.sim.host,
      'esl.port': s.sim.port,
      'http.port': 0,
      dataDir: `${s.config.dataDir}-webhook2`,
      'b24.webhookUrl': s.portal.webhookUrl,
      logLevel: 'silent',
    },
  });
  const svc = compose({ config, log: createLogger('silent') });
  t.teardown(() => svc.stop());
  const ready = new Promise<void>((r) => svc.switch.listener.once('ready', () => r()));
  await svc.start();
  await ready;
  const finishFailed = new Promise<string>((resolve) => {
    svc.portal.outbox.events.onFailed = (job, reason) => job.effect.kind === 'finish' && resolve(reason);
  });
  await outboundCall(s.sim.sw, { extension: '1003', number: '79161234567' });
  await s.portal.journal.next((r) => r.method === 'telephony.externalcall.register' && r.status === 403);
  t.match(await finishFailed, /its register failed: .*WRONG_AUTH_TYPE/, 'its finish is not left pending forever');
  await svc.portal.outbox.idle();
  t.match(
    (await svc.store.failedJobs()).find((f) => f.kind === 'register'),
    { lastError: /WRONG_AUTH_TYPE/ },
  );
  t.equal((await svc.store.stats()).pending, 0);
});
