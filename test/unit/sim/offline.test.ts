/**
 * The emulator's offline events against the Bitrix24 REST docs (event-bind.md,
 * offline-events.md, event-offline-{get,clear,error,list}.md) and its /oauth/authorize/.
 */
import t, { type Test } from 'tap';
import { startBitrix24Emulator, type Bitrix24Emulator } from '../../../lib/sim/bitrix24/index.js';
import { installLocalApp } from '../../../lib/sim/bitrix24/authorize.js';
import { offlineQueue } from '../../../lib/sim/bitrix24/offline.js';

// replies are checked field by field below
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = Record<string, any>;
type Call = (m: string, p?: unknown, as?: number) => Promise<{ status: number; body: Body }>;

async function setup(t: Test): Promise<{ emu: Bitrix24Emulator; call: Call }> {
  const emu = await startBitrix24Emulator();
  t.teardown(() => emu.close());
  emu.state.addUser({ ID: 1, NAME: 'Admin', IS_ADMIN: true });
  emu.state.addUser({ ID: 11, UF_PHONE_INNER: '1001', IS_ADMIN: false });
  emu.app.installed = true;
  const tokens = new Map<number, string>();
  const call: Call = async (m, p = {}, as = 1) => {
    if (!tokens.has(as)) tokens.set(as, emu.issueTokens(as).access_token);
    const res = await fetch(`${emu.restUrl}${m}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...(p as object), auth: tokens.get(as) }),
    });
    return { status: res.status, body: (await res.json()) as Body };
  };
  return { emu, call };
}

t.test('event.bind offline: administrators only, no handler needed, event.get shows offline: 1', async (t) => {
  const { emu, call } = await setup(t);
  t.match(await call('event.bind', { event: 'ONEXTERNALCALLSTART', event_type: 'offline' }, 11), {
    status: 403,
    body: { error: 'ACCESS_DENIED' },
  });
  t.match(await call('event.bind', { event: 'ONEXTERNALCALLSTART', event_type: 'sometimes' }), {
    status: 400,
    body: { error: 'ERROR_ARGUMENT', error_description: 'Value must be one of {online|offline}' },
  });
  t.match(await call('event.bind', { event: 'onexternalcallstart', event_type: 'offline' }), {
    status: 200,
    body: { result: true },
  });
  t.match(await call('event.bind', { event: 'ONEXTERNALCALLSTART', event_type: 'offline' }), {
    status: 400,
    body: { error_description: 'Unable to set event handler: Handler already binded' },
  });
  t.match(
    await call('event.bind', { event: 'ONEXTERNALCALLSTART', handler: 'https://pbx.example.com/bitrix24/events' }),
    { status: 200 },
  );
  t.same((await call('event.get')).body.result, [
    { event: 'ONEXTERNALCALLSTART', handler: '', auth_type: '0', offline: 1 },
    { event: 'ONEXTERNALCALLSTART', handler: 'https://pbx.example.com/bitrix24/events', auth_type: '0', offline: 0 },
  ]);
  t.same(
    (await call('event.unbind', { event: 'ONEXTERNALCALLSTART', handler: 'https://pbx.example.com/bitrix24/events' }))
      .body.result,
    { count: 1 },
    'online by default',
  );
  t.equal(emu.state.handlers.length, 1);
  const webhook = await fetch(`${emu.webhookUrl}event.offline.get`, { method: 'POST' });
  t.equal(webhook.status, 403, 'a webhook gets WRONG_AUTH_TYPE');
});

t.test('the sender queues for an offline binding; identical unread records merge', async (t) => {
  const { emu, call } = await setup(t);
  await call('event.bind', { event: 'ONEXTERNALCALLSTART', event_type: 'offline' });
  const { callId, statuses } = await emu.clickToCall({ userId: 11, phone: '+79161234567', twice: true });
  t.same(statuses, [200, 200], 'nothing is POSTed anywhere');
  const list = await call('event.offline.list');
  t.equal(list.body.total, 1, 'the repeat merged into the unread record');
  t.match(list.body.result, [
    {
      ID: '1',
      EVENT_NAME: 'ONEXTERNALCALLSTART',
      MESSAGE_ID: /^[0-9a-f]{32}$/,
      PROCESS_ID: '',
      ERROR: '0',
      EVENT_ADDITIONAL: { user_id: '11' },
      EVENT_DATA: { CALL_ID: callId, USER_ID: 11, PHONE_NUMBER: '+79161234567' },
    },
  ]);
  t.match(list.body.result[0].TIMESTAMP_X, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
});

t.test(
  'get clear=0 reserves under a process_id; hidden until that process_id is used; clear by id; error',
  async (t) => {
    const { emu, call } = await setup(t);
    await call('event.bind', { event: 'ONEXTERNALCALLSTART', event_type: 'offline' });
    for (const phone of ['+79160000001', '+79160000002', '+79160000003']) await emu.clickToCall({ userId: 11, phone });
    const first = await call('event.offline.get', { clear: 0, limit: 2 });
    const pid = first.body.result.process_id as string;
    t.match(pid, /^[0-9a-f]{32}$/);
    t.same(
      first.body.result.events.map((e: Body) => e.ID),
      ['1', '2'],
    );
    t.same(Object.keys(first.body.result.events[0]).sort(), [
      'EVENT_ADDITIONAL',
      'EVENT_DATA',
      'EVENT_NAME',
      'ID',
      'MESSAGE_ID',
      'TIMESTAMP_X',
    ]);
    const second = await call('event.offline.get', { clear: 0 });
    t.same(
      second.body.result.events.map((e: Body) => e.ID),
      ['3'],
      'reserved records are hidden from a new read',
    );
    t.same(
      (await call('event.offline.list', { filter: { PROCESS_ID: pid } })).body.result.map((e: Body) => e.ID),
      ['1', '2'],
      'list shows PROCESS_ID',
    );
    const again = await call('event.offline.get', { clear: 0, process_id: pid });
    t.same(again.body.result, { process_id: pid, events: first.body.result.events }, 'read again with the process_id');
    t.match(await call('event.offline.clear', {}), {
      status: 400,
      body: { error_description: "Argument 'PROCESS_ID' is null or empty" },
    });
    t.match(await call('event.offline.clear', { process_id: pid, id: [0] }), {
      status: 400,
      body: { error_description: 'Value must be array of integers' },
    });
    t.match(await call('event.offline.clear', { process_id: pid, message_id: ['short'] }), {
      status: 400,
      body: { error_description: 'Value must be array of MESSAGE_ID values' },
    });
    t.match(await call('event.offline.clear', { process_id: pid, id: [1] }), { status: 200, body: { result: true } });
    t.match(
      await call('event.offline.error', { process_id: pid, message_id: [first.body.result.events[1].MESSAGE_ID] }),
      { body: { result: true } },
    );
    const rest = (await call('event.offline.list')).body.result;
    t.match(rest, [
      { ID: '2', ERROR: '1', PROCESS_ID: '' },
      { ID: '3', PROCESS_ID: second.body.result.process_id },
    ]);
    t.same(
      (await call('event.offline.get', { error: 1 })).body.result.events.map((e: Body) => e.ID),
      ['2'],
      'error=1 returns the erroneous ones (and clears them)',
    );
    t.equal((await call('event.offline.list')).body.total, 1);
  },
);

t.test('get parameters: filter, order, limit, clear=1 default, WRONG_LICENSE; inside a batch', async (t) => {
  const { emu, call } = await setup(t);
  await call('event.bind', { event: 'ONEXTERNALCALLSTART', event_type: 'offline' });
  await call('event.bind', { event: 'ONEXTERNALCALLBACKSTART', event_type: 'offline' });
  await emu.clickToCall({ userId: 11, phone: '+79160000001' });
  await emu.callbackRequest({ phone: '+79160000002' });
  await emu.clickToCall({ userId: 11, phone: '+79160000003' });
  t.match(await call('event.offline.get', { limit: 0 }), {
    status: 400,
    body: { error_description: 'Value must be positive integer' },
  });
  t.match(await call('event.offline.get', { filter: { '!ID': 1 } }), {
    status: 400,
    body: { error_description: 'Filter operation not allowed: !' },
  });
  t.match(await call('event.offline.get', { filter: { PROCESS_ID: 'x' } }), {
    status: 400,
    body: { error_description: 'Filter field not allowed: PROCESS_ID' },
  });
  t.match(await call('event.offline.get', { order: { ID: 'UP' } }), {
    status: 400,
    body: { error_description: 'Order direction should be one of {ASC|DESC}' },
  });
  const cb = await call('event.offline.get', { clear: 0, filter: { '=EVENT_NAME': 'ONEXTERNALCALLBACKSTART' } });
  t.match(cb.body.result.events, [
    { ID: '2', EVENT_ADDITIONAL: { user_id: '0' }, EVENT_DATA: { PHONE_NUMBER: '+79160000002' } },
  ]);
  const desc = await call('event.offline.get', { order: { ID: 'DESC' }, limit: 1 });
  t.same(desc.body.result, { process_id: null, events: [desc.body.result.events[0]] });
  t.equal(desc.body.result.events[0].ID, '3', 'clear=1 by default: returned and deleted');
  const batch = await call('batch', {
    halt: 0,
    cmd: { a: 'event.offline.get?clear=1&limit=5', b: `event.offline.clear?process_id=${cb.body.result.process_id}` },
  });
  t.match(batch.body.result.result, { a: { process_id: null, events: [{ ID: '1' }] }, b: true });
  t.equal(offlineQueue(emu.state).records.length, 0);
  offlineQueue(emu.state).extended = false;
  t.match(await call('event.offline.get', { clear: 0 }), {
    status: 403,
    body: {
      error: 'WRONG_LICENSE',
      error_description: 'This feature is not enabled for the current license: extended offline events handling',
    },
  });
  t.match(
    await call('event.offline.get', {}, 11),
    { status: 403, body: { error: 'ACCESS_DENIED' } },
    'administrators only',
  );
});

t.test('/oauth/authorize/: a 30-second single-use code, state passed through', async (t) => {
  let now = 1_800_000_000_000;
  const emu = await startBitrix24Emulator({ now: () => now });
  t.teardown(() => emu.close());
  const authorize = (q: string): Promise<Response> => fetch(`${emu.url}/oauth/authorize/?${q}`, { redirect: 'manual' });
  t.equal((await authorize(`client_id=${emu.app.clientId}&state=s1`)).status, 400, 'not installed');
  installLocalApp(emu, 'https://pbx.lan/bitrix24/oauth/callback');
  t.equal((await authorize('client_id=other&state=s1')).status, 400, 'unknown client_id');
  const res = await authorize(`client_id=${emu.app.clientId}&state=s1`);
  t.equal(res.status, 302);
  const to = new URL(res.headers.get('location')!);
  t.equal(`${to.origin}${to.pathname}`, 'https://pbx.lan/bitrix24/oauth/callback');
  t.same([...to.searchParams.keys()], ['code', 'state', 'domain', 'member_id', 'scope', 'server_domain']);
  t.match(Object.fromEntries(to.searchParams), {
    state: 's1',
    domain: emu.domain,
    member_id: emu.app.memberId,
    scope: 'telephony,user',
  });
  const exchange = (code: string): Promise<Response> =>
    fetch(
      `${emu.url}/oauth/token/?grant_type=authorization_code&client_id=${emu.app.clientId}&client_secret=${emu.app.clientSecret}&code=${code}`,
    );
  const tokens = (await (await exchange(to.searchParams.get('code')!)).json()) as Body;
  t.match(tokens, { access_token: /./, refresh_token: /./, client_endpoint: emu.restUrl, member_id: emu.app.memberId });
  t.match(await (await exchange(to.searchParams.get('code')!)).json(), { error: 'invalid_grant' }, 'single use');
  const late = new URL((await authorize(`client_id=${emu.app.clientId}`)).headers.get('location')!);
  t.notOk(late.searchParams.has('state'));
  now += 30_001;
  t.match(
    await (await exchange(late.searchParams.get('code')!)).json(),
    { error: 'invalid_grant' },
    'expired after 30 s',
  );
});
