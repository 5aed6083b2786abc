/** STATUS_CODE from SIP status and hangup cause: one row per case (freeswitch-esl.md §3.5, §5). */
import t from 'tap';
import { incomingStatus, outgoingStatus } from '../../../lib/calls/status.js';

const outgoing: Array<[string | undefined, string | undefined, string]> = [
  ['486', 'USER_BUSY', '486'],
  ['600', 'USER_BUSY', '486'],
  ['603', 'CALL_REJECTED', '603'],
  ['487', 'ORIGINATOR_CANCEL', '603-S'],
  [undefined, 'ORIGINATOR_CANCEL', '603-S'],
  ['480', 'NO_USER_RESPONSE', '480'],
  ['408', 'RECOVERY_ON_TIMER_EXPIRE', '480'],
  ['404', 'UNALLOCATED_NUMBER', '404'],
  ['484', 'INVALID_NUMBER_FORMAT', '484'],
  ['503', 'NORMAL_TEMPORARY_FAILURE', '503'],
  ['502', 'NETWORK_OUT_OF_ORDER', '503'],
  ['500', 'NORMAL_TEMPORARY_FAILURE', '503'],
  ['402', 'CALL_REJECTED', '402'],
  ['403', 'CALL_REJECTED', '403'],
  [undefined, 'NO_ANSWER', '480'],
  [undefined, 'USER_NOT_REGISTERED', '480'],
  [undefined, 'USER_BUSY', '486'],
  [undefined, 'GATEWAY_DOWN', '503'],
  [undefined, 'UNALLOCATED_NUMBER', '404'],
  [undefined, 'OUTGOING_CALL_BARRED', '403'],
  [undefined, 'FACILITY_NOT_SUBSCRIBED', '402'],
  [undefined, 'MEDIA_TIMEOUT', 'OTHER'],
  ['200', 'NORMAL_CLEARING', 'OTHER'],
  ['499', 'NORMAL_UNSPECIFIED', 'OTHER'],
];
for (const [sip, cause, want] of outgoing) {
  t.test(`outgoing sip ${sip ?? '-'} cause ${cause ?? '-'} → ${want}`, async (t) =>
    t.equal(outgoingStatus(sip, cause), want),
  );
}

t.test('incoming: missed unless every phone refused', async (t) => {
  t.equal(incomingStatus([]), '304', 'caller gave up / rang out');
  t.equal(incomingStatus(['NO_ANSWER', 'NO_ANSWER']), '304');
  t.equal(incomingStatus(['USER_BUSY']), '486');
  t.equal(incomingStatus(['USER_BUSY', 'USER_BUSY']), '486');
  t.equal(incomingStatus(['USER_BUSY', 'NO_ANSWER']), '304');
  t.equal(incomingStatus(['CALL_REJECTED']), '603');
});
