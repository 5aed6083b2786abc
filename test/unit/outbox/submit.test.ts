/**
 * Submitting effects: durable first, and in submission order whatever the store's
 * latency (a database answers writes in any order; a call's finish must never be stored
 * before its register, or it would wait behind it); a write the store fails for a while
 * is tried again, in order, not dropped.
 */
import t from 'tap';
import { Writable } from 'node:stream';
import { SqliteStore } from '../../../lib/store/sqlite.js';
import { OrderedWrites } from '../../../lib/outbox/writes.js';
import { Outbox } from '../../../lib/outbox/scheduler.js';
import { createLogger } from '../../../lib/log.js';
import { ManualClock } from '../../../lib/clock.js';
import type { Bitrix24Client } from '../../../lib/bitrix24/client.js';
import type { Effect } from '../../../lib/calls/effects.js';
import type { Submitted } from '../../../lib/store/store.js';

const reg: Effect = {
  kind: 'register',
  call: 'a',
  externalCallId: 'a',
  type: 2,
  extension: '1001',
  phone: '+79161234567',
  line: null,
  startIso: 'x',
  show: true,
  crmCreate: true,
};
const show: Effect = { kind: 'show', call: 'a', extensions: ['1002'] };
const hide: Effect = { kind: 'hide', call: 'a', extensions: ['1002'] };

t.test('a slow write holds the ones submitted after it; each resolves once durable', async (t) => {
  const store = new SqliteStore(':memory:');
  t.teardown(() => store.close());
  const enqueueAll = store.enqueueAll.bind(store);
  const gates: Array<() => void> = [];
  const writes: string[][] = [];
  // the first write is slow; the others would be quick
  store.enqueueAll = async (submits) => {
    writes.push(submits.map((s) => s.effects.map((e) => e.kind).join('+')));
    if (submits[0]!.effects[0]!.kind === 'register') await new Promise<void>((r) => gates.push(r));
    return enqueueAll(submits);
  };
  const outbox = new Outbox({
    store,
    client: {} as Bitrix24Client, // never started: nothing is sent
    directory: { userFor: () => null },
    defaultUserId: 1,
    cardWindowMs: 0,
    log: createLogger('silent'),
    recordings: {
      check: async () => ({ failed: 'none' }),
      base64: async () => '',
      upload: async () => undefined,
      landed: async () => undefined,
    },
    clock: new ManualClock(),
  });
  const resolved: string[] = [];
  const first = outbox.submit([reg]).then(() => resolved.push('register'));
  await new Promise<void>((r) => setImmediate(r)); // its write is under way
  const second = outbox.submit([show, hide]).then(() => resolved.push('show, hide'));
  const third = outbox.submit([show]).then(() => resolved.push('show'));
  await new Promise<void>((r) => setImmediate(r));
  t.same(resolved, [], 'nothing resolves before its write');
  t.same(await store.pending(), [], 'the quick writes wait for the slow one before them');
  gates[0]!();
  await Promise.all([first, second, third]);
  t.same(resolved, ['register', 'show, hide', 'show']);
  t.same(writes.splice(0), [['register'], ['show+hide', 'show']], 'those that waited went together, in order');
  t.same(
    (await store.pending()).map((j) => j.effect.kind),
    ['register', 'show', 'hide', 'show'],
    'stored in the order submitted',
  );
  await t.rejects(
    outbox.submit([{ ...show, extensions: [1n] } as unknown as Effect]),
    'a write the store refuses rejects the submit',
  );
  t.equal((await store.pending()).length, 4);
  await outbox.submit([hide]);
  t.equal((await store.pending()).length, 5, 'and the next ones still go in');
  // a value that can never be written, among others waiting with it: only its own submit is refused
  const slow = outbox.submit([{ ...reg, call: 'b' }]);
  await new Promise<void>((r) => setImmediate(r));
  const before = outbox.submit([{ ...show, call: 'b' }]);
  const bad = outbox.submit([{ ...show, call: 'b', extensions: [1n] } as unknown as Effect]);
  const after = outbox.submit([{ ...hide, call: 'b' }]);
  await new Promise<void>((r) => setImmediate(r));
  gates[1]!();
  await Promise.all([slow, before, after]);
  await t.rejects(bad, TypeError);
  t.same(
    (await store.pending()).filter((j) => j.call === 'b').map((j) => j.effect.kind),
    ['register', 'show', 'hide'],
    'the others written, in order',
  );
});

t.test('a write the store fails is tried again, the ones behind it wait; a stop ends the wait', async (t) => {
  const clock = new ManualClock();
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(String(JSON.parse(chunk.toString()).msg));
      done();
    },
  });
  let fails = 2;
  const stored: string[] = [];
  const store = {
    enqueueAll: async (submits: readonly Submitted[]): Promise<number> => {
      const effects = submits.flatMap((s) => s.effects);
      if (effects[0]!.kind === 'register' && fails-- > 0) throw new Error('Connection terminated unexpectedly');
      stored.push(...effects.map((e) => e.kind));
      return effects.length;
    },
  };
  let running = true;
  const writes = new OrderedWrites(store, clock, createLogger('info', { destination: sink }), () => running);
  const first = writes.add([reg]);
  const second = writes.add([show, hide]);
  await clock.advance(0);
  t.same(stored, [], 'the register failed; the show and hide wait behind it');
  await clock.advance(500);
  t.same(stored, [], 'failed again');
  await clock.advance(1000);
  await Promise.all([first, second]);
  t.same(stored, ['register', 'show', 'hide'], 'then all of it, in order');
  t.same(
    lines,
    [
      'the store refuses writes; call effects wait in memory, in order, and are retried',
      'the store takes writes again',
    ],
    'said once when it starts, once when it ends',
  );
  fails = 2;
  const last = writes.add([reg]);
  await clock.advance(0);
  running = false;
  await writes.stop();
  await t.rejects(last, /Connection terminated/, 'stopping: one last try at once, then refused');
  t.equal(clock.pending, 0, 'no timer left behind');
});

t.test(
  'the submits that wait for a write go in the next one together, each with the time it was submitted',
  async (t) => {
    const clock = new ManualClock();
    const got: Array<Array<[string, number]>> = [];
    let gate: () => void = () => undefined;
    const store = {
      enqueueAll: async (submits: readonly Submitted[]): Promise<number> => {
        got.push(submits.flatMap((s) => s.effects.map((e): [string, number] => [e.kind, s.now])));
        if (got.length === 1) await new Promise<void>((r) => (gate = r));
        return submits.length;
      },
    };
    const writes = new OrderedWrites(store, clock, createLogger('silent'), () => true);
    const first = writes.add([reg]);
    await clock.advance(10);
    const second = writes.add([show]);
    await clock.advance(10);
    const third = writes.add([hide]);
    gate();
    await Promise.all([first, second, third]);
    t.same(got, [
      [['register', 0]],
      [
        ['show', 10],
        ['hide', 20],
      ],
    ]);
  },
);
