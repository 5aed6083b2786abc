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
  const enqueue = store.enqueue.bind(store);
  const gates: Array<() => void> = [];
  // the first write is slow; the others would be quick
  store.enqueue = async (effects, now) => {
    if (effects[0]!.kind === 'register') await new Promise<void>((r) => gates.push(r));
    return enqueue(effects, now);
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
  const second = outbox.submit([show, hide]).then(() => resolved.push('show, hide'));
  await new Promise<void>((r) => setImmediate(r));
  t.same(resolved, [], 'nothing resolves before its write');
  t.same(await store.pending(), [], 'the quick write waits for the slow one before it');
  gates[0]!();
  await Promise.all([first, second]);
  t.same(resolved, ['register', 'show, hide']);
  t.same(
    (await store.pending()).map((j) => j.effect.kind),
    ['register', 'show', 'hide'],
    'stored in the order submitted',
  );
  await t.rejects(
    outbox.submit([{ ...show, extensions: [1n] } as unknown as Effect]),
    'a write the store refuses rejects the submit',
  );
  t.equal((await store.pending()).length, 3);
  await outbox.submit([hide]);
  t.equal((await store.pending()).length, 4, 'and the next ones still go in');
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
    enqueue: async (effects: readonly Effect[]): Promise<number> => {
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
