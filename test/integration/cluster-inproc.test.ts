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
import { inboundCall, killLeg } from '../../lib/sim/freeswitch/index.js';
import { FakeLeaseTable } from '../helpers/leases.js';
import { FakeBusNetwork } from '../helpers/bus.js';
import { Browser } from '../../lib/sim/bitrix24/browser.js';
import { installLocalApp } from '../../lib/sim/bitrix24/authorize.js';
import { ok } from '../helpers/portal.js';

async function twoInstances(t: { teardown: (fn: () => unknown) => void }, install = true) {
  const table = new FakeLeaseTable();
  const net = new FakeBusNetwork();
  const shared = (n: string) => ({ leases: table.for(n), bus: net.bus(n), claims: net.claims() });
  const dir = mkdtempSync(join(tmpdir(), 'fsb24-'));
  const s = await startStack({
    dataDir: join(dir, 'data'),
    recordingsDir: join(dir, 'rec'),
    config: { instanceId: 'A' },
    compose: (o) => compose({ ...o, shared: shared('A') }),
    install,
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
    const hb = await b.health();
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

t.test(
  'the holder loses its leases mid-call: the standby takes both over; every call registered and finished once',
  async (t) => {
    const { s, a, b, table } = await twoInstances(t);
    const { sw } = s.sim;
    const talking = Array.from({ length: 4 }, (_, i) =>
      inboundCall(sw, {
        caller: `+7916000000${i}`,
        did: '4951234567',
        extensions: ['1001'],
        talkMs: -1,
        record: false,
      }),
    );
    const registered = await Promise.all(
      talking.map((_, i) =>
        s.portal.journal.next(
          (r) => ok('telephony.externalcall.register')(r) && r.params.PHONE_NUMBER === `+7916000000${i}`,
        ),
      ),
    );
    t.equal(registered.length, 4, 'four calls registered by A');
    // nothing in flight at the handover (a request cut by a kill is the child-process test's matter)
    await a.portal.outbox.idle();
    const ends = (i: number): void => {
      const leg = [...sw.legs.values()].find(
        (l) => l.init.direction === 'inbound' && l.init.callerIdNumber === `+7916000000${i}`,
      );
      if (leg) killLeg(sw, leg, 'NORMAL_CLEARING');
    };
    table.drop('A'); // A's database connection drops: its leases are free at once
    ends(0); // these two end while nobody listens (or while B resyncs)
    ends(1);
    await s.sim.nextCommand('api show calls as json');
    if (!b.switch.listener.connected) await new Promise((r) => b.switch.listener.once('ready', r));
    t.equal(table.holder('switch:default'), 'B');
    ends(2);
    ends(3);
    const fresh = inboundCall(sw, {
      caller: '+79160000009',
      did: '4951234567',
      extensions: ['1002'],
      talkMs: 1000,
      record: false,
    });
    await Promise.all([...talking, fresh]);
    const finishes = (): PortalRequest[] => s.portal.journal.entries.filter(ok('telephony.externalcall.finish'));
    await s.portal.journal.until(() => finishes().length >= 5, 15_000);
    await b.portal.outbox.idle();
    const regs = s.portal.journal.entries.filter(ok('telephony.externalcall.register'));
    t.equal(regs.length, 5, 'one register per call');
    t.equal(new Set(regs.map((r) => r.params.EXTERNAL_CALL_ID)).size, 5);
    t.equal(finishes().length, 5, 'one finish per call');
    t.equal(new Set(finishes().map((r) => r.params.CALL_ID)).size, 5);
  },
);

t.test(
  'an install posted to the standby: the holder proves the tokens and binds; the portal hears only it',
  async (t) => {
    const { s, a, b } = await twoInstances(t, false);
    t.equal(await s.portal.install(`${b.url}/bitrix24/events`), 200, 'B answered the install');
    await s.portal.journal.until(() => s.portal.state.handlers.length >= 2, 10_000);
    t.match(await a.portal.store.tokens(), { memberId: s.portal.app.memberId }, 'the tokens stored');
    const proof = s.portal.journal.entries.find((r) => r.method === 'app.info');
    t.equal(proof?.agent, 'freeswitch-bitrix24 (instance A)', 'the tokens proved on the portal by A');
    t.ok(s.portal.journal.entries.some(ok('event.bind')), 'the events bound');
    const agents = new Set(s.portal.journal.entries.map((r) => r.agent));
    t.same([...agents], ['freeswitch-bitrix24 (instance A)'], 'every request to the portal came from the holder');
    // an install the holder refuses is refused where it arrived
    s.portal.app.memberId = 'another-installation';
    t.equal(await s.portal.install(`${b.url}/bitrix24/events`), 401, 'another member_id: refused by A, 401 from B');
  },
);

t.test('a browser connect through the standby: the holder exchanges the code and binds', async (t) => {
  const { s, a, b } = await twoInstances(t, false);
  installLocalApp(s.portal, `${b.url}/bitrix24/oauth/callback`);
  const browser = new Browser();
  const r = await browser.get(`${b.url}/bitrix24/connect`);
  t.equal(r.status, 200, r.body);
  t.match(r.body, /Connected to Bitrix24/);
  t.match(r.body, /Bound ONEXTERNALCALLSTART, ONEXTERNALCALLBACKSTART to /);
  t.match(browser.visited[2], new RegExp(`^${b.url}/bitrix24/oauth/callback`), 'the portal sent the browser to B');
  t.match(await a.portal.store.tokens(), { memberId: s.portal.app.memberId });
  const rest = s.portal.journal.entries.filter((r) => r.method !== 'oauth.authorize');
  t.ok(rest.some((r) => r.method === 'app.info') && rest.some((r) => r.method === 'event.bind'));
  t.same([...new Set(rest.map((r) => r.agent))], ['freeswitch-bitrix24 (instance A)'], 'every REST call by A');
});
