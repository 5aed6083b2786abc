/**
 * Two instances on fake leases and an in-memory LISTEN/NOTIFY: /healthz's view of who holds
 * what (announcements, a newcomer's question, a late leave that must not erase a successor),
 * and the switch role's deafness on a moved clock.
 */
import t from 'tap';
import { EventEmitter } from 'node:events';
import { ManualClock } from '../../../lib/clock.js';
import { createLogger } from '../../../lib/log.js';
import { Cluster } from '../../../lib/cluster/cluster.js';
import { portalRole, switchRole } from '../../../lib/cluster/roles.js';
import type { Role } from '../../../lib/cluster/seat.js';
import { FakeLeaseTable } from '../../helpers/leases.js';
import { FakeBusNetwork } from '../../helpers/bus.js';

const log = createLogger('silent');
const idle: Role = { take: () => undefined, leave: () => undefined };

function node(name: string, table: FakeLeaseTable, net: FakeBusNetwork, clock: ManualClock): Cluster {
  return new Cluster({ instance: name, leases: table.for(name), bus: net.bus(name), claims: net.claims(), clock, log });
}

t.test('who holds what: announced on take and leave, told to a newcomer', async (t) => {
  const clock = new ManualClock();
  const table = new FakeLeaseTable();
  const net = new FakeBusNetwork();
  const a = node('A', table, net, clock);
  const sa = a.seat('switch:fs1', idle);
  a.seat('portal:b24.example.com', idle);
  await a.start();
  await sa.until(true);
  await clock.advance(0);
  const b = node('B', table, net, clock);
  const sb = b.seat('switch:fs1', idle);
  b.seat('portal:b24.example.com', idle);
  await b.start();
  await clock.advance(0);
  t.same(a.health(), {
    instance: 'A',
    holds: ['switch:fs1', 'portal:b24.example.com'],
    holders: { 'switch:fs1': 'A', 'portal:b24.example.com': 'A' },
  });
  t.same(
    b.health(),
    {
      instance: 'B',
      holds: [],
      holders: { 'switch:fs1': 'A', 'portal:b24.example.com': 'A' },
    },
    'the newcomer asked and was told',
  );
  table.drop('A'); // A's connection to the database dropped: B takes both
  await sb.until(true);
  await clock.advance(0);
  t.same(b.health().holds.sort(), ['portal:b24.example.com', 'switch:fs1']);
  t.same(
    a.health(),
    {
      instance: 'A',
      holds: [],
      holders: { 'switch:fs1': 'B', 'portal:b24.example.com': 'B' },
    },
    "A's late leave did not erase B, and A heard B",
  );
  await a.stop();
  await b.stop();
  t.same(table.holder('switch:fs1'), null);
});

t.test('switch role: deaf when the socket is not up 3 s after the take, or 3 s after it dropped', async (t) => {
  const clock = new ManualClock();
  const socket = new EventEmitter();
  const story: string[] = [];
  const deaf: string[] = [];
  const role = switchRole({
    socket,
    start: () => void story.push('start'),
    stop: () => void story.push('stop'),
    serve: async () => (story.push('serve'), async () => void story.push('unserve')),
    clock,
  });
  await role.take((why) => deaf.push(why));
  t.same(story, ['start', 'serve']);
  await clock.advance(2000);
  socket.emit('ready');
  await clock.advance(60_000);
  t.same(deaf, [], 'connected in time');
  socket.emit('down');
  await clock.advance(1000);
  socket.emit('failed');
  await clock.advance(1999);
  t.same(deaf, []);
  await clock.advance(1);
  t.same(deaf, ['event socket lost for more than 3000 ms']);
  await role.leave();
  t.same(story, ['start', 'serve', 'unserve', 'stop'], 'left in the reverse order');
  t.equal(socket.listenerCount('ready') + socket.listenerCount('down') + socket.listenerCount('failed'), 0);
  t.equal(clock.pending, 0);
  await role.take((why) => deaf.push(why));
  await clock.advance(3000);
  t.same(deaf.slice(1), ['event socket not connected for more than 3000 ms'], 'never connected after a take');
  await role.leave();
});

t.test('portal role: listens for commits before it reads the pending work back, then starts', async (t) => {
  const story: string[] = [];
  const role = portalRole({
    listenOutbox: async () => (story.push('listen outbox'), async () => void story.push('unlisten outbox')),
    reload: async () => void story.push('reload'),
    start: () => void story.push('start'),
    stop: async () => void story.push('stop'),
    serve: async () => (story.push('serve'), async () => void story.push('unserve')),
  });
  await role.take(() => undefined);
  await role.leave();
  t.same(story, ['listen outbox', 'reload', 'start', 'serve', 'unserve', 'stop', 'unlisten outbox']);
});
