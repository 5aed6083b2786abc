/** The CALL_ID cache alone: store first, waiters told, deadlines on a fake clock. */
import t from 'tap';
import { CallIds } from '../../../lib/outbox/callids.js';
import { ManualClock } from '../../../lib/clock.js';
import type { Effect } from '../../../lib/calls/effects.js';

/** A store of CALL_IDs and card histories that says what it was asked. */
function fakeStore(): {
  rows: Map<string, string>;
  cards: Map<string, Effect[]>;
  asked: string[];
  store: ConstructorParameters<typeof CallIds>[0];
} {
  const rows = new Map<string, string>();
  const cards = new Map<string, Effect[]>();
  const asked: string[] = [];
  const store: ConstructorParameters<typeof CallIds>[0] = {
    callId: async (c) => rows.get(c) ?? null,
    callIds: async (cs) => {
      asked.push(`ids ${cs.join(',')}`);
      return new Map(cs.flatMap((c) => (rows.has(c) ? [[c, rows.get(c)!]] : [])));
    },
    cardHistories: async (cs) => {
      asked.push(`history ${cs.join(',')}`);
      return new Map(cs.map((c) => [c, { registerUser: null, effects: [...(cards.get(c) ?? [])] }]));
    },
    markDoneAll: async (ids, learnt) => {
      for (const l of learnt) rows.set(l.call, l.b24CallId);
      if (ids.length > 0) asked.push(`done ${ids.join(',')}`);
    },
  };
  return { rows, cards, asked, store };
}

t.test('known, learnt, awaited, timed out', async (t) => {
  const { rows, store } = fakeStore();
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

t.test(
  'a backlog: a CALL_ID the store lacks is not asked again until learnt; a card history once per landing',
  async (t) => {
    const { rows, cards, asked, store } = fakeStore();
    const ids = new CallIds(store, new ManualClock());
    rows.set('a', 'c-a');
    t.same(await ids.many(['a', 'b', 'c']), new Map([['a', 'c-a']]));
    t.same(await ids.many(['a', 'b', 'c']), new Map([['a', 'c-a']]), 'the same answer');
    t.same(asked.splice(0), ['ids a,b,c'], 'the store asked once: a is cached, b and c are known misses');
    await ids.set('b', 'c-b', 7);
    t.same(
      await ids.many(['a', 'b', 'c']),
      new Map([
        ['a', 'c-a'],
        ['b', 'c-b'],
      ]),
      'a CALL_ID learnt is known at once',
    );
    t.same(asked.splice(0), [], 'still no question');
    rows.set('c', 'c-c'); // another instance registered it while this one did not hold the portal
    ids.forget();
    t.same(await ids.many(['c']), new Map([['c', 'c-c']]), 'a new tenure asks again');

    const show: Effect = { kind: 'show', call: 'a', extensions: ['1001'] };
    cards.set('a', [show]);
    t.same((await ids.history('a')).effects, [show]);
    cards.set('a', [show, { ...show, kind: 'hide' }]);
    t.same((await ids.history('a')).effects, [show], 'read once while no job of the call lands');
    await ids.landed({ id: 41, call: 'a' });
    t.same((await ids.history('a')).effects, [show, { ...show, kind: 'hide' }], 'read again after a job landed');
    t.same(asked.splice(0), ['ids c', 'history a', 'done 41', 'history a'], 'the job marked done in the store');

    // a job landing while the history is read: that read is used, not kept
    let answer = (): void => undefined;
    const read = store.cardHistories;
    store.cardHistories = async (c) => {
      await new Promise<void>((r) => (answer = r));
      return read(c);
    };
    const reading = ids.history('b');
    await ids.landed({ id: 42, call: 'b' });
    answer();
    await reading;
    store.cardHistories = read;
    await ids.history('b');
    t.same(asked.splice(0), ['done 42', 'history b', 'history b'], 'a read that raced a landing is not kept');
  },
);

t.test('a request settled in one write: its CALL_IDs with its jobs done, then waiters told', async (t) => {
  const { rows, cards, asked, store } = fakeStore();
  const writes: string[] = [];
  const markDoneAll = store.markDoneAll;
  store.markDoneAll = async (ids, learnt, now) => {
    writes.push(`${learnt.map((l) => `${l.call}=${l.b24CallId}/${l.userId}`).join(',')} | ${ids.join(',')} @${now}`);
    t.same(told, [], 'nobody is told before the write');
    return markDoneAll(ids, learnt, now);
  };
  const clock = new ManualClock(5);
  const ids = new CallIds(store, clock);
  const told: string[] = [];
  void ids.wait('a', 60_000).then((id) => told.push(`a ${id}`));
  void ids.wait('b', 60_000).then((id) => told.push(`b ${id}`));
  await clock.advance(0);
  asked.splice(0);
  const show: Effect = { kind: 'show', call: 'c', extensions: ['1001'] };
  cards.set('c', [show]);
  cards.set('d', []);
  t.same(
    [...(await ids.histories(['c', 'd']))].map(([c, h]) => [c, h.effects.length]),
    [
      ['c', 1],
      ['d', 0],
    ],
  );
  t.same(asked.splice(0), ['history c,d'], 'the histories not known read in one question');
  await ids.settle(
    [
      { call: 'a', b24CallId: 'c-a', userId: 3 },
      { call: 'b', b24CallId: 'c-b', userId: null },
    ],
    [
      { id: 1, call: 'a' },
      { id: 2, call: 'b' },
      { id: 3, call: 'c' },
    ],
  );
  t.same(writes, ['a=c-a/3,b=c-b/null | 1,2,3 @5'], 'one write');
  await clock.advance(0);
  t.same(told, ['a c-a', 'b c-b'], 'then the waiters are told');
  t.same(rows.get('b'), 'c-b');
  t.same(
    await ids.many(['a', 'b']),
    new Map([
      ['a', 'c-a'],
      ['b', 'c-b'],
    ]),
    'and the CALL_IDs known',
  );
  await ids.histories(['c', 'd']);
  t.same(asked.splice(0), ['done 1,2,3', 'history c'], 'the history of a call with a job done is read again');
  await ids.settle([], []);
  t.equal(writes.length, 1, 'nothing to write, no write');
});
