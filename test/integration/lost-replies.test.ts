/**
 * A request the portal carried out whose answer never came back (the service killed, or the
 * connection cut, in mid-request): after the restart the service sends it again, and the portal
 * ends up as if it had been sent once — a second register is the same call (EXTERNAL_CALL_ID,
 * bitrix24-telephony.md §4.3), a second finish is "Call is not found" (the call is over, §5),
 * a second attachRecord replaces the first file (§6).
 */
import t, { type Test } from 'tap';
import { stack } from '../helpers/stack.js';
import { inboundCall } from '../../lib/sim/freeswitch/index.js';
import type { PortalRequest } from '../../lib/sim/bitrix24/index.js';
import type { Stack } from '../../lib/demo/stack.js';
import { ok } from '../helpers/portal.js';

const REGISTER = 'telephony.externalcall.register';
const FINISH = 'telephony.externalcall.finish';
const ATTACH = 'telephony.externalcall.attachrecord';
const is =
  (m: string) =>
  (r: PortalRequest): boolean =>
    r.method === m;

/** The service is killed once the portal has done `method` but before its answer arrives; then started again. */
async function killedAfter(s: Stack, method: string): Promise<void> {
  await s.portal.journal.next(ok(method));
  s.crashService();
  await s.restartService();
}

/** What the portal holds in the end: one call, finished once, with one recording. */
function once(t: Test, s: Stack): void {
  const registers = s.portal.journal.entries.filter(ok(REGISTER));
  const ids = new Set(registers.map((r) => (r.result as { CALL_ID: string }).CALL_ID));
  t.equal(ids.size, 1, 'every register the portal carried out is the same call');
  t.equal(s.portal.state.finished.length, 1, 'finished once');
  t.equal(s.portal.state.files.length, 1, 'one recording');
  t.equal(s.portal.state.files[0]?.CALL_ID, [...ids][0], 'on that call');
}

t.test('the answer to a register is lost: sent again, the portal gives the same CALL_ID', async (t) => {
  const s = await stack(t);
  s.portal.loseReplyTo(REGISTER);
  // the call talks on while the service is killed and started again
  const call = inboundCall(s.sim.sw, { caller: '+79161234567', did: '4951234567', extensions: ['1001'], talkMs: 4000 });
  await killedAfter(s, REGISTER);
  await call;
  await s.portal.journal.next(ok(ATTACH));
  await s.service.portal.outbox.idle();
  t.equal(s.portal.journal.entries.filter(ok(REGISTER)).length, 2, 'the register went twice');
  once(t, s);
});

t.test('the answer to a finish is lost: sent again, "Call is not found" is taken as landed', async (t) => {
  const s = await stack(t);
  s.portal.loseReplyTo(FINISH);
  await inboundCall(s.sim.sw, { caller: '+79161234567', did: '4951234567', extensions: ['1001'], talkMs: 3000 });
  await killedAfter(s, FINISH);
  await s.portal.journal.next(ok(ATTACH));
  await s.service.portal.outbox.idle();
  const finishes = s.portal.journal.entries.filter(is(FINISH));
  t.equal(finishes.length, 2, 'the finish went twice');
  t.match(finishes[1]?.error, 'ERROR_CORE', 'the second: the call is over');
  t.equal((await s.service.portal.store.stats()).failed, 0, 'not a failure');
  once(t, s);
});

t.test('the answer to an attachRecord is lost: sent again, the file replaces the first', async (t) => {
  const s = await stack(t);
  s.portal.loseReplyTo(ATTACH);
  await inboundCall(s.sim.sw, { caller: '+79161234567', did: '4951234567', extensions: ['1001'], talkMs: 3000 });
  await killedAfter(s, ATTACH);
  await s.portal.journal.next(ok(ATTACH));
  await s.service.portal.outbox.idle();
  t.equal(s.portal.journal.entries.filter(ok(ATTACH)).length, 2, 'attached twice');
  once(t, s);
});
