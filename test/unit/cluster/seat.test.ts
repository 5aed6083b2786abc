/**
 * Seats on fake leases with the semantics of PostgreSQL advisory locks and a moved clock:
 * one instance runs a role at a time; the other takes over when the holder's lease is lost,
 * when its role goes deaf, or when it stops; a deaf instance waits before asking again.
 */
import t from 'tap';
import { ManualClock } from '../../../lib/clock.js';
import { createLogger } from '../../../lib/log.js';
import { DeafTimer, Seat, type Role } from '../../../lib/cluster/seat.js';
import { FakeLeaseTable } from '../../helpers/leases.js';

const log = createLogger('silent');

/** A role that writes what happens to it into a shared list, and can be made deaf or to fail. */
function role(name: string, story: string[]): Role & { deaf: (why: string) => void; failTake: boolean } {
  const r = {
    deaf: (_why: string): void => undefined,
    failTake: false,
    take(deaf: (why: string) => void): void {
      if (r.failTake) {
        story.push(`${name} take failed`);
        throw new Error('the switch refused us');
      }
      story.push(`${name} take`);
      r.deaf = deaf;
    },
    leave(): void {
      story.push(`${name} leave`);
    },
  };
  return r;
}

function seat(table: FakeLeaseTable, instance: string, r: Role, clock: ManualClock): Seat {
  return new Seat({ name: 'switch:fs1', leases: table.for(instance), role: r, clock, log });
}

t.test('one holder; the other takes over at once when the holder loses its lease', async (t) => {
  const clock = new ManualClock();
  const table = new FakeLeaseTable();
  const story: string[] = [];
  const a = seat(table, 'A', role('A', story), clock);
  const b = seat(table, 'B', role('B', story), clock);
  void a.start();
  await a.until(true);
  void b.start();
  await clock.advance(60_000);
  t.same(story, ['A take'], 'B waits while A holds (no polling: nothing on the clock)');
  t.equal(clock.pending, 0);
  t.equal(a.since, 0);
  table.drop('A'); // A's database connection dropped (kill -9, a network cut)
  await b.until(true);
  await a.until(false);
  t.same(story.sort(), ['A leave', 'A take', 'B take']);
  t.equal(table.holder('switch:fs1'), 'B');
  t.same(a.counts, { takes: 1, lost: 1, deaf: 0, errors: 0 });
  await Promise.all([a.stop(), b.stop()]);
  t.same(story.slice(-1), ['B leave']);
  t.equal(table.holder('switch:fs1'), null, 'released at stop');
});

t.test('a deaf holder gives the seat up, and asks again only after the back-off', async (t) => {
  const clock = new ManualClock();
  const table = new FakeLeaseTable();
  const story: string[] = [];
  const ra = role('A', story);
  const a = seat(table, 'A', ra, clock);
  void a.start();
  await a.until(true);
  const b = seat(table, 'B', role('B', story), clock);
  void b.start();
  await clock.advance(0);
  ra.deaf('event socket down');
  await b.until(true);
  t.same(story, ['A take', 'A leave', 'B take'], 'A left before B took');
  t.same(table.grants, ['A switch:fs1', 'B switch:fs1']);
  await clock.advance(1999);
  t.same(table.grants.length, 2, 'A waits 2 s before asking again');
  await clock.advance(1);
  await b.stop();
  await a.until(true);
  t.same(table.grants, ['A switch:fs1', 'B switch:fs1', 'A switch:fs1'], 'then it waits its turn and gets it back');
  t.same(a.counts, { takes: 2, lost: 0, deaf: 1, errors: 0 });
  await a.stop();
});

t.test('alone, a deaf holder takes its seat back after the back-off', async (t) => {
  const clock = new ManualClock();
  const table = new FakeLeaseTable();
  const story: string[] = [];
  const ra = role('A', story);
  const a = seat(table, 'A', ra, clock);
  void a.start();
  await a.until(true);
  ra.deaf('event socket down');
  await a.until(false);
  t.equal(table.holder('switch:fs1'), null, 'released while it waits');
  await clock.advance(2000);
  await a.until(true);
  t.same(story, ['A take', 'A leave', 'A take']);
  await a.stop();
});

t.test('stop while waiting for the lease gives the wait up; nothing is taken', async (t) => {
  const clock = new ManualClock();
  const table = new FakeLeaseTable();
  const story: string[] = [];
  const a = seat(table, 'A', role('A', story), clock);
  const b = seat(table, 'B', role('B', story), clock);
  void a.start();
  await a.until(true);
  void b.start();
  await clock.advance(0);
  await b.stop();
  await a.stop();
  t.same(story, ['A take', 'A leave'], 'B never took it, even once A released');
  t.equal(table.holder('switch:fs1'), null);
});

t.test('a role that cannot be taken releases the lease and is tried again after the back-off', async (t) => {
  const clock = new ManualClock();
  const table = new FakeLeaseTable();
  const story: string[] = [];
  const ra = role('A', story);
  ra.failTake = true;
  const a = seat(table, 'A', ra, clock);
  const b = seat(table, 'B', role('B', story), clock);
  void a.start();
  await clock.advance(0);
  void b.start();
  await b.until(true);
  t.same(story, ['A take failed', 'A leave', 'B take'], 'leave is called after a failed take, then B takes');
  t.equal(a.counts.errors, 1);
  await Promise.all([a.stop(), b.stop()]);
});

t.test('the database down: the lease is asked for again every second until it answers', async (t) => {
  const clock = new ManualClock();
  const table = new FakeLeaseTable();
  table.failing = new Error('connect ECONNREFUSED');
  const story: string[] = [];
  const a = seat(table, 'A', role('A', story), clock);
  void a.start();
  await clock.advance(2500);
  t.equal(a.counts.errors, 3, 'at 0, 1 and 2 s');
  t.same(story, []);
  table.failing = null;
  await clock.advance(500);
  await a.until(true);
  t.same(story, ['A take']);
  await a.stop();
});

t.test('DeafTimer: down for longer than the limit, once; up in between cancels it', async (t) => {
  const clock = new ManualClock();
  const heard: string[] = [];
  const d = new DeafTimer(clock, 3000, (why) => heard.push(why));
  d.down('event socket not connected');
  await clock.advance(2999);
  d.up();
  await clock.advance(10_000);
  t.same(heard, []);
  d.down('event socket not connected');
  await clock.advance(1000);
  d.down('event socket not connected'); // a second failure does not restart the count
  await clock.advance(2000);
  t.same(heard, ['event socket not connected for more than 3000 ms']);
  await clock.advance(10_000);
  t.equal(heard.length, 1);
});
