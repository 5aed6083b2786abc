/**
 * The puller's timing on a fake clock: a standalone poll every pollMs when idle, none while
 * pulls ride in batches that go out anyway; recovery before the first new read; the
 * connect state's 10-minute, single-use life.
 */
import t from 'tap';
import { SqliteStore } from '../../../lib/store/sqlite.js';
import { createLogger } from '../../../lib/log.js';
import { OfflinePuller } from '../../../lib/offline/puller.js';
import { ManualClock } from '../../../lib/clock.js';
import { ConnectStates } from '../../../lib/http/connect.js';

function setup(pollMs = 1000): { clock: ManualClock; calls: string[]; puller: OfflinePuller } {
  const clock = new ManualClock();
  const calls: string[] = [];
  const client = {
    async call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
      calls.push(`${clock.now()} ${method}${params.process_id ? ` ${String(params.process_id)}` : ''}`);
      if (method === 'event.offline.list') return [{ ID: '7', PROCESS_ID: 'stranded', ERROR: '0' }] as T;
      return { process_id: params.process_id ?? 'p', events: [] } as T;
    },
  };
  const puller = new OfflinePuller({
    client,
    store: new SqliteStore(':memory:'),
    log: createLogger('silent'),
    portal: async () => ({ domain: 'x.bitrix24.com', memberId: 'm' }),
    validate: () => null,
    handle: async () => undefined,
    pollMs,
    clock,
  });
  return { clock, calls, puller };
}

t.test('idle: recovery first, then one read every pollMs', async (t) => {
  const { clock, calls, puller } = setup();
  await puller.start();
  await clock.advance(3500);
  t.same(calls, [
    '0 event.offline.list',
    '0 event.offline.get stranded',
    '0 event.offline.get',
    '1000 event.offline.get',
    '2000 event.offline.get',
    '3000 event.offline.get',
  ]);
  await puller.stop();
});

t.test('under load the pull rides in batches: no standalone polls', async (t) => {
  const { clock, calls, puller } = setup();
  await puller.start();
  await clock.advance(10);
  const before = calls.length;
  let rode = 0;
  // the outbox sends a batch every 400 ms for a minute
  for (let i = 0; i < 150; i++) {
    await clock.advance(400);
    const cmd = puller.piggyback();
    if (cmd) {
      rode++;
      await puller.onPiggybackResult({ result: { process_id: 'q', events: [] } });
    }
  }
  const standalone = calls.length - before;
  t.equal(standalone, 0, 'no request of its own');
  t.ok(rode >= 55 && rode <= 75, `pulled ${rode} times in 60 s inside batches`);
  await puller.stop();
});

t.test('a failed read: recovery before the next new read, with back-off; degraded after a minute', async (t) => {
  const clock = new ManualClock();
  const calls: string[] = [];
  let down = true;
  const puller = new OfflinePuller({
    client: {
      async call<T>(method: string): Promise<T> {
        calls.push(method);
        if (down) throw new Error('connect ECONNREFUSED');
        return (method === 'event.offline.list' ? [] : { process_id: 'p', events: [] }) as T;
      },
    },
    store: new SqliteStore(':memory:'),
    log: createLogger('silent'),
    portal: async () => ({ domain: 'x', memberId: 'm' }),
    validate: () => null,
    handle: async () => undefined,
    pollMs: 1000,
    clock,
  });
  await puller.start();
  await clock.advance(59_000);
  t.equal(puller.health().ok, true, 'not degraded within a minute');
  await clock.advance(15_000);
  t.match(puller.health(), { ok: false, body: { lastError: /ECONNREFUSED/ } });
  t.ok(calls.length < 12, `backed off: ${calls.length} attempts in 74 s`);
  down = false;
  calls.length = 0;
  await clock.advance(31_000);
  t.same(calls.slice(0, 2), ['event.offline.list', 'event.offline.get'], 'recovery, then the new read');
  t.equal(puller.health().ok, true);
  await puller.stop();
});

t.test('connect state: random, single use, 10 minutes, bound to the cookie; the store keeps a digest', async (t) => {
  const clock = new ManualClock();
  const store = new SqliteStore(':memory:');
  t.teardown(() => store.close());
  const states = new ConnectStates(store, () => clock.now());
  const a = await states.create();
  t.match(a, /^[0-9a-f]{48}$/);
  t.equal(await store.connectStates.consume(a, clock.now()), 'unknown', 'the state itself is not stored');
  t.equal(await states.consume(a, 'other'), 'other-browser');
  t.equal(await states.consume(a, undefined), 'other-browser', 'no cookie');
  t.equal(await states.consume(a, a), 'ok', 'a wrong cookie did not use it up');
  t.equal(await states.consume(a, a), 'used');
  const b = await states.create();
  await clock.advance(10 * 60_000);
  t.equal(await states.consume(b, b), 'expired');
  t.equal(await states.consume(undefined, b), 'missing');
  t.equal(await states.consume('nope', 'nope'), 'unknown');
});
