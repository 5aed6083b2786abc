/**
 * The call card on the right screens (issue 6), step by step on the simulator: the
 * portal requests and the emulator's card visibility after each step.
 */
import t from 'tap';
import { stack } from '../helpers/stack.js';
import { endBridge, inboundCall } from '../../lib/sim/freeswitch/index.js';
import type { Stack } from '../../lib/demo/stack.js';
import { ok } from '../helpers/portal.js';

async function registered(s: Stack): Promise<string> {
  const reg = await s.portal.journal.next(ok('telephony.externalcall.register'));
  return (reg.result as { CALL_ID: string }).CALL_ID;
}

const cards = (s: Stack, callId: string, users: number[]): Promise<void> =>
  s.portal.journal.until(() => JSON.stringify(s.portal.state.cardUsers(callId)) === JSON.stringify(users));

t.test(
  'ring group of three answered by the second: shown to all three, hidden from the others on answer',
  async (t) => {
    const s = await stack(t);
    const sw = s.sim.sw;
    const a = sw.trunkInbound('+79161234567', '4951234567');
    sw.create(a);
    const legs = ['1001', '1002', '1003'].map((e) => sw.userOutbound(e, a));
    for (const l of legs) sw.create(l);
    for (const l of legs) sw.progress(l);
    const callId = await registered(s);
    await cards(s, callId, [11, 12, 13]);
    t.pass('card on every ringing phone');
    const [b1, b2, b3] = legs as [(typeof legs)[0], (typeof legs)[0], (typeof legs)[0]];
    await sw.wait(2000);
    sw.answer(b2);
    sw.hangup(b1, 'LOSE_RACE', { disposition: 'send_cancel' });
    sw.hangup(b3, 'LOSE_RACE', { disposition: 'send_cancel' });
    sw.answer(a);
    sw.complete(b1);
    sw.complete(b3);
    sw.bridge(a, b2);
    await cards(s, callId, [12]);
    const hide = s.portal.journal.entries.find(ok('telephony.externalcall.hide'));
    t.same(hide?.params, { CALL_ID: callId, USER_ID: [11, 13] }, 'one hide with a USER_ID array');
    await sw.wait(10_000);
    await endBridge(sw, a, b2, a);
    const fin = await s.portal.journal.next(ok('telephony.externalcall.finish'));
    t.match(fin.params, { CALL_ID: callId, USER_ID: 12, DURATION: 10, STATUS_CODE: '200' });
    t.same(s.portal.state.cardUsers(callId), []);
  },
);

t.test('a ring group nobody answers: shown while ringing, finish closes every card', async (t) => {
  const s = await stack(t, { config: { 'calls.cardWindowMs': 0 } });
  s.sim.sw.setExtension('1001', { mode: 'noanswer' });
  s.sim.sw.setExtension('1002', { mode: 'noanswer' });
  s.sim.sw.setExtension('1003', { mode: 'noanswer' });
  s.sim.sw.speed = 200;
  const done = inboundCall(s.sim.sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001', '1002', '1003'],
    callerGivesUpMs: 20_000,
  });
  const callId = await registered(s);
  await cards(s, callId, [11, 12, 13]);
  await done;
  const fin = await s.portal.journal.next(ok('telephony.externalcall.finish'));
  t.match(fin.params, { CALL_ID: callId, USER_ID: 11, STATUS_CODE: '304', DURATION: 0 });
  // finish hides the card only for its USER_ID (reference §5.4): the others get a hide first, in the same request
  const entries = s.portal.journal.entries;
  const i = entries.indexOf(fin);
  t.match(entries[i - 1], {
    method: 'telephony.externalcall.hide',
    batch: true,
    status: 200,
    params: { CALL_ID: callId, USER_ID: ['12', '13'] },
  });
  t.equal(fin.batch, true);
  await s.portal.journal.until(() => entries.slice(i).some((r) => !r.batch));
  const request = entries.slice(i).find((r) => !r.batch);
  t.equal(request?.method, 'batch', 'one request');
  t.same(
    Object.values(request?.params.cmd as Record<string, string>).map((c) => c.split('?')[0]),
    ['telephony.externalcall.hide', 'telephony.externalcall.finish'],
    'the hide, then the finish',
  );
  t.same(s.portal.state.cardUsers(callId), [], 'no card left open on any phone that rang');
});

t.test('sequential hunt: hidden from the phone that stopped ringing, shown to the next', async (t) => {
  const s = await stack(t);
  s.sim.sw.setExtension('1001', { mode: 'noanswer' });
  s.sim.sw.setExtension('1002', { mode: 'answer', ringMs: 3000 });
  s.sim.sw.speed = 200;
  const done = inboundCall(s.sim.sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001', '1002'],
    hunt: true,
    timeoutMs: 10_000,
    talkMs: 20_000,
  });
  const callId = await registered(s);
  await cards(s, callId, [11]);
  await cards(s, callId, [12]);
  t.pass('1001 hidden, 1002 shown');
  await done;
  const fin = await s.portal.journal.next(ok('telephony.externalcall.finish'));
  t.match(fin.params, { CALL_ID: callId, USER_ID: 12, STATUS_CODE: '200', DURATION: 20 });
});

t.test('blind transfer: the card moves to the target; finish names them, duration is the whole talk', async (t) => {
  const s = await stack(t);
  s.sim.sw.setExtension('1001', { ringMs: 1000 });
  s.sim.sw.setExtension('1003', { ringMs: 2000 });
  s.sim.sw.speed = 200;
  const done = inboundCall(s.sim.sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001'],
    talkMs: 20_000,
    transfer: { to: '1003', kind: 'blind', afterMs: 15_000 },
  });
  const callId = await registered(s);
  await cards(s, callId, [11]);
  await cards(s, callId, [13]);
  await done;
  const fin = await s.portal.journal.next(ok('telephony.externalcall.finish'));
  t.match(fin.params, { CALL_ID: callId, USER_ID: 13, STATUS_CODE: '200', DURATION: 37 });
});

t.test('attended transfer: the consultation call is never sent; the card ends with the colleague', async (t) => {
  const s = await stack(t);
  s.sim.sw.setExtension('1001', { ringMs: 1000 });
  s.sim.sw.setExtension('1002', { ringMs: 2000 });
  s.sim.sw.speed = 200;
  const done = inboundCall(s.sim.sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001'],
    talkMs: 10_000,
    transfer: { to: '1002', kind: 'attended', afterMs: 10_000 },
  });
  const callId = await registered(s);
  await cards(s, callId, [12]);
  await done;
  const fin = await s.portal.journal.next(ok('telephony.externalcall.finish'));
  t.match(fin.params, { CALL_ID: callId, USER_ID: 12, STATUS_CODE: '200' });
  t.equal(
    s.portal.journal.entries.filter(ok('telephony.externalcall.register')).length,
    1,
    'the consultation call was not registered',
  );
});

t.test('routing to the responsible manager', async (t) => {
  const s = await stack(t, { config: { 'routing.deadlineMs': 300 } });
  const route = async (caller: string): Promise<string> =>
    (await fetch(`${s.service.url}/route?caller=${encodeURIComponent(caller)}&did=4951234567`)).text();
  t.equal(await route('+79161234567'), '1002', 'at work: the extension');
  s.portal.state.addCrm({ TYPE: 'CONTACT', ID: 800, PHONES: ['+79160000001'], ASSIGNED_BY_ID: 13 });
  s.portal.state.users.get(13)!.TIMEMAN_STATUS = 'CLOSED';
  t.equal(await route('+79160000001'), '', 'away: nothing');
  s.portal.state.addCrm({ TYPE: 'CONTACT', ID: 801, PHONES: ['+79160000002'], ASSIGNED_BY_ID: 1 });
  t.equal(await route('+79160000002'), '', 'no extension: nothing');
  t.equal(await route('+79160000009'), '', 'unknown client: nothing');
  s.portal.state.addCrm({ TYPE: 'CONTACT', ID: 803, PHONES: ['+79160000004'], ASSIGNED_BY_ID: 14 });
  const unregistered = s.service.switch.onEslEvent.bind(s.service.switch);
  const seen = new Promise<void>((r) => unregistered((e) => e.get('Event-Subclass') === 'sofia::unregister' && r()));
  s.sim.sw.unregister('1004');
  await seen;
  t.equal(await route('+79160000004'), '', 'at work but the phone is not registered: nothing');
  const again = new Promise<void>((r) => unregistered((e) => e.get('Event-Subclass') === 'sofia::register' && r()));
  s.sim.sw.register('1004');
  await again;
  s.portal.state.addCrm({ TYPE: 'CONTACT', ID: 804, PHONES: ['+79160000005'], ASSIGNED_BY_ID: 14 });
  t.equal(await route('+79160000005'), '1004', 'registered again: its extension');
  s.portal.state.addCrm({ TYPE: 'CONTACT', ID: 802, PHONES: ['+79160000003'], ASSIGNED_BY_ID: 11 });
  s.portal.slowMs = 2000;
  // the deadline itself is pinned on a moved clock in test/unit/routing/responsible.test.ts
  t.equal(await route('+79160000003'), '', 'Bitrix24 too slow: nothing at the deadline');
  s.portal.slowMs = 0;
  s.sim.sw.setExtension('1002', { ringMs: 1000 });
  // the dialplan asks after the call arrived; the call is registered for the responsible user
  await inboundCall(s.sim.sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001'],
    route: () => route('+79161234567'),
    talkMs: 5000,
  });
  const reg = await s.portal.journal.next(
    (r) => ok('telephony.externalcall.register')(r) && r.params.PHONE_NUMBER === '+79161234567',
  );
  t.equal(reg.params.USER_ID, 12);
  const fin = await s.portal.journal.next(ok('telephony.externalcall.finish'));
  t.match(fin.params, { USER_ID: 12, STATUS_CODE: '200' });
});
