import t from 'tap';
import { coalesceCards } from '../../../lib/outbox/cards.js';
import { batchCommand } from '../../../lib/outbox/commands.js';

t.test('show/hide coalescing: a pending show is cancelled by a hide; arrays per kind', async (t) => {
  t.same(
    coalesceCards([
      { kind: 'show', users: [2] },
      { kind: 'show', users: [3] },
    ]),
    { show: [2, 3], hide: [] },
  );
  t.same(
    coalesceCards([
      { kind: 'show', users: [2, 3] },
      { kind: 'hide', users: [2] },
    ]),
    { show: [3], hide: [] },
  );
  t.same(
    coalesceCards([
      { kind: 'hide', users: [1] },
      { kind: 'show', users: [1] },
    ]),
    { show: [1], hide: [] },
  );
  t.same(coalesceCards([{ kind: 'hide', users: [1, 3] }]), { show: [], hide: [1, 3] });
});

t.test('batch commands: PHP brackets, encoded values, $result references left raw', async (t) => {
  t.equal(
    batchCommand({
      method: 'telephony.externalcall.finish',
      params: { CALL_ID: '$result[r1][CALL_ID]', USER_ID: 12, DURATION: 5, STATUS_CODE: '603-S' },
    }),
    'telephony.externalcall.finish?USER_ID=12&DURATION=5&STATUS_CODE=603-S&CALL_ID=$result[r1][CALL_ID]',
  );
  t.equal(
    batchCommand({ method: 'telephony.externalcall.show', params: { CALL_ID: 'externalCall.a.1', USER_ID: [1, 2] } }),
    'telephony.externalcall.show?CALL_ID=externalCall.a.1&USER_ID[0]=1&USER_ID[1]=2',
  );
  t.equal(
    batchCommand({
      method: 'telephony.externalcall.register',
      params: { PHONE_NUMBER: '+7916', CALL_START_DATE: '2026-01-01T10:00:00+03:00' },
    }),
    'telephony.externalcall.register?PHONE_NUMBER=%2B7916&CALL_START_DATE=2026-01-01T10%3A00%3A00%2B03%3A00',
  );
});
