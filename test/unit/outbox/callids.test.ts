/** The CALL_ID cache alone: store first, waiters told, deadlines on a fake clock. */
import t from 'tap';
import { CallIds } from '../../../lib/outbox/callids.js';
import { ManualClock } from '../../../lib/clock.js';

t.test('known, learnt, awaited, timed out', async (t) => {
  const rows = new Map<string, string>();
  const store = {
    callId: async (c: string) => rows.get(c) ?? null,
    callIds: async (cs: readonly string[]) => new Map(cs.flatMap((c) => (rows.has(c) ? [[c, rows.get(c)!]] : []))),
    setCallId: async (c: string, id: string) => void rows.set(c, id),
  };
  const clock = new ManualClock();
  const ids = new CallIds(store, clock, 2);
  rows.set('old', 'c-old');
  t.equal(await ids.get('old'), 'c-old', 'read through from the store');
  const waiting = ids.wait('new', 60_000);
  const late = ids.wait('never', 60_000);
  await clock.advance(30_000);
  await ids.set('new', 'c-new', 11);
  t.equal(await waiting, 'c-new', 'a waiter gets the CALL_ID as soon as it lands');
  t.equal(rows.get('new'), 'c-new', 'stored before anyone is told');
  await clock.advance(30_000);
  t.equal(await late, null, 'null at the deadline');
  t.equal(clock.pending, 0, 'no timer left behind');
  await ids.set('third', 'c-3', null);
  rows.clear();
  t.equal(await ids.get('old'), null, 'the cache is bounded: the oldest entry went');
  t.equal(await ids.get('third'), 'c-3');
  rows.set('a', 'c-a');
  t.same(
    await ids.many(['third', 'a', 'none']),
    new Map([
      ['third', 'c-3'],
      ['a', 'c-a'],
    ]),
    'many: the cache, then the store for the rest',
  );
});
