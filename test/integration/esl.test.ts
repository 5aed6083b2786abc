/**
 * The event socket side of the service: reconnect with back-off, resync, frames that
 * do not parse, values with a literal %, a switch restart with calls lost meanwhile.
 * (Reply deadlines, back-off and the watchdog run on a moved clock: test/unit/esl/listener.test.ts.)
 */
import t from 'tap';
import { stack } from '../helpers/stack.js';
import { outboundCall, inboundCall } from '../../lib/sim/freeswitch/index.js';
import { ok } from '../helpers/portal.js';

// the back-off itself (first retry at 250 ms) is pinned on a moved clock in test/unit/esl/listener.test.ts
t.test('a dropped connection comes back; calls after it are sent', async (t) => {
  const s = await stack(t);
  const down = new Promise<void>((r) => s.service.switch.listener.once('down', () => r()));
  s.sim.dropConnections();
  await down;
  await s.eslReady();
  t.equal(s.service.switch.listener.reconnects, 1);
  await outboundCall(s.sim.sw, { extension: '1003', number: '79161234567' });
  t.match((await s.portal.journal.next(ok('telephony.externalcall.finish'))).params, { STATUS_CODE: '200' });
});

t.test('a malformed frame and an event that does not parse: counted, never fatal', async (t) => {
  const s = await stack(t);
  s.sim.sendGarbageEvent();
  await outboundCall(s.sim.sw, { extension: '1003', number: '79161234567' });
  await s.portal.journal.next(ok('telephony.externalcall.finish'));
  t.equal(s.service.switch.listener.badFrames, 1, 'the garbage event was counted');
  const down = new Promise<void>((r) => s.service.switch.listener.once('down', () => r()));
  s.sim.sendMalformed();
  await down;
  await s.eslReady();
  await outboundCall(s.sim.sw, { extension: '1003', number: '79161234568' });
  t.match((await s.portal.journal.next(ok('telephony.externalcall.finish'))).params, { STATUS_CODE: '200' });
  const metrics = await s.service.app.inject({ method: 'GET', url: '/metrics' });
  t.match(metrics.body, /fsb24_esl_bad_events_total\{switch="default"\} [1-9]/);
});

t.test('a literal % in a caller name and a number passes through untouched', async (t) => {
  const s = await stack(t);
  const a = s.sim.sw.trunkInbound('+79161234567', '4951234567');
  a.callerIdName = '100% sure %41 %zz';
  a.setVar('sip_from_display', '100% sure %41 %zz');
  s.sim.sw.create(a);
  const b = s.sim.sw.userOutbound('1001', a);
  s.sim.sw.create(b);
  s.sim.sw.progress(b);
  const reg = await s.portal.journal.next(ok('telephony.externalcall.register'));
  t.equal(reg.params.PHONE_NUMBER, '+79161234567');
  t.equal(s.service.switch.counters.badEvents, 0);
});

t.test('an outage of the switch: calls that ended meanwhile are closed, live ones adopted', async (t) => {
  const s = await stack(t);
  s.sim.sw.setExtension('1001', { ringMs: 500 });
  void inboundCall(s.sim.sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001'],
    talkMs: -1,
    record: false,
  });
  const reg = await s.portal.journal.next(ok('telephony.externalcall.register'));
  await s.service.portal.outbox.idle();
  // the switch restarts: the call is gone without a single hangup event
  const down = new Promise<void>((r) => s.service.switch.listener.once('down', () => r()));
  s.sim.restart();
  await down;
  await s.eslReady();
  const fin = await s.portal.journal.next(ok('telephony.externalcall.finish'));
  t.equal(
    fin.params.CALL_ID,
    (reg.result as { CALL_ID: string }).CALL_ID,
    'the lost call is finished from what the service knew',
  );
  t.equal(fin.params.STATUS_CODE, '200', 'it had been answered');
});
