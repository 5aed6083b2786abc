/**
 * Several switches (issue 15, FSB24_SWITCHES): two simulated FreeSWITCH on two ports and
 * one emulated portal. Each switch has its own event socket, registrations and calls; a
 * click-to-call rings the employee on the switch their phone is registered on, else the
 * first whose directory has them, else it is finished 480; one switch down holds nothing
 * of the other.
 */
import t, { type Test } from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compose } from '../../bin/compose.js';
import { standOverrides } from '../../lib/demo/stack.js';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import { startFreeswitchSim, inboundCall, type FreeswitchSim } from '../../lib/sim/freeswitch/index.js';
import { startBitrix24Emulator, type Bitrix24Emulator, type PortalRequest } from '../../lib/sim/bitrix24/index.js';
import type { Runtime } from '../../lib/runtime.js';
import type { Effect } from '../../lib/calls/effects.js';
import { check } from '../../lib/check.js';
import { ok } from '../helpers/portal.js';

const finishOf =
  (callId: string) =>
  (r: PortalRequest): boolean =>
    ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === callId;
const originates = (sim: FreeswitchSim): string[] =>
  sim.commands.entries.filter((c) => c.line.startsWith('bgapi originate')).map((c) => c.line);

interface Two {
  fs1: FreeswitchSim;
  fs2: FreeswitchSim;
  portal: Bitrix24Emulator;
  svc: Runtime;
  rec: string;
  effects: Effect[];
}

/**
 * fs1: 1001 registered, 1003 in its directory but not registered; fs2: 1002 registered.
 * 1004 is on neither. The portal's employees have those extensions.
 */
async function twoSwitches(t: Test): Promise<Two> {
  const dir = mkdtempSync(join(tmpdir(), 'fsb24-switches-'));
  const rec = join(dir, 'rec');
  const pstn = { '+79161234567': { mode: 'answer' as const, ringMs: 1000, talkMs: 7000 } };
  const fs1 = await startFreeswitchSim({
    recordingsDir: rec,
    pstn,
    extensions: { '1001': { ringMs: 1000 }, '1003': { registered: false } },
  });
  const fs2 = await startFreeswitchSim({ recordingsDir: rec, pstn, extensions: { '1002': { ringMs: 1000 } } });
  const portal = await startBitrix24Emulator();
  portal.state.addUser({ ID: 1, NAME: 'Olga', LAST_NAME: 'Admin', UF_PHONE_INNER: '' });
  portal.state.addUser({ ID: 11, NAME: 'Anna', LAST_NAME: 'One', UF_PHONE_INNER: '1001' });
  portal.state.addUser({ ID: 12, NAME: 'Boris', LAST_NAME: 'Two', UF_PHONE_INNER: '1002' });
  portal.state.addUser({ ID: 13, NAME: 'Clara', LAST_NAME: 'One', UF_PHONE_INNER: '1003' });
  portal.state.addUser({ ID: 14, NAME: 'Dmitri', LAST_NAME: 'None', UF_PHONE_INNER: '1004' });
  const config = loadConfig({
    overrides: {
      switches: JSON.stringify([
        { name: 'fs1', host: fs1.host, port: fs1.port, password: 'ClueCon' },
        { name: 'fs2', host: fs2.host, port: fs2.port, password: 'ClueCon' },
      ]),
      ...standOverrides(portal, join(dir, 'data'), rec),
    },
  });
  const svc = compose({ config, log: createLogger('silent'), recordingsStableMs: 0 });
  t.teardown(async () => {
    await svc.stop().catch(() => undefined);
    await fs1.close();
    await fs2.close();
    await portal.close();
  });
  const effects: Effect[] = [];
  svc.portal.onEffect((e) => effects.push(e));
  const ready = svc.switches.map((s) => new Promise<void>((r) => s.listener.once('ready', () => r())));
  await svc.start();
  await Promise.all(ready);
  t.equal(await portal.install(`${svc.url}/bitrix24/events`), 200, 'installed');
  await portal.journal.until(() => portal.state.handlers.length >= 2, 5000);
  await svc.portal.directory.refresh();
  return { fs1, fs2, portal, svc, rec, effects };
}

t.test('calls on both switches land with the right users; each call is recorded on its switch', async (t) => {
  const x = await twoSwitches(t);
  t.same(
    x.svc.switches.map((s) => s.name),
    ['fs1', 'fs2'],
    'one unit per switch, in order',
  );
  const [c1, c2] = await Promise.all([
    inboundCall(x.fs1.sw, { caller: '+79161234567', did: '4951234567', extensions: ['1001'], talkMs: 5000 }),
    inboundCall(x.fs2.sw, { caller: '+79031112233', did: '4951234567', extensions: ['1002'], talkMs: 3000 }),
  ]);
  await x.portal.journal.until(() => x.portal.state.finished.length >= 2, 10_000);
  const registered = x.portal.journal.entries.filter(ok('telephony.externalcall.register'));
  const userOf = (uuid: string): unknown => registered.find((r) => r.params.EXTERNAL_CALL_ID === uuid)?.params.USER_ID;
  t.equal(userOf(c1.uuid), 11, "fs1's call is Anna's");
  t.equal(userOf(c2.uuid), 12, "fs2's call is Boris's");
  const durations = Object.fromEntries(x.portal.state.finished.map((f) => [f.PORTAL_USER_ID, f.CALL_DURATION]));
  t.same(durations, { 11: 5, 12: 3 });
  const on = (uuid: string): unknown =>
    x.effects.find((e) => e.kind === 'register' && e.call === uuid && 'switch' in e && e.switch);
  t.match(on(c1.uuid), { switch: 'fs1' }, 'the register names the switch the call is on');
  t.match(on(c2.uuid), { switch: 'fs2' });
  const health = JSON.parse((await x.svc.app.inject({ method: 'GET', url: '/healthz' })).body) as Record<
    string,
    unknown
  >;
  t.match(health, {
    status: 'ok',
    eventSocket: { state: 'up', up: 2, of: 2 },
    switches: {
      fs1: { connected: true, address: `127.0.0.1:${x.fs1.port}`, liveCalls: 0 },
      fs2: { connected: true, address: `127.0.0.1:${x.fs2.port}`, liveCalls: 0 },
    },
  });
  t.notMatch(JSON.stringify(health), /ClueCon/, 'no password on /healthz');
  const metrics = (await x.svc.app.inject({ method: 'GET', url: '/metrics' })).body;
  for (const name of ['fs1', 'fs2']) {
    t.match(metrics, new RegExp(`fsb24_esl_connected\\{switch="${name}"\\} 1`));
    t.match(metrics, new RegExp(`fsb24_live_calls\\{switch="${name}"\\} 0`));
    t.match(metrics, new RegExp(`fsb24_esl_events_total\\{switch="${name}",name="CHANNEL_CREATE"\\} 2`));
    t.match(metrics, new RegExp(`fsb24_calls_total\\{switch="${name}",direction="incoming",outcome="200"\\} 1`));
  }
});

t.test('a click-to-call rings the employee on the switch their phone is registered on', async (t) => {
  const x = await twoSwitches(t);
  const { callId, statuses } = await x.portal.clickToCall({
    userId: 12,
    phone: '+79161234567',
    lineNumber: '4951234567',
  });
  t.same(statuses, [200]);
  const cmd = await x.fs2.nextCommand('bgapi originate');
  const [a, b] = [...cmd.line.matchAll(/origination_uuid=([0-9a-f-]{36})/g)].map((m) => m[1]);
  t.equal(
    cmd.line,
    `bgapi originate {origination_uuid=${a},origination_caller_id_number=+79161234567,` +
      'origination_caller_id_name=+79161234567,effective_caller_id_number=4951234567,ignore_early_media=true,' +
      `originate_timeout=30,b24_call_id=${callId},b24_kind=click2call,b24_client=+79161234567,` +
      `b24_line=4951234567,execute_on_answer='record_session ${x.rec}/${a}.wav'}user/1002 ` +
      `&bridge({origination_uuid=${b},origination_caller_id_number=4951234567}sofia/gateway/pstn/+79161234567)`,
    'the exact originate, on fs2',
  );
  // the call's events come back from fs2: the finish is the call as fs2 played it
  const fin = await x.portal.journal.next(finishOf(callId));
  t.same(fin.params, { CALL_ID: callId, USER_ID: 12, DURATION: 7, STATUS_CODE: '200', ADD_TO_CHAT: 1 });
  await x.portal.journal.next((r) => ok('telephony.externalcall.attachrecord')(r) && r.params.CALL_ID === callId);
  t.same(originates(x.fs1), [], 'nothing placed on fs1');
  t.ok(
    x.fs1.commands.entries.every((c) => !c.line.includes('user_exists')),
    'registered: no directory asked',
  );
});

t.test('registered nowhere: the first switch whose directory has the user places it; else 480', async (t) => {
  const x = await twoSwitches(t);
  // Clara's 1003 is in fs1's directory only, not registered: fs1 is asked, and says why it failed
  const clara = await x.portal.clickToCall({ userId: 13, phone: '+79161234567' });
  const cmd = await x.fs1.nextCommand('bgapi originate');
  t.match(cmd.line, /\}user\/1003 &bridge\(/);
  const f1 = await x.portal.journal.next(finishOf(clara.callId));
  t.match(f1.params, { USER_ID: 13, STATUS_CODE: '480', FAILED_REASON: "the employee's phone is not registered" });
  t.match(
    x.fs2.commands.entries.map((c) => c.line).slice(-3),
    [/^api show registrations as json$/, /^api global_getvar domain$/, /^api user_exists id 1003 127\.0\.0\.1$/],
    'fs2 was asked: not registered, not in its directory',
  );
  // Dmitri's 1004 is on no switch: finished 480 at once, nothing placed anywhere
  const dmitri = await x.portal.clickToCall({ userId: 14, phone: '+79161234567' });
  const f2 = await x.portal.journal.next(finishOf(dmitri.callId));
  t.same(f2.params, {
    CALL_ID: dmitri.callId,
    USER_ID: 14,
    DURATION: 0,
    STATUS_CODE: '480',
    ADD_TO_CHAT: 1,
    FAILED_REASON: 'extension 1004 is on no switch',
  });
  t.equal(originates(x.fs1).length, 1, "fs1 placed Clara's call only");
  t.same(originates(x.fs2), [], 'fs2 placed nothing');
});

t.test("one switch's socket down: the other's calls keep landing, and its click-to-calls", async (t) => {
  const x = await twoSwitches(t);
  const [fs1] = x.svc.switches;
  const down = new Promise<void>((r) => fs1!.listener.once('down', () => r()));
  await x.fs1.close();
  await down;
  const call = await inboundCall(x.fs2.sw, {
    caller: '+79031112233',
    did: '4951234567',
    extensions: ['1002'],
    talkMs: 4000,
  });
  const fin = await x.portal.journal.next(ok('telephony.externalcall.finish'));
  t.match(fin.params, { USER_ID: 12, DURATION: 4, STATUS_CODE: '200' });
  const reg = x.portal.journal.entries.find(ok('telephony.externalcall.register'));
  t.equal(reg?.params.EXTERNAL_CALL_ID, call.uuid);
  const { callId } = await x.portal.clickToCall({ userId: 12, phone: '+79161234567' });
  await x.fs2.nextCommand('bgapi originate');
  t.match((await x.portal.journal.next(finishOf(callId))).params, { USER_ID: 12, STATUS_CODE: '200' });
  // Clara's phone might be on the deaf switch: the call is finished as the PBX being unreachable
  const clara = await x.portal.clickToCall({ userId: 13, phone: '+79161234567' });
  t.match((await x.portal.journal.next(finishOf(clara.callId))).params, {
    STATUS_CODE: '503',
    FAILED_REASON: 'the PBX is not reachable (switch fs1)',
  });
  const res = await x.svc.app.inject({ method: 'GET', url: '/healthz' });
  t.equal(res.statusCode, 503);
  t.match(JSON.parse(res.body), {
    status: 'degraded',
    eventSocket: { state: 'degraded', up: 1, of: 2, down: 'fs1', lastError: { message: /ECONNREFUSED|closed/ } },
    switches: { fs1: { connected: false }, fs2: { connected: true } },
  });
  const metrics = (await x.svc.app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /fsb24_esl_connected\{switch="fs1"\} 0/);
  t.match(metrics, /fsb24_esl_connected\{switch="fs2"\} 1/);
});

t.test('`check` checks each switch by name; a wrong password says where it is configured', async (t) => {
  const x = await twoSwitches(t);
  const c = x.svc.config;
  const run = (list: Array<{ name: string; port: number; password: string }>) =>
    check({
      overrides: {
        switches: JSON.stringify(list.map((s) => ({ ...s, host: '127.0.0.1' }))),
        dataDir: c.dataDir,
        publicUrl: x.svc.url,
        'b24.portalUrl': c.b24.portalUrl,
        'b24.clientId': c.b24.clientId,
        'b24.clientSecret': c.b24.clientSecret,
        'b24.oauthUrl': c.b24.oauthUrl,
        logLevel: 'silent',
      },
    });
  let results = await run([
    { name: 'fs1', port: x.fs1.port, password: 'ClueCon' },
    { name: 'fs2', port: x.fs2.port, password: 'ClueCon' },
  ]);
  for (const [name, port] of [
    ['fs1', x.fs1.port],
    ['fs2', x.fs2.port],
  ] as const) {
    t.match(
      results.find((r) => r.name === `${name}: event socket`),
      {
        ok: true,
        detail: `127.0.0.1:${port} reachable, password accepted; 0 calls live`,
      },
    );
    t.match(
      results.find((r) => r.name === `${name}: events arriving`),
      { ok: true },
    );
    t.match(
      results.find((r) => r.name === `${name}: registered phones`),
      { ok: true, detail: '1 registered' },
    );
  }
  t.match(
    results.find((r) => r.name === 'registered phones map to users'),
    { ok: true, detail: 'all 2' },
    "both switches' phones",
  );
  results = await run([
    { name: 'fs1', port: x.fs1.port, password: 'wrong-one' },
    { name: 'fs2', port: x.fs2.port, password: 'ClueCon' },
  ]);
  t.match(
    results.find((r) => r.name === 'fs1: event socket'),
    {
      ok: false,
      fix: /its "password" in FSB24_SWITCHES must equal the password in event_socket\.conf\.xml/,
    },
  );
  t.match(
    results.find((r) => r.name === 'fs2: event socket'),
    { ok: true },
  );
  t.notMatch(JSON.stringify(results), /wrong-one/, 'no password in the report');
});
