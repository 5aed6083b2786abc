/**
 * Durations, answer state and recordings come from the switch (issue 15), whatever the service
 * missed: a restart (kill -9, same data directory) or an event-socket drop while calls go on.
 * The simulated switch runs on a ManualClock set months before the service's own clock, so a
 * duration taken from when this process saw something is visibly wrong.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { stack } from '../helpers/stack.js';
import { SwitchTruth, flush, run } from '../helpers/switch-truth.js';
import { ManualClock } from '../../lib/clock.js';
import { inboundCall, outboundCall } from '../../lib/sim/freeswitch/index.js';
import type { FinishedCall } from '../../lib/sim/bitrix24/state.js';
import type { Stack } from '../../lib/demo/stack.js';
import { ok } from '../helpers/portal.js';

const T0 = Date.UTC(2025, 2, 14, 9, 0, 0);

async function truthStack(t: {
  teardown: (fn: () => unknown) => void;
}): Promise<{ s: Stack; clock: ManualClock; truth: SwitchTruth }> {
  const clock = new ManualClock(T0);
  const s = await stack(t, { sim: { clock, heartbeatMs: 0 } });
  return { s, clock, truth: new SwitchTruth(s.sim.sw) };
}

const finishOf = (s: Stack, uuid: string): FinishedCall | undefined =>
  s.portal.state.finished.find((f) => f.EXTERNAL_CALL_ID === uuid);

t.test('killed while a call talks: the finish after the restart has the duration the switch billed', async (t) => {
  const { s, clock, truth } = await truthStack(t);
  const call = inboundCall(s.sim.sw, { caller: '+79161234567', did: '4951234567', extensions: ['1001'], talkMs: 9000 });
  await run(clock, 4000); // 1001 answers at 2 s
  await flush(s);
  await s.portal.journal.next(ok('telephony.externalcall.register'));
  await truth.restart(s, clock, 1100);
  await run(clock, 8000);
  const { uuid } = await call;
  await flush(s);
  const fin = await s.portal.journal.next(ok('telephony.externalcall.finish'), 10_000);
  t.equal(truth.legs.get(uuid)?.billsec, 9, 'the switch billed 9 s');
  t.match(fin.params, { STATUS_CODE: '200', DURATION: 9 });
  t.equal(fin.params.FAILED_REASON, undefined, 'nothing to excuse: the switch said how long');
});

t.test('a call bridged while the event socket was away is answered, with its real duration', async (t) => {
  const { s, clock, truth } = await truthStack(t);
  const call = inboundCall(s.sim.sw, { caller: '+79161234567', did: '4951234567', extensions: ['1001'], talkMs: 6000 });
  await run(clock, 1000); // ringing
  await s.portal.journal.next(ok('telephony.externalcall.register'));
  await truth.gap(s, clock, 1500); // 1001 answers at 2 s, inside the gap
  await run(clock, 8000);
  const { uuid } = await call;
  await flush(s);
  const fin = await s.portal.journal.next(ok('telephony.externalcall.finish'), 10_000);
  t.match(fin.params, { STATUS_CODE: '200', DURATION: truth.legs.get(uuid)?.billsec, USER_ID: 11 });
});

t.test('bridged when the restarted service read show calls: answered, with its real duration', async (t) => {
  const { s, clock, truth } = await truthStack(t);
  const call = outboundCall(s.sim.sw, { extension: '1003', number: '79161234567', talkMs: 7000 });
  await run(clock, 500); // the client's phone rings (answers at 1 s)
  await flush(s);
  await s.portal.journal.next(ok('telephony.externalcall.register'));
  await truth.restart(s, clock, 2000);
  await run(clock, 9000);
  const { legs } = await call;
  await flush(s);
  const fin = await s.portal.journal.next(ok('telephony.externalcall.finish'), 10_000);
  t.match(fin.params, { STATUS_CODE: '200', DURATION: truth.legs.get(legs[1]!)?.billsec, USER_ID: 13 });
});

t.test('the recording of a call that ended while the service was down is attached after the restart', async (t) => {
  const { s, clock, truth } = await truthStack(t);
  const call = inboundCall(s.sim.sw, { caller: '+79161234567', did: '4951234567', extensions: ['1001'], talkMs: 3000 });
  await run(clock, 3000);
  await flush(s);
  const reg = await s.portal.journal.next(ok('telephony.externalcall.register'));
  await truth.restart(s, clock, 4000); // the call ends at 5 s: RECORD_STOP and every hangup missed
  const { uuid, recording } = await call;
  const att = await s.portal.journal.next(ok('telephony.externalcall.attachrecord'), 10_000);
  const callId = (reg.result as { CALL_ID: string }).CALL_ID;
  t.equal(att.params.CALL_ID, callId);
  t.same(s.portal.state.files.find((f) => f.CALL_ID === callId)?.bytes, readFileSync(recording!));
  const fin = finishOf(s, uuid);
  t.match(fin, { CALL_FAILED_CODE: '200', CALL_FAILED_REASON: /connector was down/ });
  const billed = truth.legs.get(uuid)!.billsec!;
  t.ok(Number(fin?.CALL_DURATION) >= 1 && Number(fin?.CALL_DURATION) <= billed, 'a lower bound on the switch clock');
});

t.test('killed after a transfer: the duration is the switch billsec, not from the re-bridge', async (t) => {
  const { s, clock, truth } = await truthStack(t);
  // 1001 answers at 2 s, hands the caller to 1002 at 5 s (answers at 7 s); the caller hangs up at 13 s
  const call = inboundCall(s.sim.sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001'],
    transfer: { to: '1002', kind: 'blind', afterMs: 3000 },
    talkMs: 6000,
  });
  await run(clock, 8000);
  await truth.restart(s, clock, 1100); // show calls now says the pair was written at 7 s
  await run(clock, 6000);
  const { uuid } = await call;
  await flush(s);
  const fin = await s.portal.journal.next(ok('telephony.externalcall.finish'), 10_000);
  t.equal(truth.legs.get(uuid)?.billsec, 11);
  t.match(fin.params, { STATUS_CODE: '200', DURATION: 11, USER_ID: 12 });
});

t.test('a RECORD_STOP missed while the service restarted: the file named by RECORD_START is attached', async (t) => {
  const { s, clock, truth } = await truthStack(t);
  const sw = s.sim.sw;
  const a = sw.trunkInbound('+79161234567', '4951234567');
  sw.create(a);
  const path = sw.recordingPath(a.uuid);
  sw.recordStart(a, path);
  const b = sw.userOutbound('1001', a);
  sw.create(b);
  sw.progress(b);
  await run(clock, 1000);
  sw.answer(b);
  sw.answer(a);
  sw.bridge(a, b);
  await run(clock, 2000);
  // the recorder is stopped (stop_record_session) while nobody listens; the call goes on
  await truth.restart(s, clock, 1500, () => sw.recordStop(a, path, 3));
  await run(clock, 2000);
  sw.hangup(a, 'NORMAL_CLEARING', { sipTermStatus: '200', disposition: 'recv_bye' });
  sw.hangup(b, 'NORMAL_CLEARING', { disposition: 'send_bye' });
  sw.complete(b);
  sw.complete(a);
  await flush(s);
  const att = await s.portal.journal.next(ok('telephony.externalcall.attachrecord'), 10_000);
  t.match(finishOf(s, a.uuid), { CALL_FAILED_CODE: '200', CALL_DURATION: truth.legs.get(a.uuid)?.billsec });
  t.same(s.portal.state.files.find((f) => f.CALL_ID === att.params.CALL_ID)?.bytes, readFileSync(path));
});
