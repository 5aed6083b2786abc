/**
 * Click-to-call and callback end to end: the portal delivers the event over HTTP, the
 * switch receives the exact bgapi originate, plays the legs, the portal sees the
 * finish of the same CALL_ID. Bad input gets a 400 and no command.
 */
import t from 'tap';
import { stack } from '../helpers/stack.js';
import type { PortalRequest } from '../../lib/sim/bitrix24/index.js';
import { ok } from '../helpers/portal.js';

t.test('click-to-call: employee answers, client answers, finish of the same CALL_ID', async (t) => {
  const s = await stack(t, { sim: { pstn: { '+79161234567': { mode: 'answer', ringMs: 1000, talkMs: 9000 } } } });
  const { callId, statuses } = await s.portal.clickToCall({
    userId: 11,
    phone: '+79161234567',
    lineNumber: '4951234567',
  });
  t.same(statuses, [200]);
  const cmd = await s.sim.nextCommand('bgapi originate');
  t.match(
    cmd.line,
    new RegExp(
      `^bgapi originate \\{origination_uuid=[0-9a-f-]{36},origination_caller_id_number=\\+79161234567,origination_caller_id_name=\\+79161234567,effective_caller_id_number=4951234567,ignore_early_media=true,originate_timeout=30,b24_call_id=${callId.replace(/\./g, '\\.')},b24_kind=click2call,b24_client=\\+79161234567,b24_line=4951234567,execute_on_answer='record_session [^']+/[0-9a-f-]{36}\\.wav'\\}user/1001 &bridge\\(\\{origination_uuid=[0-9a-f-]{36},origination_caller_id_number=4951234567\\}sofia/gateway/pstn/\\+79161234567\\)$`,
    ),
  );
  t.match(cmd.headers, [['Job-UUID', /^[0-9a-f-]{36}$/]], 'our own Job-UUID');
  const fin = await s.portal.journal.next(ok('telephony.externalcall.finish'));
  t.same(fin.params, { CALL_ID: callId, USER_ID: 11, DURATION: 9, STATUS_CODE: '200', ADD_TO_CHAT: 1 });
  t.equal(s.portal.journal.entries.filter(ok('telephony.externalcall.register')).length, 0, 'never registered again');
  const shown = s.portal.journal.entries.find(ok('telephony.externalcall.show'));
  t.match(shown?.params, { CALL_ID: callId, USER_ID: [11] }, 'the card is shown to the employee');
});

t.test('a repeated ONEXTERNALCALLSTART places no second call', async (t) => {
  const s = await stack(t);
  const { callId } = await s.portal.clickToCall({ userId: 11, phone: '+79161234567', twice: true });
  await s.sim.nextCommand('bgapi originate');
  await s.portal.journal.next((r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === callId);
  t.equal(s.sim.commands.entries.filter((c) => c.line.startsWith('bgapi originate')).length, 1);
});

t.test('failures end the Bitrix24 call honestly', async (t) => {
  const s = await stack(t, { sim: { pstn: { '+79990000000': { mode: 'busy' } } } });
  s.sim.sw.setExtension('1002', { registered: false });
  const c1 = await s.portal.clickToCall({ userId: 12, phone: '+79161234567' });
  const f1 = await s.portal.journal.next(
    (r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === c1.callId,
  );
  t.match(f1.params, {
    USER_ID: 12,
    DURATION: 0,
    STATUS_CODE: '480',
    FAILED_REASON: "the employee's phone is not registered",
  });
  s.sim.sw.setExtension('1003', { mode: 'noanswer' });
  const c2 = await s.portal.clickToCall({ userId: 13, phone: '+79161234567' });
  const f2 = await s.portal.journal.next(
    (r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === c2.callId,
    10_000,
  );
  t.match(f2.params, { USER_ID: 13, DURATION: 0, STATUS_CODE: '480' });
  const c3 = await s.portal.clickToCall({ userId: 11, phone: '+79990000000' });
  const f3 = await s.portal.journal.next(
    (r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === c3.callId,
  );
  t.match(f3.params, { USER_ID: 11, DURATION: 0, STATUS_CODE: '486' });
  const c4 = await s.portal.clickToCall({ userId: 1, phone: '+79161234567' });
  const f4 = await s.portal.journal.next(
    (r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === c4.callId,
  );
  t.match(f4.params, { STATUS_CODE: '480', FAILED_REASON: 'the employee has no internal number' });
});

t.test('a refused click-to-call is finished in Bitrix24 with the reason, once', async (t) => {
  const s = await stack(t);
  s.portal.state.addUser({ ID: 15, NAME: 'Eva', LAST_NAME: 'New', UF_PHONE_INNER: '' });
  const finishOf =
    (callId: string) =>
    (r: PortalRequest): boolean =>
      ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === callId;
  // a number the whitelist refuses: 400 to the event, and the call Bitrix24 opened is closed
  const bad = await s.portal.clickToCall({ userId: 11, phone: '+7916,1234567', twice: true });
  t.same(bad.statuses, [400, 400]);
  const f1 = await s.portal.journal.next(finishOf(bad.callId));
  t.match(f1.params, {
    USER_ID: 11,
    DURATION: 0,
    STATUS_CODE: '484',
    FAILED_REASON: /refused the call: data\[PHONE_NUMBER\]/,
  });
  // a user the connector knows no extension for (not in its directory), and one without an extension
  const unknown = await s.portal.clickToCall({ userId: 15, phone: '+79161234567', twice: true });
  const f2 = await s.portal.journal.next(finishOf(unknown.callId));
  t.match(
    f2.params,
    { USER_ID: 15, STATUS_CODE: '480', FAILED_REASON: 'the employee has no internal number' },
    'finished for the user who clicked',
  );
  const noExt = await s.portal.clickToCall({ userId: 1, phone: '+79161234567' });
  t.match((await s.portal.journal.next(finishOf(noExt.callId))).params, { USER_ID: 1, STATUS_CODE: '480' });
  await s.service.portal.outbox.idle();
  for (const c of [bad.callId, unknown.callId, noExt.callId]) {
    t.notOk(s.portal.state.active.has(c), `${c} is not left open`);
    t.equal(s.portal.journal.entries.filter(finishOf(c)).length, 1, `${c} finished once`);
  }
  t.equal(s.sim.commands.entries.filter((c) => c.line.startsWith('bgapi originate')).length, 0, 'nothing was dialled');
});

t.test('callback: TYPE 4 register with the responsible manager, then the call', async (t) => {
  const s = await stack(t);
  const statuses = await s.portal.callbackRequest({
    phone: '+79161234567',
    text: 'Callback from the site',
    lineNumber: '4951234567',
    crmEntityType: 'CONTACT',
    crmEntityId: 797,
  });
  t.same(statuses, [200]);
  const reg = await s.portal.journal.next(ok('telephony.externalcall.register'));
  t.match(reg.params, {
    USER_ID: 12,
    PHONE_NUMBER: '+79161234567',
    TYPE: 4,
    LINE_NUMBER: '4951234567',
    CRM_ENTITY_TYPE: 'CONTACT',
    CRM_ENTITY_ID: 797,
  });
  const callId = (reg.result as { CALL_ID: string }).CALL_ID;
  const cmd = await s.sim.nextCommand('bgapi originate');
  t.match(
    cmd.line,
    /\}user\/1002 &bridge\(\{origination_uuid=[0-9a-f-]{36},origination_caller_id_number=4951234567\}sofia\/gateway\/pstn\/\+79161234567\)$/,
    'nothing to say: no context',
  );
  t.match(cmd.line, new RegExp(`b24_call_id=${callId.replace(/\./g, '\\.')}`));
  const fin = await s.portal.journal.next((r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === callId);
  t.match(fin.params, { USER_ID: 12, STATUS_CODE: '200' });
  t.equal(s.portal.state.finished.find((f) => f.CALL_ID === callId)?.INCOMING, '4');
});

t.test('bad input: 400 (or 401/413) and no command sent', async (t) => {
  const s = await stack(t);
  const auth = s.portal.authBlock(null);
  const post = (payload: Record<string, unknown>, raw?: string) =>
    s.service.app.inject({
      method: 'POST',
      url: '/bitrix24/events',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: raw ?? new URLSearchParams(flat(payload)).toString(),
    });
  const good = {
    event: 'ONEXTERNALCALLSTART',
    data: { PHONE_NUMBER: '+79161234567', USER_ID: '11', CALL_ID: 'externalCall.ab.1' },
    auth,
  };
  for (const ch of [',', '}', '{', "'", '^', '&', ' 1', '\n', '%', '$']) {
    const bad1 = await post({ ...good, data: { ...good.data, PHONE_NUMBER: `+7916${ch}1234567` } });
    t.equal(bad1.statusCode, 400, `PHONE_NUMBER with ${JSON.stringify(ch)}`);
    const bad2 = await post({ ...good, data: { ...good.data, CALL_ID: `externalCall${ch}` } });
    t.equal(bad2.statusCode, 400, `CALL_ID with ${JSON.stringify(ch)}`);
    const bad3 = await post({ ...good, data: { ...good.data, LINE_NUMBER: `495${ch}` } });
    t.equal(bad3.statusCode, 400, `LINE_NUMBER with ${JSON.stringify(ch)}`);
    const bad4 = await post({ ...good, data: { ...good.data, PHONE_NUMBER_INTERNATIONAL: `+7916${ch}1234567` } });
    t.equal(bad4.statusCode, 400, `PHONE_NUMBER_INTERNATIONAL with ${JSON.stringify(ch)}`);
  }
  t.equal((await post({ ...good, data: { ...good.data, USER_ID: 'abc' } })).statusCode, 400);
  t.equal((await post({ ...good, event: 'ONSOMETHINGELSE' })).statusCode, 400);
  t.equal(
    (await post({ event: 'ONEXTERNALCALLSTART', data: good.data })).statusCode,
    401,
    'no auth: like a wrong token',
  );
  const { application_token: _token, ...noToken } = auth as Record<string, unknown>;
  const missing = await post({ ...good, auth: noToken });
  t.equal(missing.statusCode, 401, 'no application_token: like a wrong one');
  t.match(JSON.parse(missing.body), { error: 'HTTP_ERR_UNAUTHORIZED', message: /application_token/ });
  t.match(JSON.parse((await post({}, 'not a form %%%')).body), { message: /event|form/ });
  t.equal((await post({ ...good, auth: { ...auth, application_token: 'forged' } })).statusCode, 401);
  t.equal((await post({}, `event=ONEXTERNALCALLSTART&x=${'a'.repeat(100_000)}`)).statusCode, 413);
  const forged = await post({
    event: 'ONAPPINSTALL',
    data: {},
    auth: {
      ...auth,
      access_token: 'x',
      refresh_token: 'y',
      member_id: 'other',
      client_endpoint: 'https://evil.example.com/rest/',
      domain: 'evil.example.com',
    },
  });
  t.equal(forged.statusCode, 401, 'a forged install from another portal is refused');
  t.equal(s.sim.commands.entries.filter((c) => c.line.startsWith('bgapi')).length, 0, 'no command reached FreeSWITCH');
});

function flat(o: Record<string, unknown>, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) {
    const key = prefix ? `${prefix}[${k}]` : k;
    if (v && typeof v === 'object') Object.assign(out, flat(v as Record<string, unknown>, key));
    else out[key] = String(v);
  }
  return out;
}
