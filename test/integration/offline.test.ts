/**
 * No public address: the admin's browser connects the portal (OAuth code flow), events are
 * bound offline and pulled; click-to-call and callbacks reach the switch; a crash or a lost
 * reply between the read and the clear loses no click and places no call twice.
 */
import t from 'tap';
import qs from 'qs';
import { stack } from '../helpers/stack.js';
import { Browser } from '../../lib/sim/bitrix24/browser.js';
import { installLocalApp, localApp } from '../../lib/sim/bitrix24/authorize.js';
import { offlineQueue } from '../../lib/sim/bitrix24/offline.js';
import type { Stack } from '../../lib/demo/stack.js';
import { ok } from '../helpers/portal.js';

// recordings by link are asked for, yet offline mode must upload them (the portal cannot reach us)
const OFFLINE = {
  'events.mode': 'offline',
  'events.offlinePollMs': 20,
  'calls.lines': { '4951234567': '4951234567' },
  'recordings.mode': 'url',
};

async function offlineStack(tt: Parameters<typeof stack>[0], opts: Parameters<typeof stack>[1] = {}): Promise<Stack> {
  const s = await stack(tt, { install: false, ...opts, config: { ...OFFLINE, ...opts.config } });
  installLocalApp(s.portal, `${s.service.url}/bitrix24/oauth/callback`);
  return s;
}

async function connect(s: Stack): Promise<{ status: number; body: string; browser: Browser }> {
  const browser = new Browser();
  const r = await browser.get(`${s.service.url}/bitrix24/connect`);
  return { ...r, browser };
}

const originates = (s: Stack): number =>
  s.sim.commands.entries.filter((c) => c.line.startsWith('bgapi originate')).length;

t.test('connect through the browser, bind offline, click-to-call to the exact originate', async (t) => {
  const s = await offlineStack(t);
  const { status, body, browser } = await connect(s);
  t.equal(status, 200, body);
  t.match(
    browser.visited,
    [
      `${s.service.url}/bitrix24/connect`,
      new RegExp(`^${s.portal.url}/oauth/authorize/\\?client_id=${s.portal.app.clientId}&state=[0-9a-f]{48}$`),
      new RegExp(`^${s.service.url}/bitrix24/oauth/callback\\?code=[0-9a-f]+&state=[0-9a-f]{48}&domain=`),
    ],
    'connect → portal → callback',
  );
  t.match(body, /Connected to Bitrix24/);
  t.match(body, /Bound ONEXTERNALCALLSTART, ONEXTERNALCALLBACKSTART as offline events/);
  t.match(body, /Lines registered: 4951234567/);
  const exchange = s.portal.journal.entries.find((r) => r.method === 'oauth.authorize');
  t.ok(exchange, 'the portal saw the authorize request');
  t.same(s.portal.state.handlers.map((h) => [h.event, h.offline]).sort(), [
    ['ONEXTERNALCALLBACKSTART', 1],
    ['ONEXTERNALCALLSTART', 1],
  ]);
  t.ok(await s.service.portal.client.tokens(), 'tokens stored');
  await s.service.portal.directory.refresh();

  const { callId } = await s.portal.clickToCall({ userId: 11, phone: '+79161234567', lineNumber: '4951234567' });
  const cmd = await s.sim.nextCommand('bgapi originate');
  t.match(
    cmd.line,
    new RegExp(
      `^bgapi originate \\{origination_uuid=[0-9a-f-]{36},origination_caller_id_number=\\+79161234567,origination_caller_id_name=\\+79161234567,effective_caller_id_number=4951234567,ignore_early_media=true,originate_timeout=30,b24_call_id=${callId.replace(/\./g, '\\.')},b24_kind=click2call,b24_client=\\+79161234567,b24_line=4951234567,execute_on_answer='record_session [^']+\\.wav'\\}user/1001 &bridge\\(\\{origination_uuid=[0-9a-f-]{36},origination_caller_id_number=4951234567\\}sofia/gateway/pstn/\\+79161234567\\)$`,
    ),
  );
  const get = s.portal.journal.entries.find(
    (r) => ok('event.offline.get')(r) && (r.result as { events: unknown[] }).events.length === 1,
  );
  t.match(get?.params, { clear: 0, limit: 50 }, 'read with clear=0');
  const pid = (get?.result as { process_id: string }).process_id;
  const rec = (get?.result as { events: Array<{ ID: string }> }).events[0]!;
  const clear = await s.portal.journal.next((r) => ok('event.offline.clear')(r));
  t.same(clear.params, { process_id: pid, id: [Number(rec.ID)] }, 'cleared exactly the accepted record');
  const fin = await s.portal.journal.next(
    (r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === callId,
    10_000,
  );
  t.match(fin.params, { CALL_ID: callId, USER_ID: 11, STATUS_CODE: '200' });
  t.equal(offlineQueue(s.portal.state).records.length, 0, 'the queue is empty');
  const att = await s.portal.journal.next(
    (r) => ok('telephony.externalcall.attachrecord')(r) && r.params.CALL_ID === callId,
  );
  t.notOk('RECORD_URL' in att.params, 'offline mode uploads the recording: no RECORD_URL the portal could not reach');
  t.equal(s.portal.state.files.length, 1, 'the file itself reached the portal');
  const h = JSON.parse((await s.service.app.inject({ method: 'GET', url: '/healthz' })).body);
  t.match(h.events, {
    mode: 'offline (clear=0, then clear)',
    failingForSec: 0,
    lastError: null,
    pulled: 1,
    handled: 1,
  });
  const metrics = (await s.service.app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /fsb24_offline_records_pulled_total 1/);
  t.match(metrics, /fsb24_offline_pull_seconds_count\{result="ok"\} \d+/);
});

t.test('a callback request arrives through the queue too; a repeated click is one record and one call', async (t) => {
  const s = await offlineStack(t);
  t.equal((await connect(s)).status, 200);
  await s.service.portal.directory.refresh();
  await s.portal.callbackRequest({ phone: '+79161234567', text: 'Callback from the site', lineNumber: '4951234567' });
  const reg = await s.portal.journal.next(ok('telephony.externalcall.register'));
  t.match(reg.params, { USER_ID: 12, PHONE_NUMBER: '+79161234567', TYPE: 4 });
  t.match(
    (await s.sim.nextCommand('bgapi originate')).line,
    /b24_kind=callback,.*\}user\/1002 &bridge\(\{origination_uuid=[0-9a-f-]{36},origination_caller_id_number=4951234567\}sofia\/gateway\/pstn\/\+79161234567\)$/,
  );
  const { callId } = await s.portal.clickToCall({ userId: 13, phone: '+79161234567', twice: true });
  await s.sim.nextCommand('bgapi originate');
  await s.portal.journal.next((r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === callId, 10_000);
  t.equal(originates(s), 2, 'one callback, one click');
});

t.test('a record that cannot be handled is marked with event.offline.error; nothing reaches the switch', async (t) => {
  const s = await offlineStack(t);
  t.equal((await connect(s)).status, 200);
  const q = offlineQueue(s.portal.state);
  const bad = q.push(
    s.portal.app.id,
    'ONEXTERNALCALLSTART',
    { PHONE_NUMBER: '+7916,1234567', USER_ID: 11, CALL_ID: 'externalCall.x.1' },
    11,
    Date.now(),
  );
  const err = await s.portal.journal.next(ok('event.offline.error'));
  t.match(err.params, { message_id: [bad.MESSAGE_ID] });
  t.match(q.records, [{ ID: bad.ID, ERROR: 1, PROCESS_ID: '' }], 'kept on the portal, marked erroneous');
  t.equal(originates(s), 0);
});

t.test('a crash between the read and the clear: no click lost, no second call', async (t) => {
  const s = await offlineStack(t);
  t.equal((await connect(s)).status, 200);
  await s.service.portal.directory.refresh();
  s.portal.blockedMethods.add('event.offline.clear');
  const { callId } = await s.portal.clickToCall({ userId: 11, phone: '+79161234567' });
  await s.sim.nextCommand('bgapi originate');
  await s.portal.journal.next((r) => r.method === 'event.offline.clear' && r.status === 429);
  await s.stopService(); // the process dies with the batch still reserved on the portal
  const q = offlineQueue(s.portal.state);
  t.match(q.records, [{ PROCESS_ID: /^[0-9a-f]{32}$/ }], 'reserved, hidden from new reads');
  s.portal.blockedMethods.delete('event.offline.clear');
  const mark = s.portal.journal.entries.length;
  await s.restartService();
  await s.portal.journal.until(() => q.records.length === 0, 5000);
  const after = s.portal.journal.entries
    .slice(mark)
    .filter((r) => r.method.startsWith('event.'))
    .map((r) => `${r.method}${r.params.process_id ? ' (process_id)' : ''}`);
  t.match(
    after.slice(0, 3),
    ['event.offline.list', 'event.offline.get (process_id)', 'event.offline.clear (process_id)'],
    'recovered before any new read',
  );
  await s.portal.journal.next((r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === callId, 10_000);
  t.equal(originates(s), 1, 'one call');
});

t.test('a lost reply to the read: the reserved batch is found with event.offline.list and read again', async (t) => {
  const s = await offlineStack(t);
  t.equal((await connect(s)).status, 200);
  await s.service.portal.directory.refresh();
  const q = offlineQueue(s.portal.state);
  q.dropNextGetReply = true;
  const { callId } = await s.portal.clickToCall({ userId: 11, phone: '+79161234567' });
  await s.sim.nextCommand('bgapi originate');
  await s.portal.journal.until(() => q.records.length === 0, 5000);
  const list = s.portal.journal.entries.filter(ok('event.offline.list'));
  t.ok(
    list.some((r) => (r.result as Array<{ PROCESS_ID: string }>).some((x) => x.PROCESS_ID !== '')),
    'the list showed the PROCESS_ID',
  );
  await s.portal.journal.next((r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === callId, 10_000);
  t.equal(originates(s), 1);
});

t.test('without rest_offline_extended: clear=1, and health says what that risks', async (t) => {
  const s = await offlineStack(t);
  offlineQueue(s.portal.state).extended = false;
  t.equal((await connect(s)).status, 200);
  await s.service.portal.directory.refresh();
  await s.portal.journal.next((r) => r.method === 'event.offline.get' && r.error === 'WRONG_LICENSE');
  const { callId } = await s.portal.clickToCall({ userId: 11, phone: '+79161234567' });
  await s.sim.nextCommand('bgapi originate');
  t.ok(
    s.portal.journal.entries.some((r) => ok('event.offline.get')(r) && r.params.clear === 1),
    'pulled with clear=1',
  );
  t.equal(s.portal.journal.entries.filter((r) => r.method === 'event.offline.clear').length, 0);
  const h = JSON.parse((await s.service.app.inject({ method: 'GET', url: '/healthz' })).body);
  t.match(h.events, { mode: 'offline (clear=1 fallback)', warning: /can lose a click/ });
  await s.portal.journal.next((r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === callId, 10_000);
});

t.test('the pull rides in a batch: event.offline.get inside batch', async (t) => {
  const s = await offlineStack(t, { config: { 'events.offlinePollMs': 60_000 } });
  t.equal((await connect(s)).status, 200);
  await s.service.portal.directory.refresh();
  await s.portal.journal.until(() => s.portal.journal.entries.some(ok('event.offline.get')), 5000);
  await s.service.portal.offline!.idle();
  const { callId } = await s.portal.clickToCall({ userId: 11, phone: '+79161234567' });
  const puller = s.service.portal.offline!;
  // the standalone poll is a minute away: only a batch that goes out anyway can pick the click up
  t.equal(puller.piggyback(), null, 'not due yet');
  (puller as unknown as { lastPullAt: number }).lastPullAt = 0;
  const cmd = puller.piggyback();
  t.match(cmd, { key: 'offline_get', method: 'event.offline.get', params: { clear: 0, limit: 50 } });
  const res = await s.service.portal.client.batch({ [cmd!.key]: `${cmd!.method}?${qs.stringify(cmd!.params)}` });
  await puller.onPiggybackResult({ result: res.result[cmd!.key] });
  await s.sim.nextCommand('bgapi originate');
  t.ok(
    s.portal.journal.entries.some((r) => r.batch && r.method === 'event.offline.get'),
    'the read was a batch sub-call',
  );
  await s.portal.journal.next((r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === callId, 10_000);
});

t.test('what the connect page says when it goes wrong', async (t) => {
  const s = await offlineStack(t, { emulator: { scopes: 'telephony' } });
  const r0 = await new Browser().get(`${s.service.url}/bitrix24/oauth/callback?code=x&domain=${s.portal.domain}`);
  t.match(r0, { status: 400, body: /state missing/ });
  const scopes = await connect(s);
  t.match(scopes, { status: 400, body: /scopes missing.*user/s });
  t.notOk(await s.service.portal.client.tokens(), 'nothing stored');
  s.portal.app.scopes = 'telephony,user';
  // another portal: the state and cookie are right, the domain is not
  const b = new Browser();
  const first = await b.get(`${s.service.url}/bitrix24/connect`, 1); // stops at the portal's redirect
  const back = new URL(first.url);
  const original = back.href;
  back.searchParams.set('domain', 'evil.bitrix24.com');
  t.match(await b.get(back.href), { status: 400, body: /another portal.*evil\.bitrix24\.com/s });
  t.match(await b.get(original), { status: 400, body: /state used/ }, 'a state is single use');
  // a code used twice
  const ok1 = await connect(s);
  t.equal(ok1.status, 200);
  const code = new URL(ok1.browser.visited[2]!).searchParams.get('code')!;
  const c2 = new Browser();
  const again = new URL((await c2.get(`${s.service.url}/bitrix24/connect`, 1)).url);
  again.searchParams.set('code', code);
  t.match(await c2.get(again.href), { status: 400, body: /code already used or expired/ });
  // cookie from another browser
  const c3 = new Browser();
  const third = (await c3.get(`${s.service.url}/bitrix24/connect`, 1)).url;
  t.match(await new Browser().get(third), { status: 400, body: /state other-browser/ });
});

t.test('a non-admin connecting: ACCESS_DENIED explained', async (t) => {
  const s = await offlineStack(t);
  localApp(s.portal).browserUserId = 11;
  const r = await connect(s);
  t.equal(r.status, 502);
  t.match(r.body, /ACCESS_DENIED: offline events can only be bound with a portal administrator&#39;s token/);
  t.equal(s.portal.state.handlers.length, 0);
});

t.test('check reports the mode, the offline bindings, the queue and the last pull', async (t) => {
  const s = await offlineStack(t);
  t.equal((await connect(s)).status, 200);
  await s.service.portal.offline!.idle();
  await s.portal.journal.until(() => s.portal.journal.entries.some(ok('event.offline.get')), 5000);
  const c = s.config;
  const { check } = await import('../../lib/check.js');
  const r = await check({
    overrides: {
      'esl.host': c.esl.host,
      'esl.port': c.esl.port,
      dataDir: c.dataDir,
      'b24.portalUrl': c.b24.portalUrl,
      'b24.clientId': c.b24.clientId,
      'b24.clientSecret': c.b24.clientSecret,
      'b24.oauthUrl': c.b24.oauthUrl,
      logLevel: 'silent',
      'events.mode': 'offline',
    },
  });
  t.match(
    r.find((x) => x.name === 'events mode'),
    { ok: true, detail: /^offline/ },
  );
  t.match(
    r.find((x) => x.name === 'event handlers'),
    { ok: true, detail: /bound offline \(event\.get: offline: 1\)/ },
  );
  t.match(
    r.find((x) => x.name === 'offline queue'),
    { ok: true, detail: 'empty' },
  );
  t.match(
    r.find((x) => x.name === 'last pull'),
    { ok: true, detail: /s ago$/ },
  );
});
