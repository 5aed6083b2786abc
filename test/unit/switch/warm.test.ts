/**
 * The start-up warm-up (lib/switch/warm.ts): its sample is the captured calls of a real
 * FreeSWITCH (the call model makes the same effects of both), so the path it compiles is the
 * path a real call takes; and a portal rehearses them as its outbox would send them.
 */
import t from 'tap';
import { fixtureEvents } from '../../helpers/fixtures.js';
import { toChannelEvent } from '../../../lib/events/channel-event.js';
import { CallModel, defaultModelConfig } from '../../../lib/calls/model.js';
import { rehearse } from '../../../lib/switch/warm.js';
import { rehearseDelivery } from '../../../lib/outbox/warm.js';
import type { Effect } from '../../../lib/calls/effects.js';

function replay(file: string): Effect[] {
  const model = new CallModel(defaultModelConfig);
  return fixtureEvents(file).flatMap((e) => {
    const ce = toChannelEvent(e);
    return ce ? model.apply(ce) : [];
  });
}

t.test('the sample makes the effects the captures make: a recorded ring group, a call out', async (t) => {
  const captured = [...replay('inbound-ringgroup-answered.json.txt'), ...replay('outbound-answered.json.txt')];
  t.same(rehearse(defaultModelConfig, []), captured);
});

t.test(
  'a portal rehearses the sample as its outbox sends a call: cards first, then the end, then the recording',
  async (t) => {
    const users: Record<string, number> = { '1001': 11, '1002': 12, '1003': 13 };
    const bodies = await rehearseDelivery(
      rehearse(defaultModelConfig, []),
      { users: (ext) => (ext ? (users[ext] ?? null) : null), defaultUserId: 1 },
      Date.now(),
    );
    const sent = bodies.map((b) => JSON.parse(b) as { cmd?: Record<string, string>; CALL_ID?: string });
    const methods = sent.map((b) =>
      b.cmd ? Object.values(b.cmd).map((c) => c.split('?')[0]) : ['attachrecord alone'],
    );
    t.same(methods, [
      ['telephony.externalcall.register', 'telephony.externalcall.show'],
      [
        'telephony.externalcall.register',
        'telephony.externalcall.hide',
        'telephony.externalcall.finish',
        'telephony.externalcall.finish',
      ],
      ['attachrecord alone'],
    ]);
    const [ringing, ended] = sent as [{ cmd: Record<string, string> }, { cmd: Record<string, string> }];
    t.match(
      Object.values(ringing.cmd)[0],
      /USER_ID=11&PHONE_NUMBER=%2B79161234567&TYPE=2&.*EXTERNAL_CALL_ID=532aa7be-/,
    );
    t.match(Object.values(ringing.cmd)[1], /USER_ID\[0\]=12&CALL_ID=\$result\[r-\d+\]\[CALL_ID\]/);
    t.match(
      Object.values(ended.cmd)[1],
      /hide\?CALL_ID=externalCall\.warm\.0&USER_ID\[0\]=12$/,
      'the card hidden from 1002',
    );
  },
);
