/** /healthz and /metrics through inject(). */
import t from 'tap';
import { stack } from '../helpers/stack.js';
import { outboundCall } from '../../lib/sim/freeswitch/index.js';

t.test('healthz: up when the socket and the portal are, 503 when the socket is lost', async (t) => {
  const s = await stack(t);
  const ok = await s.service.app.inject({ method: 'GET', url: '/healthz' });
  t.equal(ok.statusCode, 200);
  t.match(JSON.parse(ok.body), {
    status: 'ok',
    eventSocket: { state: 'up' },
    portal: { mode: 'oauth', installed: true, tokenExpiresAt: /^\d{4}-/ },
    outbox: { pending: 0, failed: 0 },
  });
  const down = new Promise<void>((r) => s.service.switch.listener.once('down', () => r()));
  s.sim.dropConnections();
  await down;
  const bad = await s.service.app.inject({ method: 'GET', url: '/healthz' });
  t.equal(bad.statusCode, 503);
  t.match(JSON.parse(bad.body), { status: 'degraded', eventSocket: { state: /down|connecting/ } });
  await s.eslReady();
});

type Health = {
  status: string;
  eventSocket: { state: string; lastError: { at: number; message: string } | null };
  portal: { lastError: unknown };
};

t.test(
  'healthz says why the event socket is down: reset, refused password, nobody listening; nothing once it is up',
  async (t) => {
    const s = await stack(t);
    const health = async (): Promise<Health> =>
      JSON.parse((await s.service.app.inject({ method: 'GET', url: '/healthz' })).body) as Health;
    t.equal((await health()).eventSocket.lastError, null, 'up: no error');
    const listener = s.service.switch.listener;
    // the switch now wants another password: the next connect is refused
    (s.sim as unknown as { password: string }).password = 'changed-on-the-switch';
    const refused = new Promise<Error>((r) => listener.once('failed', r));
    s.sim.dropConnections();
    await refused;
    let h = await health();
    t.equal(h.status, 'degraded');
    t.match(h.eventSocket.lastError?.message, /refused the password.*FSB24_ESL_PASSWORD/);
    t.notMatch(JSON.stringify(h), /ClueCon|changed-on-the-switch/, 'no password in the report');
    // FreeSWITCH (or mod_event_socket) is not running
    const port = s.sim.port;
    await s.sim.close();
    const nobody = new Promise<Error>((r) => listener.once('failed', r));
    await nobody;
    h = await health();
    t.match(h.eventSocket, {
      state: /down|connecting/,
      lastError: { message: new RegExp(`127\\.0\\.0\\.1:${port}.*ECONNREFUSED`) },
    });
    (s.sim as unknown as { password: string }).password = 'ClueCon';
    await s.sim.listen(port);
    await s.eslReady();
    h = await health();
    t.match(h, { status: 'ok', eventSocket: { state: 'up', lastError: null } });
  },
);

t.test('healthz shows the last Bitrix24 error until the portal answers again', async (t) => {
  const s = await stack(t);
  const health = async (): Promise<Health> =>
    JSON.parse((await s.service.app.inject({ method: 'GET', url: '/healthz' })).body) as Health;
  s.portal.setOutage('http500');
  t.equal(await s.service.portal.directory.refresh(), false);
  t.match((await health()).portal.lastError, { message: /user\.get: INTERNAL_SERVER_ERROR/ });
  s.portal.setOutage('none');
  t.equal(await s.service.portal.directory.refresh(), true);
  t.equal((await health()).portal.lastError, null, 'cleared by the next answer');
});

t.test('metrics: events, calls by outcome, REST requests, outbox depth', async (t) => {
  const s = await stack(t);
  await outboundCall(s.sim.sw, { extension: '1003', number: '79161234567' });
  await s.portal.journal.next((r) => r.method === 'telephony.externalcall.finish');
  await s.service.portal.outbox.idle();
  const res = await s.service.app.inject({ method: 'GET', url: '/metrics' });
  t.equal(res.statusCode, 200);
  t.match(res.body, /fsb24_esl_events_total\{switch="default",name="CHANNEL_CREATE"\} 2/);
  t.match(res.body, /fsb24_calls_total\{switch="default",direction="outgoing",outcome="200"\} 1/);
  const host = new URL(s.portal.url).host.replace(/\./g, '\\.');
  t.match(
    res.body,
    new RegExp(
      `fsb24_rest_requests_total\\{portal="${host}",method="(batch|telephony\\.externalcall\\.register)",result="ok"\\} \\d`,
    ),
  );
  t.match(res.body, new RegExp(`fsb24_b24_server_seconds_total\\{portal="${host}",method="[a-z.]+"\\} \\d`));
  t.match(res.body, /fsb24_outbox_pending 0/);
  t.match(res.body, /fsb24_esl_reconnects_total\{switch="default"\} 0/);
  t.match(res.body, /fsb24_esl_connected\{switch="default"\} 1/);
  t.match(res.body, /fsb24_live_calls\{switch="default"\} 0/);
});
