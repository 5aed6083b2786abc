/**
 * Two instances in one process on one SQLite file, fake leases and an in-memory LISTEN/NOTIFY:
 * the wiring of the cluster side, fast (the same scenarios run on PostgreSQL in child processes
 * in cluster.test.ts).
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack } from '../../lib/demo/stack.js';
import { compose } from '../../bin/compose.js';
import { createLogger } from '../../lib/log.js';
import type { PortalRequest } from '../../lib/sim/bitrix24/index.js';
import { FakeLeaseTable } from '../helpers/leases.js';
import { FakeBusNetwork } from '../helpers/bus.js';

const ok =
  (m: string) =>
  (r: PortalRequest): boolean =>
    r.method === m && r.status === 200;

async function twoInstances(t: { teardown: (fn: () => unknown) => void }) {
  const table = new FakeLeaseTable();
  const net = new FakeBusNetwork();
  const shared = (n: string) => ({ leases: table.for(n), bus: net.bus(n), claims: net.claims() });
  const dir = mkdtempSync(join(tmpdir(), 'fsb24-'));
  const s = await startStack({
    dataDir: join(dir, 'data'),
    recordingsDir: join(dir, 'rec'),
    config: { instanceId: 'A' },
    compose: (o) => compose({ ...o, shared: shared('A') }),
  });
  t.teardown(() => s.close());
  const b = compose({
    config: { ...s.config, instanceId: 'B' },
    log: createLogger('silent'),
    recordingsStableMs: 0,
    shared: shared('B'),
  });
  await b.start();
  t.teardown(() => b.stop());
  await net.settled();
  return { s, a: s.service, b, table, net };
}

t.test(
  'a click-to-call posted to the standby is placed once, by the holder; the portal hears one instance',
  async (t) => {
    const { s, a, b, table } = await twoInstances(t);
    t.equal(table.holder('switch:default'), 'A');
    t.equal(table.holder(`portal:${new URL(s.portal.url).host}`), 'A');
    const hb = b.health();
    t.match(hb.body, { eventSocket: { state: 'standby', holder: 'A' }, cluster: { instance: 'B', holds: [] } });
    t.ok(hb.ok, 'a standby is healthy while a holder is known');
    s.portal.journal.clear();
    const { callId, statuses } = await s.portal.clickToCall({
      userId: 11,
      phone: '+79161234567',
      lineNumber: '4951234567',
      to: [`${b.url}/bitrix24/events`, `${b.url}/bitrix24/events`, `${a.url}/bitrix24/events`],
    });
    t.same(statuses, [200, 200, 200]);
    await s.sim.nextCommand('bgapi originate');
    const fin = await s.portal.journal.next(
      (r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === callId,
      15_000,
    );
    t.match(fin.params, { CALL_ID: callId, USER_ID: 11, STATUS_CODE: '200' });
    t.equal(s.sim.commands.entries.filter((c) => c.line.startsWith('bgapi originate')).length, 1, 'placed once');
    const agents = new Set(s.portal.journal.entries.map((r) => r.agent));
    t.same([...agents], ['freeswitch-bitrix24 (instance A)'], 'every request to the portal came from the holder');
  },
);
