/**
 * One switch, two portals (issue 14): two emulated portals and one simulated switch with
 * two tenant domains. Each call lands on its own portal with its users and lines; one
 * portal's outage does not hold the other's calls; events are verified per portal.
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compose } from '../../bin/compose.js';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import { startFreeswitchSim, inboundCall, type FreeswitchSim } from '../../lib/sim/freeswitch/index.js';
import { startBitrix24Emulator, type Bitrix24Emulator } from '../../lib/sim/bitrix24/index.js';
import type { Runtime } from '../../lib/runtime.js';
import type { PortalUnit } from '../../lib/portal/unit.js';
import { check, tenantsReport } from '../../lib/check.js';
import { ManualClock, type Clock } from '../../lib/clock.js';
import { ok } from '../helpers/portal.js';

const APP = { clientId: 'local.tenants', clientSecret: 'tenants-secret' };

interface Two {
  sim: FreeswitchSim;
  a: Bitrix24Emulator;
  b: Bitrix24Emulator;
  dataDir: string;
  start(tenants: (a: string, b: string) => Record<string, unknown>): Promise<Runtime>;
}

async function two(t: { teardown: (fn: () => unknown) => void }, clock?: Clock): Promise<Two> {
  const dir = mkdtempSync(join(tmpdir(), 'fsb24-tenants-'));
  // two tenant domains with the same extension numbers, each its own users (fixtures/esl/tenants)
  const office = { '1001': {}, '1002': {} };
  const sim = await startFreeswitchSim({
    recordingsDir: join(dir, 'rec'),
    domains: { 'a.pbx.test': { extensions: office }, 'b.pbx.test': { extensions: office } },
  });
  const a = await startBitrix24Emulator(APP);
  const b = await startBitrix24Emulator(APP);
  a.state.addUser({ ID: 11, NAME: 'Anna', LAST_NAME: 'A', UF_PHONE_INNER: '1001' });
  b.state.addUser({ ID: 21, NAME: 'Bella', LAST_NAME: 'B', UF_PHONE_INNER: '1002' });
  const services: Runtime[] = [];
  t.teardown(async () => {
    for (const s of services) await s.stop().catch(() => undefined);
    await sim.close();
    await a.close();
    await b.close();
  });
  const dataDir = join(dir, 'data');
  return {
    sim,
    a,
    b,
    dataDir,
    async start(tenants) {
      const config = loadConfig({
        overrides: {
          'esl.host': sim.host,
          'esl.port': sim.port,
          'http.port': 0,
          dataDir,
          'b24.clientId': APP.clientId,
          'b24.clientSecret': APP.clientSecret,
          'b24.oauthUrl': a.url,
          'b24.directoryRefreshSec': 0,
          'b24.retryBaseMs': 50,
          'calls.gateway': 'pstn',
          'calls.cardWindowMs': 0,
          'recordings.dirs': [join(dir, 'rec')],
          logLevel: 'silent',
          tenants: JSON.stringify(tenants(a.url, b.url)),
        },
      });
      const svc = compose({ config, log: createLogger('silent'), recordingsStableMs: 0 }, clock);
      services.push(svc);
      const ready = new Promise<void>((r) => svc.switch.listener.once('ready', () => r()));
      await svc.start();
      await ready;
      return svc;
    },
  };
}

const byDomain = (a: string, b: string): Record<string, unknown> => ({
  [a]: { domains: ['a.pbx.test'], lines: ['4951110000'] },
  [b]: { domains: ['b.pbx.test'], lines: ['4952220000'] },
});

async function installBoth(x: Two, svc: Runtime): Promise<void> {
  for (const p of [x.a, x.b]) {
    const status = await p.install(`${svc.url}/bitrix24/events`);
    if (status !== 200) throw new Error(`install failed: HTTP ${status}`);
    await p.journal.until(() => p.state.handlers.length >= 2, 5000);
  }
  for (const p of svc.portals) await p.directory.refresh();
}

t.test(
  'concurrent calls of two tenant domains land each on its own portal, with its users, lines and recordings',
  async (t) => {
    const x = await two(t);
    const svc = await x.start(byDomain);
    await installBoth(x, svc);
    t.equal(svc.portals.length, 2, 'one unit per portal');
    const [ca, cb] = await Promise.all([
      inboundCall(x.sim.sw, {
        caller: '+79161234567',
        did: '4951110000',
        extensions: ['1001'],
        domain: 'a.pbx.test',
        talkMs: 7000,
      }),
      inboundCall(x.sim.sw, {
        caller: '+79031112233',
        did: '4952220000',
        extensions: ['1002'],
        domain: 'b.pbx.test',
        talkMs: 5000,
      }),
    ]);
    const fa = await x.a.journal.next(ok('telephony.externalcall.finish'));
    const fb = await x.b.journal.next(ok('telephony.externalcall.finish'));
    t.match(fa.params, { USER_ID: 11, STATUS_CODE: '200' }); // concurrent scenarios share the simulator's clock: durations add up
    t.match(fb.params, { USER_ID: 21, STATUS_CODE: '200' });
    const ra = x.a.journal.entries.filter(ok('telephony.externalcall.register'));
    const rb = x.b.journal.entries.filter(ok('telephony.externalcall.register'));
    t.same(
      ra.map((r) => [r.params.EXTERNAL_CALL_ID, r.params.LINE_NUMBER]),
      [[ca.uuid, '4951110000']],
      'A got only its call',
    );
    t.same(
      rb.map((r) => [r.params.EXTERNAL_CALL_ID, r.params.LINE_NUMBER]),
      [[cb.uuid, '4952220000']],
      'B got only its call',
    );
    await x.a.journal.next((r) => r.method === 'telephony.externalcall.attachrecord' && r.status === 200);
    await x.b.journal.next((r) => r.method === 'telephony.externalcall.attachrecord' && r.status === 200);
    t.same(
      x.a.state.files.map((f) => f.CALL_ID),
      [fa.params.CALL_ID],
      "A's recording on A only",
    );
    t.same(
      x.b.state.files.map((f) => f.CALL_ID),
      [fb.params.CALL_ID],
      "B's recording on B only",
    );
    const metrics = await svc.app.inject({ method: 'GET', url: '/metrics' });
    t.match(metrics.body, /fsb24_portal_installed\{portal="127\.0\.0\.1:\d+"\} 1/);
    // REST requests and Bitrix24's server time, each portal its own
    for (const p of [x.a, x.b]) {
      const host = new URL(p.url).host.replace(/\./g, '\\.');
      t.match(
        metrics.body,
        new RegExp(`fsb24_rest_requests_total\\{portal="${host}",method="[^"]+",result="ok"\\} \\d`),
      );
      t.match(metrics.body, new RegExp(`fsb24_b24_operating_seconds\\{portal="${host}",method="[^"]+"\\} \\d`));
    }
  },
);

t.test("portal A down: B's calls keep landing; A's arrive once it is back", async (t) => {
  const x = await two(t);
  const svc = await x.start(byDomain);
  await installBoth(x, svc);
  x.a.setOutage('http500');
  await inboundCall(x.sim.sw, {
    caller: '+79161234567',
    did: '4951110000',
    extensions: ['1001'],
    domain: 'a.pbx.test',
    talkMs: 3000,
  });
  await inboundCall(x.sim.sw, {
    caller: '+79031112233',
    did: '4952220000',
    extensions: ['1002'],
    domain: 'b.pbx.test',
    talkMs: 2000,
  });
  const fb = await x.b.journal.next(ok('telephony.externalcall.finish'));
  t.match(fb.params, { USER_ID: 21, DURATION: 2 }, "B's call finished while A is down");
  t.equal(x.a.state.finished.length, 0, 'nothing reached A yet');
  t.ok((await svc.portals[0]!.store.stats()).pending > 0, "A's jobs wait in A's lane");
  x.a.setOutage('none');
  const fa = await x.a.journal.next(ok('telephony.externalcall.finish'));
  t.match(fa.params, { USER_ID: 11, DURATION: 3 });
  t.equal(x.b.journal.entries.filter(ok('telephony.externalcall.finish')).length, 1, 'B got its one call');
});

t.test(
  "portal A down for a minute: B's cards go out at once as before; A is probed every 5 s and gets all its calls after",
  async (t) => {
    const clock = new ManualClock(Date.now());
    const x = await two(t, clock);
    const svc = await x.start(byDomain);
    await installBoth(x, svc);
    const [pa, pb] = svc.portals as [PortalUnit, PortalUnit];
    const call = (n: number, tenant: 'a' | 'b'): Promise<unknown> =>
      inboundCall(x.sim.sw, {
        caller: `+7916123${String(n).padStart(4, '0')}`,
        did: tenant === 'a' ? '4951110000' : '4952220000',
        extensions: [tenant === 'a' ? '1001' : '1002'],
        domain: `${tenant}.pbx.test`,
        talkMs: 1000,
        record: false,
      });
    // B's card reaches B without the service's clock moving: nothing it waits for is a timer
    const cardOfB = async (n: number): Promise<void> => {
      const before = clock.now();
      const registered = x.b.journal.next(ok('telephony.externalcall.register'));
      await call(n, 'b');
      await registered;
      t.equal(clock.now(), before, `B's call ${n}: its card went at once`);
    };
    await cardOfB(0);
    x.a.setOutage('http500');
    const aBefore = x.a.outageRequests;
    const bLimiterWait = pb.limiter.waitedMs;
    for (let i = 1; i <= 12; i++) {
      await call(i, 'a');
      await cardOfB(i);
      await clock.advance(5_000); // a minute in all, in steps of 5 s
    }
    const probes = x.a.outageRequests - aBefore;
    t.ok(probes >= 1 && probes <= 13, `A was probed at most once per 5 s during the minute (${probes} requests)`);
    t.equal(pb.limiter.waitedMs, bLimiterWait, "B's requests never waited for a slot");
    t.equal(x.b.state.finished.length, 13, 'every B call finished while A was down');
    t.equal(x.a.state.finished.length, 0, 'nothing reached A');
    t.ok((await pa.store.stats()).pending > 0, "A's jobs wait, durable, in A's lane");
    x.a.setOutage('none');
    const back = clock.now();
    while (x.a.state.finished.length < 12 && clock.now() - back < 60_000) await clock.advance(1_000);
    t.equal(x.a.state.finished.length, 12, "all A's calls finished once it is back");
    t.ok(clock.now() - back <= 10_000, `within ${clock.now() - back} ms of its return`);
    const registers = x.a.journal.entries.filter(ok('telephony.externalcall.register'));
    t.equal(new Set(registers.map((r) => String(r.params.PHONE_NUMBER))).size, 12, 'each A call registered once');
    t.equal(registers.length, 12, 'no second register');
  },
);

t.test("events are verified per portal: a third portal's install and another portal's line are refused", async (t) => {
  const x = await two(t);
  const svc = await x.start(byDomain);
  await installBoth(x, svc);
  const c = await startBitrix24Emulator(APP);
  t.teardown(() => c.close());
  t.equal(await c.install(`${svc.url}/bitrix24/events`), 401, 'a portal not in the map is refused');
  // A's token, B's user and B's line: refused before the 200, and A's call finished with an error status
  const { callId, statuses } = await x.a.clickToCall({ userId: 11, phone: '+79161234567', lineNumber: '4952220000' });
  t.same(statuses, [400]);
  const fin = await x.a.journal.next((r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === callId);
  t.match(fin.params, { STATUS_CODE: 'OTHER', DURATION: 0 });
  // A's token on an event that names portal B: verified against B's application_token, refused
  const forged = await x.b.postEvent(
    `${svc.url}/bitrix24/events`,
    'ONEXTERNALCALLSTART',
    { PHONE_NUMBER: '+79161234567', USER_ID: 21, CALL_ID: 'externalCall.forged', LINE_NUMBER: '4952220000' },
    { ...x.b.authBlock(null, 21), application_token: x.a.authBlock(null).application_token as string },
  );
  t.equal(forged, 401, "A's token does not open B's portal");
  t.equal(x.sim.commands.entries.filter((cmd) => cmd.line.startsWith('bgapi originate')).length, 0, 'no call placed');
  // A's click-to-call rings only A's domain: A's user with B's extension number rings 1002@a.pbx.test
  x.a.state.addUser({ ID: 12, NAME: 'Boris', LAST_NAME: 'A', UF_PHONE_INNER: '1002' });
  await svc.portals[0]!.directory.refresh();
  const mine = await x.a.clickToCall({ userId: 12, phone: '+79161234567', lineNumber: '4951110000' });
  t.same(mine.statuses, [200]);
  const cmd = await x.sim.nextCommand('bgapi originate');
  t.match(cmd.line, /\}user\/1002@a\.pbx\.test &bridge/);
  // the lookup asks only the portal the domain belongs to
  const r = await svc.app.inject({
    method: 'GET',
    url: '/route?caller=%2B79161234567&did=4952220000&domain=nowhere.test',
  });
  t.equal(r.body, '');
});

t.test(
  "the same extension in two domains: B's click-to-call rings user/1001@b.pbx.test; registrations are per domain",
  async (t) => {
    const x = await two(t);
    const svc = await x.start(byDomain);
    await installBoth(x, svc);
    x.b.state.addUser({ ID: 22, NAME: 'Bruno', LAST_NAME: 'B', UF_PHONE_INNER: '1001' });
    await svc.portals[1]!.directory.refresh();
    const { callId, statuses } = await x.b.clickToCall({ userId: 22, phone: '+79161234567', lineNumber: '4952220000' });
    t.same(statuses, [200]);
    const cmd = await x.sim.nextCommand('bgapi originate');
    t.match(cmd.line, /\}user\/1001@b\.pbx\.test &bridge\(/, "B's 1001, not A's");
    const fin = await x.b.journal.next((r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === callId);
    t.match(fin.params, { USER_ID: 22, STATUS_CODE: '200' });
    t.equal(x.a.journal.entries.filter(ok('telephony.externalcall.finish')).length, 0, 'nothing reached A');
    // each portal's responsible manager has extension 1001, each in their own domain
    x.a.state.addCrm({ TYPE: 'CONTACT', ID: 5, NAME: 'Client A', PHONES: ['+79160000001'], ASSIGNED_BY_ID: 11 });
    x.b.state.addCrm({ TYPE: 'CONTACT', ID: 6, NAME: 'Client B', PHONES: ['+79160000002'], ASSIGNED_BY_ID: 22 });
    const route = async (caller: string, domain: string): Promise<string> =>
      (
        await svc.app.inject({
          method: 'GET',
          url: `/route?caller=${encodeURIComponent(caller)}&did=4951110000&domain=${domain}`,
        })
      ).body;
    t.equal(await route('+79160000001', 'a.pbx.test'), '1001', "A's 1001 is registered");
    t.equal(await route('+79160000002', 'b.pbx.test'), '1001', "B's 1001 is registered");
    const gone = new Promise<void>((r) =>
      svc.switch.onEslEvent((e) => e.get('Event-Subclass') === 'sofia::unregister' && r()),
    );
    x.sim.sw.unregister('1001', 'b.pbx.test');
    await gone;
    t.equal(await route('+79160000002', 'b.pbx.test'), '', "B's 1001 unregistered: not rung first");
    t.equal(await route('+79160000001', 'a.pbx.test'), '1001', "A's 1001 still is");
  },
);

t.test('a DID moved between portals in the config: the next calls follow it', async (t) => {
  const x = await two(t);
  const first = await x.start((a, b) => ({ [a]: { lines: ['4951110000'] }, [b]: { lines: ['4952220000'] } }));
  await installBoth(x, first);
  await inboundCall(x.sim.sw, { caller: '+79161234567', did: '4951110000', extensions: ['1001'], talkMs: 1000 });
  await x.a.journal.next(ok('telephony.externalcall.finish'));
  await first.stop();
  const second = await x.start((a, b) => ({
    [a]: { lines: ['4951110001'] },
    [b]: { lines: ['4952220000', '4951110000'] },
  }));
  for (const p of second.portals) await p.directory.refresh();
  await inboundCall(x.sim.sw, { caller: '+79161234567', did: '4951110000', extensions: ['1002'], talkMs: 1000 });
  const fb = await x.b.journal.next(ok('telephony.externalcall.finish'));
  t.match(fb.params, { USER_ID: 21 });
  t.equal(x.a.journal.entries.filter(ok('telephony.externalcall.finish')).length, 1, 'A got only the first call');
});

t.test('`check` reports each portal; `tenants` lists them with their domains and state', async (t) => {
  const x = await two(t);
  const svc = await x.start(byDomain);
  await installBoth(x, svc);
  const c = svc.config;
  const results = await check({
    overrides: {
      'esl.host': c.esl.host,
      'esl.port': c.esl.port,
      dataDir: c.dataDir,
      publicUrl: svc.url,
      'b24.clientId': c.b24.clientId,
      'b24.clientSecret': c.b24.clientSecret,
      'b24.oauthUrl': c.b24.oauthUrl,
      logLevel: 'silent',
      tenants: JSON.stringify(byDomain(x.a.url, x.b.url)),
    },
  });
  for (const p of [x.a, x.b]) {
    const host = new URL(p.url).host;
    t.match(
      results.find((r) => r.name === `${host}: token`),
      { ok: true, detail: /valid until/ },
      `${host}: token`,
    );
    t.match(
      results.find((r) => r.name === `${host}: event handlers`),
      { ok: true },
      `${host}: handlers`,
    );
    t.match(
      results.find((r) => r.name === `${host}: users with an extension`),
      { ok: true, detail: /1/ },
      `${host}: users`,
    );
    t.match(
      results.find((r) => r.name === `${host}: lines`),
      { ok: true },
      `${host}: lines`,
    );
  }
  const report = (await tenantsReport(c)).join('\n');
  t.match(
    report,
    new RegExp(
      `${x.a.url}: installed \\(member [^)]+\\); outbox \\d+ pending, 0 failed\\n  domains: a\\.pbx\\.test\\n  lines: 4951110000`,
    ),
  );
  t.match(
    report,
    new RegExp(`${x.b.url}: installed [^\\n]+\\n  domains: b\\.pbx\\.test\\n  lines: 4952220000\\n  gateways: —`),
  );
  // the lookup asks the portal the domain names; its answer registers the call there
  x.b.state.addCrm({ TYPE: 'CONTACT', ID: 5, NAME: 'Client', PHONES: ['+79031112233'], ASSIGNED_BY_ID: 21 });
  const r = await svc.app.inject({
    method: 'GET',
    url: '/route?caller=%2B79031112233&did=4951110000&domain=b.pbx.test',
  });
  t.equal(r.body, '1002', "B's responsible manager, though the DID is A's: the domain comes first");
});

t.test("the browser install connects the portal `?portal=` names; its tokens go to that portal's store", async (t) => {
  const { Browser } = await import('../../lib/sim/bitrix24/browser.js');
  const x = await two(t);
  const svc = await x.start(byDomain);
  const host = new URL(x.a.url).host;
  const { installLocalApp } = await import('../../lib/sim/bitrix24/authorize.js');
  installLocalApp(x.a, `${svc.url}/bitrix24/oauth/callback`);
  const r = await new Browser().get(`${svc.url}/bitrix24/connect?portal=${host}`);
  t.equal(r.status, 200, r.body);
  t.match(r.body, new RegExp(`Connected to ${host.replace(/\./g, '\\.')}`));
  t.ok(await svc.portals[0]!.store.tokens(), "A's tokens in A's store");
  t.notOk(await svc.portals[1]!.store.tokens(), 'B untouched');
  t.match(await new Browser().get(`${svc.url}/bitrix24/connect?portal=nowhere.test`), {
    status: 404,
    body: /No such portal/,
  });
});
