/** The portal emulator against bitrix24-telephony.md: success and error cases per method. */
import t, { type Test } from 'tap';

// REST replies are checked field by field below, so the body stays loosely typed here
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the replies' shapes are what the test checks
type Body = Record<string, any>;
import { startBitrix24Emulator, type Bitrix24Emulator } from '../../../lib/sim/bitrix24/index.js';

async function setup(
  t: Test,
  opts: Parameters<typeof startBitrix24Emulator>[0] = {},
): Promise<{
  emu: Bitrix24Emulator;
  call: (m: string, p?: unknown) => Promise<{ status: number; body: Body }>;
  token: string;
}> {
  const emu = await startBitrix24Emulator(opts);
  t.teardown(() => emu.close());
  emu.state.addUser({ ID: 1, UF_PHONE_INNER: '1001', NAME: 'Anna' });
  emu.state.addUser({ ID: 2, UF_PHONE_INNER: '1002', NAME: 'Boris' });
  emu.state.addUser({ ID: 3, UF_PHONE_INNER: '', NAME: 'NoExt' });
  emu.state.addUser({ ID: 4, UF_PHONE_INNER: '1004', ACTIVE: false });
  emu.state.addCrm({ TYPE: 'CONTACT', ID: 797, PHONES: ['+79161234567'], ASSIGNED_BY_ID: 2, NAME: 'John Doe' });
  const tokens = emu.issueTokens(1);
  emu.app.installed = true;
  const call = async (m: string, p: unknown = {}): Promise<{ status: number; body: Body }> => {
    const res = await fetch(`${emu.restUrl}${m}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...(p as object), auth: tokens.access_token }),
    });
    return { status: res.status, body: (await res.json()) as Body };
  };
  return { emu, call, token: tokens.access_token };
}

t.test('register: validation order and exact texts', async (t) => {
  const { call } = await setup(t);
  const err = async (p: unknown): Promise<string> =>
    (await call('telephony.externalcall.register', p)).body.error_description;
  t.equal(await err({ PHONE_NUMBER: '1', TYPE: 2 }), 'USER_ID or USER_PHONE_INNER should be set');
  t.equal(
    await err({ USER_PHONE_INNER: '9999', PHONE_NUMBER: '1', TYPE: 2 }),
    'USER_ID or USER_PHONE_INNER should be set',
  );
  t.equal(await err({ USER_ID: 1, PHONE_NUMBER: '1', TYPE: 9 }), 'Unknown TYPE');
  t.equal(
    await err({ USER_ID: 1, PHONE_NUMBER: '1', TYPE: 2, CALL_START_DATE: '2026-01-01 10:00' }),
    'CALL_START_DATE should be in the ISO-8601 format',
  );
  t.equal(await err({ USER_ID: 1, PHONE_NUMBER: 'abc', TYPE: 2 }), 'Unsupported phone number format');
  t.equal(await err({ USER_ID: 77, PHONE_NUMBER: '123', TYPE: 2 }), 'User is not found or is not active');
  t.equal(await err({ USER_ID: 4, PHONE_NUMBER: '123', TYPE: 2 }), 'User is not found or is not active');
  const bad = await call('telephony.externalcall.register', { USER_ID: 1, PHONE_NUMBER: 'abc', TYPE: 2 });
  t.equal(bad.status, 400);
  t.equal(bad.body.error, 'ERROR_CORE');
});

t.test('register → finish → attachRecord, with dedup, CRM binding and card state', async (t) => {
  const { emu, call } = await setup(t);
  const p = {
    USER_PHONE_INNER: '1001',
    PHONE_NUMBER: '+79161234567',
    TYPE: 2,
    LINE_NUMBER: '4951234567',
    EXTERNAL_CALL_ID: 'u-1',
    SHOW: 1,
  };
  const r1 = await call('telephony.externalCall.register.json', p);
  t.equal(r1.status, 200);
  t.match(r1.body.result.CALL_ID, /^externalCall\.[0-9a-f]{32}\.\d+$/);
  t.equal(r1.body.result.CRM_ENTITY_TYPE, 'CONTACT');
  t.same(emu.state.cardUsers(r1.body.result.CALL_ID), [1]);
  const r2 = await call('telephony.externalcall.register', p);
  t.equal(r2.body.result.CALL_ID, r1.body.result.CALL_ID, 'same EXTERNAL_CALL_ID within 30 min → same call');
  const r3 = await call('telephony.externalcall.register', { ...p, EXTERNAL_CALL_ID: 'u-2' });
  t.not(r3.body.result.CALL_ID, r1.body.result.CALL_ID);
  const callId = r1.body.result.CALL_ID as string;
  t.equal((await call('telephony.externalcall.show', { CALL_ID: callId, USER_ID: [2, 3] })).body.result, true);
  t.same(emu.state.cardUsers(callId), [1, 2, 3]);
  await call('telephony.externalcall.hide', { CALL_ID: callId, USER_ID: [1, 3] });
  t.same(emu.state.cardUsers(callId), [2]);
  const early = await call('telephony.externalCall.attachRecord', {
    CALL_ID: callId,
    FILENAME: 'a.wav',
    FILE_CONTENT: 'UklGRg==',
  });
  t.equal(early.body.error_description, 'Call is not found in the statistic table. Looks like it is not finished yet.');
  t.equal((await call('telephony.externalcall.finish', { CALL_ID: 123, USER_ID: 1 })).body.error, 'INVALID_ARGUMENT');
  const fin = await call('telephony.externalcall.finish', {
    CALL_ID: callId,
    USER_ID: 2,
    DURATION: 63,
    STATUS_CODE: '200',
    ADD_TO_CHAT: 0,
  });
  t.equal(fin.body.result.INCOMING, '2');
  t.equal(fin.body.result.CALL_FAILED_CODE, '200');
  t.same(fin.body.result.CALL_START_DATE, {});
  t.equal(fin.body.result.PORTAL_NUMBER, '4951234567');
  t.same(emu.state.cardUsers(callId), [], 'finish hides the card');
  const again = await call('telephony.externalcall.finish', { CALL_ID: callId, USER_ID: 2 });
  t.equal(again.body.error_description, 'Call is not found (call should be registered prior to finishing');
  t.equal((await call('telephony.externalcall.show', { CALL_ID: callId })).body.result, false);
  const wrongExt = await call('telephony.externalCall.attachRecord', {
    CALL_ID: callId,
    FILENAME: 'a.ogg',
    FILE_CONTENT: 'UklGRg==',
  });
  t.equal(wrongExt.body.error_description, 'Wrong file extension. Only wav and mp3 are allowed');
  const notB64 = await call('telephony.externalCall.attachRecord', {
    CALL_ID: callId,
    FILENAME: 'a.wav',
    FILE_CONTENT: '***',
  });
  t.equal(notB64.body.error_description, 'File content is not properly encoded. Base64 encoding is expected.');
  const ok = await call('telephony.externalCall.attachRecord', {
    CALL_ID: callId,
    FILENAME: 'a.wav',
    FILE_CONTENT: Buffer.from('RIFFdata').toString('base64'),
  });
  t.type(ok.body.result.FILE_ID, 'number');
  t.equal(emu.state.files[0]?.bytes.toString(), 'RIFFdata');
  // two-step upload
  const step1 = await call('telephony.externalCall.attachRecord', { CALL_ID: callId, FILENAME: 'b.wav' });
  t.equal(step1.body.result.fieldName, 'file');
  const form = new FormData();
  form.append('file', new Blob([Buffer.from('WAVEBYTES')]), 'b.wav');
  const up = await fetch(step1.body.result.uploadUrl, { method: 'POST', body: form });
  t.equal(up.status, 200);
  t.equal(emu.state.files.at(-1)?.bytes.toString(), 'WAVEBYTES');
  t.equal(emu.state.files.at(-1)?.via, 'upload');
});

t.test('auth: wrong token, expired token, rotating refresh tokens', async (t) => {
  const { emu, call } = await setup(t);
  const res = await fetch(`${emu.restUrl}user.get?auth=nope`);
  t.equal(res.status, 401);
  t.equal(((await res.json()) as { error: string }).error, 'NO_AUTH_FOUND');
  const pair = emu.issueTokens(1);
  emu.expireTokens();
  const expired = await call('user.get');
  t.equal(expired.status, 401);
  t.equal(expired.body.error, 'expired_token');
  const q = (rt: string): string =>
    `${emu.url}/oauth/token/?grant_type=refresh_token&client_id=${emu.app.clientId}&client_secret=${emu.app.clientSecret}&refresh_token=${rt}`;
  const fresh = (await (await fetch(q(pair.refresh_token))).json()) as { access_token: string; refresh_token: string };
  t.not(fresh.refresh_token, pair.refresh_token);
  const reuse = await fetch(q(pair.refresh_token));
  t.equal(reuse.status, 400);
  t.equal(((await reuse.json()) as { error: string }).error, 'invalid_grant');
  const works = await fetch(`${emu.restUrl}user.get?auth=${fresh.access_token}`);
  t.equal(works.status, 200);
});

t.test('webhooks: register refused by default, allowed by the switch; form bodies', async (t) => {
  const { emu } = await setup(t);
  const form = 'USER_ID=1&PHONE_NUMBER=%2B79161234567&TYPE=2';
  const post = (): Promise<Response> =>
    fetch(`${emu.webhookUrl}telephony.externalcall.register.json`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
  const refused = await post();
  t.equal(refused.status, 403);
  t.equal(((await refused.json()) as { error: string }).error, 'WRONG_AUTH_TYPE');
  emu.webhookAllowedForRegister = true;
  t.equal((await post()).status, 200);
  const show = await fetch(`${emu.webhookUrl}telephony.externalcall.show`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'CALL_ID=x&USER_ID[]=1&USER_ID[]=2',
  });
  t.equal(((await show.json()) as { result: boolean }).result, false);
  const bad = await fetch(`${emu.url}/rest/1/wrong/user.get`);
  t.equal(bad.status, 401);
});

t.test('leaky bucket on a fake clock: burst, 503, drain', async (t) => {
  let now = 1_000_000;
  const { emu, call } = await setup(t, { burst: 5, drainPerSec: 2, now: () => now });
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) statuses.push((await call('user.get')).status);
  t.same(statuses, [200, 200, 200, 200, 200, 503, 503]);
  const limited = await call('user.get');
  t.equal(limited.body.error, 'QUERY_LIMIT_EXCEEDED');
  now += 1000; // drains 2
  t.equal((await call('user.get')).status, 200);
  t.equal((await call('user.get')).status, 200);
  t.equal((await call('user.get')).status, 503);
  const { admitted, refused, peak } = emu.bucket;
  t.same({ admitted, refused, peak }, { admitted: 7, refused: 4, peak: 5 }, 'its counters say so');
});

t.test('operation time limit, unknown method, outages', async (t) => {
  const { emu, call } = await setup(t);
  emu.blockedMethods.add('telephony.externalcall.register');
  const r = await call('telephony.externalcall.register', { USER_ID: 1, PHONE_NUMBER: '1', TYPE: 2 });
  t.equal(r.status, 429);
  t.equal(r.body.error, 'OPERATION_TIME_LIMIT');
  t.equal((await call('user.get')).status, 200, 'other methods keep working');
  const nf = await call('no.such.method');
  t.equal(nf.status, 404);
  t.equal(nf.body.error, 'ERROR_METHOD_NOT_FOUND');
  emu.setOutage('http500');
  t.equal((await call('user.get')).status, 500);
  emu.setOutage('reset');
  await t.rejects(call('user.get'));
  emu.setOutage('none');
  t.equal((await call('user.get')).status, 200);
});

t.test('batch: references, errors, empty maps as [], 50 cap', async (t) => {
  const { call } = await setup(t);
  const b = await call('batch', {
    halt: 0,
    cmd: {
      reg: 'telephony.externalcall.register?USER_ID=1&PHONE_NUMBER=%2B1555&TYPE=2&EXTERNAL_CALL_ID=x1',
      fin: 'telephony.externalcall.finish?CALL_ID=$result[reg][CALL_ID]&USER_ID=1&DURATION=5',
      bad: 'telephony.externalcall.register?USER_ID=1&TYPE=2',
    },
  });
  t.equal(b.status, 200);
  t.equal(b.body.result.result.fin.CALL_ID, b.body.result.result.reg.CALL_ID);
  t.equal(b.body.result.result_error.bad.error_description, 'Unsupported phone number format');
  t.same(b.body.result.result_total, []);
  const cmd: Record<string, string> = {};
  for (let i = 0; i < 51; i++) cmd[`k${i}`] = 'user.get';
  const big = await call('batch', { cmd });
  t.equal(big.body.result.result_error.k50.error, 'ERROR_BATCH_LENGTH_EXCEEDED');
  const halted = await call('batch', { halt: 1, cmd: { a: 'no.such', b: 'user.get' } });
  t.equal(halted.body.result.result_error.a.error, 'ERROR_METHOD_NOT_FOUND');
  t.same(halted.body.result.result, []);
});

t.test('user.get pages of 50; lines; event.bind duplicates', async (t) => {
  const { emu, call } = await setup(t);
  for (let i = 10; i < 70; i++) emu.state.addUser({ ID: i, UF_PHONE_INNER: String(2000 + i) });
  const p1 = await call('user.get', { FILTER: { ACTIVE: true } });
  t.equal(p1.body.result.length, 50);
  t.equal(p1.body.total, 63);
  t.equal(p1.body.next, 50);
  const p2 = await call('user.get', { FILTER: { ACTIVE: true }, start: 50 });
  t.equal(p2.body.result.length, 13);
  t.equal(p2.body.next, undefined);
  t.type(p2.body.result[0].ID, 'string');
  t.same((await call('telephony.externalLine.add', { NUMBER: '4951234567', NAME: 'Main' })).body.result, { ID: 1 });
  t.equal(
    (await call('telephony.externalLine.add', { NUMBER: '4951234567' })).body.error_description,
    'Line already exists',
  );
  t.equal(
    (await call('telephony.externalLine.update', { NUMBER: '4951234567' })).body.error_description,
    'There are no fields to update',
  );
  t.same((await call('telephony.externalLine.get')).body.result, [
    { NUMBER: '4951234567', NAME: 'Main', CRM_AUTO_CREATE: 'Y' },
  ]);
  const bind = { event: 'onExternalCallStart', handler: 'http://svc.example.test/bitrix24/events' };
  t.equal((await call('event.bind', bind)).body.result, true);
  t.equal(
    (await call('event.bind', bind)).body.error_description,
    'Unable to set event handler: Handler already binded',
  );
  t.equal((await call('event.bind', { ...bind, handler: 'http://localhost/x' })).body.error, 'ERROR_WRONG_HANDLER_URL');
  t.same((await call('event.get')).body.result, [
    { event: 'ONEXTERNALCALLSTART', handler: bind.handler, auth_type: '0', offline: 0 },
  ]);
});

t.test('event.unbind removes what matches every parameter given, online or offline, and counts it', async (t) => {
  const { call } = await setup(t);
  const a = 'https://a.example.test/bitrix24/events';
  const b = 'https://b.example.test/bitrix24/events';
  for (const [event, handler] of [
    ['ONEXTERNALCALLSTART', a],
    ['ONEXTERNALCALLBACKSTART', a],
    ['ONEXTERNALCALLSTART', b],
  ])
    await call('event.bind', { event, handler });
  await call('event.bind', { event: 'ONEXTERNALCALLSTART', handler: a, auth_type: 11 });
  t.same(
    (await call('event.unbind', { event: 'ONEXTERNALCALLSTART', handler: a, auth_type: 0 })).body.result,
    { count: 1 },
    'auth_type 0: only the one bound without a user',
  );
  t.same(
    (await call('event.unbind', { event: 'onexternalcallstart', handler: a })).body.result,
    { count: 1 },
    'case-insensitive event; any auth_type',
  );
  t.same(
    (await call('event.unbind', { handler: a, event_type: 'offline' })).body.result,
    { count: 0 },
    'offline: online handlers are not touched',
  );
  t.equal((await call('event.unbind', { handler: a, event_type: 'sometimes' })).body.error, 'ERROR_ARGUMENT');
  t.same((await call('event.unbind', { handler: a })).body.result, { count: 1 });
  t.same(
    (await call('event.get')).body.result.map((h: { handler: string }) => h.handler),
    [b],
  );
});

t.test('searchCrmEntities', async (t) => {
  const { call } = await setup(t);
  t.equal((await call('telephony.externalCall.searchCrmEntities', {})).body.error_description, 'PHONE_NUMBER is empty');
  const r = await call('telephony.externalCall.searchCrmEntities', { PHONE_NUMBER: '79161234567' });
  t.equal(r.body.result[0].ASSIGNED_BY.ID, '2');
  t.equal(r.body.result[0].ASSIGNED_BY.USER_PHONE_INNER, '1002');
  t.same((await call('telephony.externalCall.searchCrmEntities', { PHONE_NUMBER: '111' })).body.result, []);
});
