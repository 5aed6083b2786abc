/** The SQLite store: idempotency keys, unfinished calls, and what purging keeps. */
import t from 'tap';
import { Store } from '../../../lib/outbox/store.js';
import type { Effect } from '../../../lib/calls/effects.js';

const reg = (call: string): Effect => ({ kind: 'register', call, externalCallId: call, type: 2, extension: '1001', phone: '+7916', line: null, startIso: 'x', show: true, crmCreate: true });
const fin = (call: string): Effect => ({ kind: 'finish', call, direction: 'incoming', extension: '1001', candidates: [], duration: 5, status: '200', addToChat: true });

t.test('one register and one finish per call, whatever is submitted twice', async (t) => {
  const s = new Store(':memory:');
  t.equal(s.enqueue([reg('a'), reg('a'), fin('a')], 1), 2);
  t.equal(s.enqueue([fin('a'), { kind: 'show', call: 'a', extensions: ['1002'] }, { kind: 'show', call: 'a', extensions: ['1002'] }], 2), 2, 'show/hide are not deduplicated');
  t.equal(s.pending().length, 4);
});

t.test('unfinished calls and the purge', async (t) => {
  const s = new Store(':memory:');
  s.enqueue([reg('old'), fin('old')], 1000);
  s.enqueue([reg('live'), { kind: 'connected', call: 'live', extension: '1001', atUs: 5 }], 1000);
  for (const j of s.pending()) s.markDone(j.id);
  t.same(s.unfinishedCalls().map((c) => [c.call, c.connected?.kind]), [['live', 'connected']]);
  t.equal(s.purgeFinished(2000), 2, 'the finished call is forgotten');
  t.same(s.unfinishedCalls().map((c) => c.call), ['live'], 'the call still going is kept whatever its age');
});

t.test('the purge forgets click-to-call requests placed before it, and only those', async (t) => {
  const s = new Store(':memory:');
  s.set('c2c:externalCall.old', { aLeg: 'a', at: 1000 });
  s.set('c2c:externalCall.new', { aLeg: 'b', at: 3000 });
  s.set('alive', 1000);
  s.purgeFinished(2000);
  t.equal(s.get('c2c:externalCall.old'), null, 'placed before: forgotten');
  t.same(s.get('c2c:externalCall.new'), { aLeg: 'b', at: 3000 }, 'placed after: still deduplicated');
  t.equal(s.get('alive'), 1000, 'other keys stay');
});
