/**
 * End to end: simulator → service (real sockets) → emulator. What the portal receives
 * for the office's calls, including a restart of the service mid-call and an outage.
 */
import t from 'tap';
import { stack } from '../helpers/stack.js';
import { inboundCall, outboundCall } from '../../lib/sim/freeswitch/index.js';
import { ok as isMethod } from '../helpers/portal.js';

t.test('inbound ring group answered by the second phone: register, show/hide, finish, recording', async (t) => {
  const s = await stack(t);
  s.sim.sw.setExtension('1001', { mode: 'noanswer' });
  s.sim.sw.setExtension('1002', { ringMs: 3000 });
  const call = await inboundCall(s.sim.sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001', '1002'],
    talkMs: 42_000,
  });
  const reg = await s.portal.journal.next(isMethod('telephony.externalcall.register'));
  t.same(reg.params, {
    USER_ID: 11,
    PHONE_NUMBER: '+79161234567',
    TYPE: 2,
    CALL_START_DATE: reg.params.CALL_START_DATE,
    CRM_CREATE: 1,
    SHOW: 1,
    EXTERNAL_CALL_ID: call.uuid,
    LINE_NUMBER: '4951234567',
  });
  t.match(String(reg.params.CALL_START_DATE), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
  const callId = (reg.result as { CALL_ID: string }).CALL_ID;
  const fin = await s.portal.journal.next(isMethod('telephony.externalcall.finish'));
  t.same(fin.params, { CALL_ID: callId, USER_ID: 12, DURATION: 42, STATUS_CODE: '200', ADD_TO_CHAT: 1 });
  const row = s.portal.state.finished.find((f) => f.CALL_ID === callId);
  t.match(row, {
    PORTAL_USER_ID: 12,
    CALL_DURATION: 42,
    CALL_FAILED_CODE: '200',
    INCOMING: '2',
    PORTAL_NUMBER: '4951234567',
    CRM_ENTITY_TYPE: 'CONTACT',
  });
  await s.portal.journal.next((r) => r.method === 'telephony.externalcall.attachrecord' && r.status === 200);
  const file = s.portal.state.files.find((f) => f.CALL_ID === callId);
  t.ok(file && file.bytes.subarray(0, 4).toString() === 'RIFF', 'the WAV reached the portal');
  t.same(s.portal.state.cardUsers(callId), [], 'no card left open');
});

t.test('missed call: finish 304 for the first ringing user that maps', async (t) => {
  const s = await stack(t);
  s.sim.sw.setExtension('1001', { mode: 'noanswer' });
  s.sim.sw.setExtension('1002', { mode: 'noanswer' });
  await inboundCall(s.sim.sw, {
    caller: '+74950000001',
    did: '4951234567',
    extensions: ['1001', '1002'],
    callerGivesUpMs: 8000,
  });
  const fin = await s.portal.journal.next(isMethod('telephony.externalcall.finish'));
  t.match(fin.params, { USER_ID: 11, DURATION: 0, STATUS_CODE: '304' });
});

t.test('outgoing answered and busy', async (t) => {
  const s = await stack(t, { sim: { pstn: { '79990001122': { mode: 'busy' } } } });
  await outboundCall(s.sim.sw, { extension: '1003', number: '79161234567', talkMs: 7000 });
  const reg = await s.portal.journal.next(isMethod('telephony.externalcall.register'));
  t.match(reg.params, { USER_ID: 13, PHONE_NUMBER: '79161234567', TYPE: 1, LINE_NUMBER: '4951234567', SHOW: 1 });
  const fin = await s.portal.journal.next(isMethod('telephony.externalcall.finish'));
  t.match(fin.params, { USER_ID: 13, DURATION: 7, STATUS_CODE: '200' });
  await outboundCall(s.sim.sw, { extension: '1003', number: '79990001122' });
  const fin2 = await s.portal.journal.next(isMethod('telephony.externalcall.finish'));
  t.match(fin2.params, { USER_ID: 13, DURATION: 0, STATUS_CODE: '486' });
});

t.test('a portal outage during a burst of calls loses nothing and registers nothing twice', async (t) => {
  const s = await stack(t);
  s.portal.setOutage('http500');
  const calls = [];
  for (let i = 0; i < 10; i++)
    calls.push(outboundCall(s.sim.sw, { extension: '1003', number: `7916000000${i}`, talkMs: 2000 }));
  await Promise.all(calls);
  await s.service.portal.outbox.idle();
  t.equal(s.portal.state.finished.length, 0, 'nothing landed during the outage');
  s.portal.setOutage('none');
  s.service.portal.outbox.wake();
  for (let i = 0; i < 10; i++) await s.portal.journal.next(isMethod('telephony.externalcall.finish'), 30_000);
  t.equal(s.portal.state.finished.length, 10);
  const registers = s.portal.journal.entries.filter(isMethod('telephony.externalcall.register'));
  t.equal(new Set(registers.map((r) => r.params.EXTERNAL_CALL_ID)).size, 10);
  t.equal(registers.length, 10, 'one register per call');
});

t.test('the service restarts in the middle of a call: the call is still finished, once', async (t) => {
  const s = await stack(t);
  s.sim.sw.setExtension('1001', { ringMs: 1000 });
  const pstnTalk = inboundCall(s.sim.sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001'],
    talkMs: -1,
  });
  void pstnTalk;
  const reg = await s.portal.journal.next(isMethod('telephony.externalcall.register'));
  const callId = (reg.result as { CALL_ID: string }).CALL_ID;
  await s.service.portal.outbox.idle();
  await s.stopService();
  const svc = await s.restartService();
  t.ok(svc.switch.model.liveCalls >= 1, 'the live call was rebuilt from show channels');
  // hang up the call now that the new service watches
  const { killLeg } = await import('../../lib/sim/freeswitch/index.js');
  const a = [...s.sim.sw.legs.values()].find((l) => l.init.direction === 'inbound');
  killLeg(s.sim.sw, a!, 'NORMAL_CLEARING');
  const fin = await s.portal.journal.next(isMethod('telephony.externalcall.finish'));
  t.equal(fin.params.CALL_ID, callId, 'finished under the CALL_ID registered before the restart');
  t.equal(
    s.portal.journal.entries.filter(isMethod('telephony.externalcall.register')).length,
    1,
    'not registered twice',
  );
});

t.test(
  'the service is down when an answered call ends: after the restart it is finished as answered, with the reason',
  async (t) => {
    const s = await stack(t);
    s.sim.sw.setExtension('1001', { ringMs: 1000 });
    const connected = new Promise<void>((r) => s.service.portal.onEffect((e) => e.kind === 'connected' && r()));
    void inboundCall(s.sim.sw, {
      caller: '+79161234567',
      did: '4951234567',
      extensions: ['1001'],
      talkMs: -1,
      record: false,
    });
    const reg = await s.portal.journal.next(isMethod('telephony.externalcall.register'));
    await connected;
    await s.service.portal.outbox.idle();
    await s.stopService();
    const { killLeg } = await import('../../lib/sim/freeswitch/index.js');
    const a = [...s.sim.sw.legs.values()].find((l) => l.init.direction === 'inbound')!;
    const gone = new Promise<void>((r) =>
      s.sim.sw.subscribe((e) => e.headers[0]?.[1] === 'CHANNEL_DESTROY' && s.sim.sw.legs.size <= 1 && r()),
    );
    killLeg(s.sim.sw, a, 'NORMAL_CLEARING');
    await gone;
    await s.restartService();
    const fin = await s.portal.journal.next(isMethod('telephony.externalcall.finish'));
    t.match(fin.params, {
      CALL_ID: (reg.result as { CALL_ID: string }).CALL_ID,
      USER_ID: 11,
      STATUS_CODE: '200',
      FAILED_REASON: /connector was down/,
    });
    t.ok(Number(fin.params.DURATION) >= 1);
  },
);
