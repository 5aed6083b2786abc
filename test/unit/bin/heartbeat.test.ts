/**
 * The heartbeat of the composition root: `alive` every 5 s of the service's clock, each switch's
 * newest event time by whoever stamps it, finished calls purged hourly from every store, nothing
 * after a stop; what the previous run stamped for a switch is read back.
 */
import t from 'tap';
import { ManualClock } from '../../../lib/clock.js';
import { createLogger } from '../../../lib/log.js';
import { Heartbeat } from '../../../bin/heartbeat.js';

function setup(stamps: (name: string) => boolean) {
  const clock = new ManualClock(1_000_000);
  const kv = new Map<string, unknown>([['alive.switchUs:sw2', 42]]);
  const writes: string[] = [];
  const purged: Array<[string, number]> = [];
  const store = {
    get: async <T>(key: string): Promise<T | null> => (kv.get(key) as T | undefined) ?? null,
    set: async (key: string, value: unknown): Promise<void> => {
      kv.set(key, value);
      writes.push(key);
    },
  };
  const purger = (name: string) => ({
    purgeFinished: async (before: number): Promise<number> => (purged.push([name, before]), 0),
  });
  const switches = [
    { name: 'sw1', lastSwitchUs: 7 },
    { name: 'sw2', lastSwitchUs: 0 },
  ];
  const beat = new Heartbeat({
    store,
    stores: () => [purger('main'), purger('portal')],
    switches: () => switches,
    stamps,
    clock,
    log: createLogger('silent'),
  });
  return { clock, kv, writes, purged, beat };
}

t.test('alive every 5 s, switch times where stamped, an hourly purge of a week ago, nothing after stop', async (t) => {
  const h = setup(() => true);
  await h.beat.start();
  t.same(h.writes, ['alive', 'alive.switchUs:sw1'], 'at start: alive, and the switch that has seen an event');
  await h.clock.advance(5_000);
  t.equal(h.kv.get('alive'), 1_005_000, 'alive moves with the clock');
  t.equal(h.writes.filter((w) => w === 'alive').length, 2);
  t.same(h.purged, [], 'no purge before an hour');
  await h.clock.advance(3_600_000 - 5_000);
  const week = 7 * 86_400_000;
  t.same(h.purged, [
    ['main', 1_000_000 + 3_600_000 - week],
    ['portal', 1_000_000 + 3_600_000 - week],
  ]);
  h.beat.stop();
  const n = h.writes.length;
  await h.clock.advance(60_000);
  t.equal(h.writes.length, n, 'stopped: nothing more');
});

t.test(
  'several instances: only the switches this one holds are stamped; the previous stamp is read back',
  async (t) => {
    const h = setup((name) => name === 'sw2');
    await h.beat.stamp();
    t.same(h.writes, ['alive'], 'sw1 held elsewhere: not stamped here');
    t.equal(h.beat.previousSwitchUs('sw2'), 0, 'unknown until read');
    await h.beat.readPrevious('sw2');
    await h.beat.readPrevious('sw1');
    t.equal(h.beat.previousSwitchUs('sw2'), 42);
    t.equal(h.beat.previousSwitchUs('sw1'), 0, 'never stamped: 0');
  },
);
