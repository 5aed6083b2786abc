/**
 * Work for a lease's holder from any instance (in-memory LISTEN/NOTIFY and claims, a moved
 * clock): done once even when two instances serve the box, sent again when a holder appears,
 * claimed back by the asker when nobody took it, `lost` when the holder took it and died.
 */
import t from 'tap';
import { ManualClock } from '../../../lib/clock.js';
import { createLogger } from '../../../lib/log.js';
import { Mailbox, channel } from '../../../lib/cluster/mailbox.js';
import { FakeBusNetwork } from '../../helpers/bus.js';

const log = createLogger('silent');

async function instances(clock: ManualClock, ...names: string[]): Promise<{ net: FakeBusNetwork; m: Mailbox[] }> {
  const net = new FakeBusNetwork();
  const m = names.map((n) => new Mailbox({ instance: n, bus: net.bus(n), claims: net.claims(), clock, log }));
  for (const x of m) await x.start();
  return { net, m };
}

t.test('an ask is done by the holder, once, even when two instances serve the box', async (t) => {
  const clock = new ManualClock();
  const { m } = await instances(clock, 'A', 'B', 'C');
  const [a, b, c] = m as [Mailbox, Mailbox, Mailbox];
  const done: string[] = [];
  await a.serve('switch:fs1', async (kind, body) => (done.push(`A ${kind} ${JSON.stringify(body)}`), 'placed by A'));
  await b.serve('switch:fs1', async (kind) => (done.push(`B ${kind}`), 'placed by B'));
  const answer = await c.ask<string>('switch:fs1', 'originate', { cmd: 'originate x' }, 5000, 130_000);
  t.same(done, ['A originate {"cmd":"originate x"}'], 'the first to claim it does it; the other one does not');
  t.same(answer, { ok: true, value: 'placed by A' });
  t.equal(clock.pending, 0, 'no timer left behind');
});

t.test('asked while nobody holds the lease: sent again when a holder announces itself', async (t) => {
  const clock = new ManualClock();
  const { m } = await instances(clock, 'A', 'B');
  const [a, b] = m as [Mailbox, Mailbox];
  const answer = b.ask<number>('switch:fs1', 'originate', {}, 5000, 130_000);
  await clock.advance(3000);
  await a.serve('switch:fs1', async () => 42);
  await a.announce('switch:fs1');
  t.same(await answer, { ok: true, value: 42 });
  t.equal(b.holderOf('switch:fs1'), 'A', 'the asker learnt who holds it');
});

t.test('nobody took it by the pickup deadline: claimed back, and a late holder does not do it', async (t) => {
  const clock = new ManualClock();
  const { net, m } = await instances(clock, 'A', 'B');
  const [a, b] = m as [Mailbox, Mailbox];
  const answer = b.ask('switch:fs1', 'originate', {}, 5000, 130_000);
  await clock.advance(5000);
  t.match(await answer, { ok: false, why: 'unclaimed', holder: null });
  let done = 0;
  await a.serve('switch:fs1', async () => done++);
  await a.announce('switch:fs1');
  await clock.advance(0);
  t.equal(done, 0, 'nothing is sent again once given up');
  t.ok(
    [...net.claimed.values()].some((v) => (v as { by: string }).by === 'B'),
    'the asker holds the claim',
  );
});

t.test('the holder took it and died before answering: lost at the result deadline', async (t) => {
  const clock = new ManualClock();
  const { net, m } = await instances(clock, 'A', 'B');
  const [a, b] = m as [Mailbox, Mailbox];
  let started!: () => void;
  const working = new Promise<void>((r) => (started = r));
  await a.serve('switch:fs1', () => (started(), new Promise(() => undefined)));
  await a.announce('switch:fs1');
  const answer = b.ask('switch:fs1', 'originate', {}, 5000, 130_000);
  await working;
  net.cut('A');
  await clock.advance(5000);
  let settled = false;
  void answer.then(() => (settled = true));
  await clock.advance(0);
  t.notOk(settled, 'taken: the pickup deadline does not end the wait');
  await clock.advance(125_000);
  t.match(await answer, { ok: false, why: 'lost', holder: 'A' });
});

t.test('a handler that throws: the asker gets the message', async (t) => {
  const clock = new ManualClock();
  const { m } = await instances(clock, 'A', 'B');
  const [a, b] = m as [Mailbox, Mailbox];
  await a.serve('portal:x', async () => {
    throw new Error('the directory has no such user');
  });
  t.match(await b.ask('portal:x', 'event', {}, 5000, 60_000), {
    ok: false,
    why: 'failed',
    message: 'the directory has no such user',
  });
});

t.test('tell: done by whoever serves the box, unclaimed, unanswered', async (t) => {
  const clock = new ManualClock();
  const { net, m } = await instances(clock, 'A', 'B');
  const [a, b] = m as [Mailbox, Mailbox];
  const got: unknown[] = [];
  await a.serve('switch:fs1', async (kind, body) => got.push([kind, body]));
  await b.tell('switch:fs1', 'routed', { caller: '+79161234567', extension: '1002' });
  await clock.advance(0);
  t.same(got, [['routed', { caller: '+79161234567', extension: '1002' }]]);
  t.equal(net.claimed.size, 0);
});

t.test('channel names fit PostgreSQL identifiers', async (t) => {
  t.equal(channel('switch:fs1'), 'fsb24:switch:fs1');
  const long = channel(`portal:${'a'.repeat(80)}.bitrix24.com`);
  t.ok(long.length <= 63);
  t.not(long, channel(`portal:${'b'.repeat(80)}.bitrix24.com`));
});

t.test('a message too large for NOTIFY is refused at once', async (t) => {
  const clock = new ManualClock();
  const { m } = await instances(clock, 'A');
  t.throws(() => m[0]!.ask('x', 'y', { text: 'z'.repeat(9000) }, 1, 1), RangeError);
});
