/** /healthz and /metrics through inject(). */
import t from 'tap';
import { stack } from '../helpers/stack.js';
import { outboundCall } from '../../lib/sim/freeswitch/index.js';

t.test('healthz: up when the socket and the portal are, 503 when the socket is lost', async (t) => {
  const s = await stack(t);
  const ok = await s.service.app.inject({ method: 'GET', url: '/healthz' });
  t.equal(ok.statusCode, 200);
  t.match(JSON.parse(ok.body), { status: 'ok', eventSocket: { state: 'up' }, portal: { mode: 'oauth', installed: true, tokenExpiresAt: /^\d{4}-/ }, outbox: { pending: 0, failed: 0 } });
  const down = new Promise<void>((r) => s.service.listener.once('down', () => r()));
  s.sim.dropConnections();
  await down;
  const bad = await s.service.app.inject({ method: 'GET', url: '/healthz' });
  t.equal(bad.statusCode, 503);
  t.match(JSON.parse(bad.body), { status: 'degraded', eventSocket: { state: /down|connecting/ } });
  await s.eslReady();
});

t.test('metrics: events, calls by outcome, REST requests, outbox depth', async (t) => {
  const s = await stack(t);
  await outboundCall(s.sim.sw, { extension: '1003', number: '79161234567' });
  await s.portal.journal.next((r) => r.method === 'telephony.externalcall.finish');
  await s.service.outbox.idle();
  const res = await s.service.app.inject({ method: 'GET', url: '/metrics' });
  t.equal(res.statusCode, 200);
  t.match(res.body, /fsb24_esl_events_total\{name="CHANNEL_CREATE"\} 2/);
  t.match(res.body, /fsb24_calls_total\{direction="outgoing",outcome="200"\} 1/);
  t.match(res.body, /fsb24_rest_requests_total\{method="(batch|telephony\.externalcall\.register)",result="ok"\} \d/);
  t.match(res.body, /fsb24_outbox_pending 0/);
  t.match(res.body, /fsb24_esl_reconnects_total 0/);
});
