/**
 * Several instances on one PostgreSQL database (the test harness's throwaway server), each in
 * its own process as `start` runs it, one simulated switch, one emulated portal:
 * - kill -9 of the instance holding the switch (and the portal) under 5 calls/s: the standby
 *   takes over within 5 s, every call lands once (one CALL_ID, one finish), and the portal hears
 *   one instance at a time;
 * - both instances answer events: a click-to-call posted to the standby is placed once on the
 *   switch, by its holder; a repeat posted to both instances places nothing more.
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFreeswitchSim, inboundCall, type FreeswitchSim } from '../../lib/sim/freeswitch/index.js';
import { startBitrix24Emulator, type Bitrix24Emulator, type PortalRequest } from '../../lib/sim/bitrix24/index.js';
import { OFFICE } from '../../lib/demo/stack.js';
import { testDatabase } from '../helpers/pg.js';
import { startInstance, type Instance } from '../helpers/instance.js';
import { ok } from '../helpers/portal.js';

// two services start in their own processes (a few seconds each on a busy machine), then calls run in real time
t.setTimeout(240_000);

interface Rig {
  sim: FreeswitchSim;
  portal: Bitrix24Emulator;
  lease: { switch: string; portal: string };
  start(name: string): Promise<Instance>;
}

async function rig(t: { teardown: (fn: () => unknown) => void }): Promise<Rig> {
  const url = await testDatabase(t);
  const dir = mkdtempSync(join(tmpdir(), 'fsb24-cluster-'));
  // real time: the calls overlap the takeover
  const sim = await startFreeswitchSim({
    recordingsDir: join(dir, 'rec'),
    speed: 1,
    pstn: { '+79161234567': { mode: 'answer', ringMs: 500, talkMs: 1000 } },
  });
  const portal = await startBitrix24Emulator();
  for (const u of OFFICE) portal.state.addUser({ ...u });
  const instances: Instance[] = [];
  t.teardown(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await sim.close();
    await portal.close();
  });
  const env = {
    FSB24_DATABASE_URL: url,
    FSB24_DATA_DIR: join(dir, 'data'),
    FSB24_ESL_HOST: sim.host,
    FSB24_ESL_PORT: String(sim.port),
    FSB24_B24_PORTAL_URL: portal.url,
    FSB24_B24_CLIENT_ID: portal.app.clientId,
    FSB24_B24_CLIENT_SECRET: portal.app.clientSecret,
    FSB24_B24_OAUTH_URL: portal.url,
    FSB24_GATEWAY: 'pstn',
    FSB24_DEFAULT_USER_ID: '1',
    FSB24_CARD_WINDOW_MS: '0',
    FSB24_DIRECTORY_REFRESH_SEC: '0',
    FSB24_RECORDINGS_DIRS: join(dir, 'rec'),
    FSB24_RECORDINGS_STABLE_MS: '0',
  };
  return {
    sim,
    portal,
    lease: { switch: 'switch:default', portal: `portal:${new URL(portal.url).host}` },
    async start(name) {
      const i = await startInstance(name, env);
      instances.push(i);
      return i;
    },
  };
}

/** The first instance takes every lease and the portal installs the application through it. */
async function holderAndStandby(r: Rig): Promise<{ a: Instance; b: Instance }> {
  const a = await r.start('A');
  await a.until((h) => h.includes(r.lease.switch) && h.includes(r.lease.portal));
  const status = await r.portal.install(`${a.url}/bitrix24/events`);
  if (status !== 200) throw new Error(`install: HTTP ${status}`);
  await r.portal.journal.until(() => r.portal.state.handlers.length >= 2, 10_000);
  const b = await r.start('B');
  return { a, b };
}

t.test('kill -9 of the holder under 5 calls/s: takeover within 5 s, every call lands once', async (t) => {
  const r = await rig(t);
  const { a, b } = await holderAndStandby(r);
  t.same(b.holds, [], 'B stands by');
  const { sw } = r.sim;
  const calls: Array<Promise<{ uuid: string }>> = [];
  const place = (i: number): void => {
    calls.push(
      inboundCall(sw, {
        caller: `+7916${String(1000000 + i)}`,
        did: '4951234567',
        extensions: [`100${(i % 4) + 1}`],
        talkMs: 1500,
        record: false,
      }),
    );
  };
  // 5 calls/s: 15 before the kill, 15 after it
  for (let i = 0; i < 15; i++) {
    place(i);
    await sleep(200); // the arrival rate, not a wait for something
  }
  const killedAt = Date.now();
  await a.kill();
  // taken over once the new holder has resynced (its last command before it trusts events)
  const resyncedAt = r.sim.nextCommand('api show calls as json', 10_000).then(() => Date.now());
  for (let i = 15; i < 30; i++) {
    place(i);
    await sleep(200);
  }
  const takeoverMs = (await resyncedAt) - killedAt;
  await b.until((h) => h.includes(r.lease.switch) && h.includes(r.lease.portal));
  const ended = await Promise.all(calls);
  const finishes = (): PortalRequest[] => r.portal.journal.entries.filter(ok('telephony.externalcall.finish'));
  await r.portal.journal.until(() => finishes().length >= ended.length, 30_000);
  const regs = r.portal.journal.entries.filter(ok('telephony.externalcall.register'));
  const callIdsOf = new Map<string, Set<string>>();
  for (const reg of regs) {
    const ext = String(reg.params.EXTERNAL_CALL_ID);
    const set = callIdsOf.get(ext) ?? new Set();
    set.add(String((reg.result as { CALL_ID: string }).CALL_ID));
    callIdsOf.set(ext, set);
  }
  const finished = new Map<string, number>();
  for (const f of finishes()) finished.set(String(f.params.CALL_ID), (finished.get(String(f.params.CALL_ID)) ?? 0) + 1);
  const wrong: string[] = [];
  for (const c of ended) {
    const ids = [...(callIdsOf.get(c.uuid) ?? [])];
    if (ids.length !== 1) wrong.push(`${c.uuid}: ${ids.length} CALL_IDs`);
    else if (finished.get(ids[0]!) !== 1) wrong.push(`${c.uuid}: finished ${finished.get(ids[0]!) ?? 0} times`);
  }
  t.same(wrong, [], 'every call: one CALL_ID in Bitrix24, finished once');
  t.equal(callIdsOf.size, ended.length, 'no call registered that the switch did not have');
  t.ok(takeoverMs <= 5000, `B took the switch over ${takeoverMs} ms after the kill`);
  // the portal heard one instance at a time: A's requests all before B's first
  const byA = r.portal.journal.entries.filter((e) => e.agent?.includes('instance A')).map((e) => e.at);
  const byB = r.portal.journal.entries.filter((e) => e.agent?.includes('instance B')).map((e) => e.at);
  t.ok(byA.length > 0 && byB.length > 0, 'both instances delivered, one after the other');
  t.ok(Math.max(...byA) <= Math.min(...byB), "no request of B's before A's last");
  t.comment(
    `takeover ${takeoverMs} ms; register requests ${regs.length}, finish requests ${finishes().length} ` +
      `for ${ended.length} calls`,
  );
});

t.test('both answer events: a click-to-call posted to the standby is placed once, by the holder', async (t) => {
  const r = await rig(t);
  const { a, b } = await holderAndStandby(r);
  r.portal.journal.clear();
  const { callId, statuses } = await r.portal.clickToCall({
    userId: 11,
    phone: '+79161234567',
    lineNumber: '4951234567',
    // a load balancer: the first delivery to the standby, a repeat to each instance
    to: [`${b.url}/bitrix24/events`, `${b.url}/bitrix24/events`, `${a.url}/bitrix24/events`],
  });
  t.same(statuses, [200, 200, 200], 'any instance answers');
  const cmd = await r.sim.nextCommand('bgapi originate', 15_000);
  t.match(cmd.line, new RegExp(`b24_call_id=${callId.replace(/\./g, '\\.')}.*\\}user/1001 `));
  const fin = await r.portal.journal.next(
    (e) => ok('telephony.externalcall.finish')(e) && e.params.CALL_ID === callId,
    30_000,
  );
  t.match(fin.params, { CALL_ID: callId, USER_ID: 11, STATUS_CODE: '200' });
  t.equal(r.sim.commands.entries.filter((c) => c.line.startsWith('bgapi originate')).length, 1, 'placed once');
  const agents = new Set(r.portal.journal.entries.map((e) => e.agent));
  t.same(
    [...agents],
    ['freeswitch-bitrix24 (instance A)'],
    "every request to the portal came from the portal's holder",
  );
  const hb = await b.health();
  t.match(hb.body, {
    eventSocket: { state: 'standby', holder: 'A' },
    cluster: { instance: 'B', holds: [], holders: { [r.lease.switch]: 'A', [r.lease.portal]: 'A' } },
  });
  t.ok(hb.ok, 'a standby is healthy while a holder is known');
});
