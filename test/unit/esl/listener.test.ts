/**
 * The event-socket listener on a moved clock: the reconnect back-off (250 ms doubling to
 * 30 s, back to 250 ms once connected) and the silence watchdog (no data, not even a
 * HEARTBEAT, for 60 s → the connection is replaced). Real sockets, no sleeps.
 */
import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { EslListener } from '../../../lib/esl/listener.js';
import { ManualClock } from '../../../lib/clock.js';
import { createLogger } from '../../../lib/log.js';
import { startFreeswitchSim, type FreeswitchSim } from '../../../lib/sim/freeswitch/index.js';

async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function listener(port: number, clock: ManualClock): EslListener {
  return new EslListener({
    host: '127.0.0.1',
    port,
    password: 'ClueCon',
    events: ['CHANNEL_CREATE', 'HEARTBEAT'],
    log: createLogger('silent'),
    clock,
  });
}

/** The delay of the retry just scheduled (the only timer left after a failed attempt). */
function retryDelay(clock: ManualClock): number | null {
  const due = clock.nextDue();
  return clock.pending === 1 && due !== null ? due - clock.now() : null;
}

function heartbeat(sim: FreeswitchSim): void {
  sim.sw.emitSystem('HEARTBEAT', ['switch_core.c', 'send_heartbeat', '81'], [['Event-Info', 'System Ready']]);
}

t.test('reconnect back-off: 250 ms doubling to 30 s; 250 ms again after a good connection', async (t) => {
  const clock = new ManualClock();
  const port = await freePort();
  const l = listener(port, clock);
  t.teardown(() => l.stop());
  const delays: Array<number | null> = [];
  let failed = once(l, 'failed');
  l.start();
  for (;;) {
    await failed;
    const delay = retryDelay(clock);
    delays.push(delay);
    if (delays.length === 10) break;
    failed = once(l, 'failed');
    await clock.advance(delay ?? 0);
  }
  t.same(delays, [250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  t.equal(l.reconnects, 10);
  t.match(l.lastError, { at: clock.now(), message: /127\.0\.0\.1:\d+: .*ECONNREFUSED/ });
  // the switch comes up on that port: the next attempt connects and the back-off starts over
  const sim = await startFreeswitchSim({ port, heartbeatMs: 0 });
  t.teardown(() => sim.close());
  failed = once(l, 'failed');
  const ready = once(l, 'ready').then(() => 'ready');
  await clock.advance(30_000);
  t.equal(await Promise.race([ready, failed.then(() => 'failed')]), 'ready', 'the next attempt connects');
  t.equal(l.state, 'up');
  t.equal(l.lastError, null);
  const down = once(l, 'down');
  sim.dropConnections();
  await down;
  t.equal(retryDelay(clock), 250, 'first retry within a second again');
});

t.test('watchdog: any data keeps the socket; 60 s of silence replaces the connection', async (t) => {
  const clock = new ManualClock(1_000_000);
  const sim = await startFreeswitchSim({ heartbeatMs: 0 });
  t.teardown(() => sim.close());
  const l = listener(sim.port, clock);
  t.teardown(() => l.stop());
  const ready = once(l, 'ready');
  l.start();
  await ready;
  t.equal(l.lastEventAt, 1_000_000, 'connected: stamped with the clock');
  await clock.advance(50_000);
  const beat = once(l, 'event');
  heartbeat(sim);
  await beat;
  t.equal(l.lastEventAt, 1_050_000, 'the HEARTBEAT is stamped with the clock');
  await clock.advance(69_999);
  t.equal(l.state, 'up', 'quiet for 60 s at the last look (not more): kept');
  let downAt: number | null = null;
  l.once('down', () => (downAt = clock.now()));
  await clock.advance(1);
  t.equal(downAt, 1_120_000, 'quiet for 70 s at the look at 120 s: dropped');
  t.match(l.lastError, { at: 1_120_000, message: 'no data (not even HEARTBEAT) for 60 s' });
  t.equal(retryDelay(clock), 250, 'and a reconnect is scheduled');
  const again = once(l, 'ready');
  await clock.advance(250);
  await again;
  t.equal(l.state, 'up');
  t.equal(l.reconnects, 1);
});

t.test('the switch stalls: a command gets no reply within 5 s, the connection is replaced', async (t) => {
  const clock = new ManualClock();
  const sim = await startFreeswitchSim({ heartbeatMs: 0 });
  t.teardown(() => sim.close());
  const l = listener(sim.port, clock);
  t.teardown(() => l.stop());
  const ready = once(l, 'ready');
  l.start();
  await ready;
  sim.stall();
  const down = once(l, 'down');
  const status = l.api('status');
  let settled = false;
  void status.then(
    () => (settled = true),
    () => (settled = true),
  );
  await clock.advance(4_999);
  t.equal(settled, false, 'still waiting at 4.999 s');
  await clock.advance(1);
  await t.rejects(status, /no reply within 5000 ms/);
  await down;
  sim.resume();
  const again = once(l, 'ready');
  await clock.advance(250);
  await again;
  t.match(await l.api('status'), /^UP /);
});

t.test('events sent between the subscription and the snapshot are handed over first, never dropped', async (t) => {
  const clock = new ManualClock();
  const sim = await startFreeswitchSim();
  t.teardown(() => sim.close());
  const l = listener(sim.port, clock);
  t.teardown(() => l.stop());
  const seen: string[] = [];
  l.on('event', (e) => seen.push(`${e.name} ${e.get('Unique-ID') ?? ''}`));
  const ready = new Promise<number>((r) => l.once('ready', (snap) => r(snap.channels.length)));
  const subscribed = sim.nextCommand('event');
  l.start();
  await subscribed;
  sim.stall(); // the snapshot's `show channels` waits: the switch goes on meanwhile
  const leg = sim.sw.trunkInbound('+79161234567', '4951234567');
  sim.sw.create(leg);
  sim.resume();
  t.equal(await ready, 1, 'the snapshot has the leg');
  t.same(seen, [`CHANNEL_CREATE ${leg.uuid}`], 'and its CHANNEL_CREATE came before it');
});
