/**
 * Calls the service places (issue 11 points 5, 6): click-to-call and callbacks are recorded
 * from the answer and the recording reaches Bitrix24; a callback with nothing to say needs no
 * dialplan context; with something to say it goes through the context, which `check` verifies.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { stack } from '../helpers/stack.js';
import { check } from '../../lib/check.js';
import { overrides } from '../helpers/stack.js';
import { ok } from '../helpers/portal.js';

const CONTEXT = {
  default: [],
  public: [],
  'freeswitch-bitrix24': ['b24_callback', 'b24_prompt_tts', 'b24_prompt_file'],
};
const PROMPT = { 'calls.promptFile': '/usr/share/freeswitch/sounds/en/us/callie/ivr/8000/ivr-please_hold.wav' };

function aLegOf(line: string): string {
  return /\{origination_uuid=([0-9a-f-]{36}),/.exec(line)?.[1] ?? 'none';
}

t.test('an answered click-to-call is recorded from the answer and attached to its CALL_ID', async (t) => {
  const s = await stack(t, { sim: { pstn: { '+79161234567': { mode: 'answer', ringMs: 1000, talkMs: 6000 } } } });
  const { callId } = await s.portal.clickToCall({ userId: 11, phone: '+79161234567', lineNumber: '4951234567' });
  const cmd = await s.sim.nextCommand('bgapi originate');
  const aLeg = aLegOf(cmd.line);
  const path = `${s.config.recordings.dirs[0]}/${aLeg}.wav`;
  t.match(
    cmd.line,
    `,execute_on_answer='record_session ${path}'}user/1001 &bridge(`,
    'FreeSWITCH records into the first recordings directory',
  );
  const att = await s.portal.journal.next(ok('telephony.externalcall.attachrecord'));
  t.same([att.params.CALL_ID, att.params.FILENAME], [callId, `${aLeg}.wav`]);
  t.same(
    s.portal.state.files.find((f) => f.CALL_ID === callId)?.bytes,
    readFileSync(path),
    'the file the switch wrote',
  );
  const fin = s.portal.journal.entries.findIndex(ok('telephony.externalcall.finish'));
  t.ok(fin >= 0 && fin < s.portal.journal.entries.indexOf(att), 'attached after the finish');
});

t.test(
  'a callback with nothing to say: no context, the originate bridges to the client; recorded and attached',
  async (t) => {
    const s = await stack(t);
    await s.portal.callbackRequest({ phone: '+79161234567', text: 'Callback from the site', lineNumber: '4951234567' });
    const reg = await s.portal.journal.next(ok('telephony.externalcall.register'));
    const callId = (reg.result as { CALL_ID: string }).CALL_ID;
    const cmd = await s.sim.nextCommand('bgapi originate');
    t.notMatch(cmd.line, /XML/, 'no dialplan context');
    t.match(
      cmd.line,
      /,b24_kind=callback,.*\}user\/1002 &bridge\(\{origination_uuid=[0-9a-f-]{36},origination_caller_id_number=4951234567\}sofia\/gateway\/pstn\/\+79161234567\)$/,
    );
    const fin = await s.portal.journal.next(
      (r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === callId,
    );
    t.match(fin.params, { USER_ID: 12, STATUS_CODE: '200' });
    const att = await s.portal.journal.next(ok('telephony.externalcall.attachrecord'));
    t.same([att.params.CALL_ID, att.params.FILENAME], [callId, `${aLegOf(cmd.line)}.wav`]);
  },
);

t.test('FSB24_RECORD_PLACED_CALLS=false: nothing asked to record, nothing attached', async (t) => {
  const s = await stack(t, { config: { 'recordings.placedCalls': false } });
  const { callId } = await s.portal.clickToCall({ userId: 11, phone: '+79161234567', lineNumber: '4951234567' });
  const cmd = await s.sim.nextCommand('bgapi originate');
  t.notMatch(cmd.line, /execute_on_answer|record_session/);
  await s.portal.journal.next((r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === callId);
  t.same(s.sim.sw.recordings, [], 'the switch wrote no recording');
  t.equal(s.portal.journal.entries.filter(ok('telephony.externalcall.attachrecord')).length, 0);
});

t.test('a callback with a prompt goes through the context; check passes when it is loaded', async (t) => {
  const s = await stack(t, { sim: { contexts: CONTEXT }, config: PROMPT });
  await s.portal.callbackRequest({ phone: '+79161234567', text: 'Callback', lineNumber: '4951234567' });
  const reg = await s.portal.journal.next(ok('telephony.externalcall.register'));
  const callId = (reg.result as { CALL_ID: string }).CALL_ID;
  const cmd = await s.sim.nextCommand('bgapi originate');
  t.match(
    cmd.line,
    /,b24_prompt=\/usr\/share\/freeswitch\/sounds\/en\/us\/callie\/ivr\/8000\/ivr-please_hold\.wav,b24_gateway=pstn,b24_callee_uuid=[0-9a-f-]{36}\}user\/1002 b24_callback XML freeswitch-bitrix24$/,
  );
  t.match(cmd.line, /,execute_on_answer='record_session [^']+\.wav',/, 'recorded there too');
  const fin = await s.portal.journal.next((r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === callId);
  t.match(fin.params, { STATUS_CODE: '200' });
  await s.portal.journal.next((r) => ok('telephony.externalcall.attachrecord')(r) && r.params.CALL_ID === callId);
  const r = await check({ overrides: overrides(s, PROMPT) });
  t.match(
    r.find((x) => x.name === 'callback context'),
    { ok: true, detail: '"freeswitch-bitrix24" is loaded' },
  );
});

t.test('check: the context is verified only when needed, and a missing one fails with the fix', async (t) => {
  const s = await stack(t);
  t.notOk(
    (await check({ overrides: overrides(s) })).some((x) => x.name === 'callback context'),
    'nothing to say: not checked',
  );
  for (const extra of [PROMPT, { 'calls.ttsEngine': 'flite' }]) {
    const hit = (await check({ overrides: overrides(s, extra) })).find((x) => x.name === 'callback context');
    t.match(hit, {
      ok: false,
      detail: /"freeswitch-bitrix24" is not loaded \(xml_locate: can't find anything\); callbacks would end 404/,
    });
    t.match(hit?.fix, /freeswitch-bitrix24-context\.xml .*reloadxml.*FSB24_TTS_ENGINE and FSB24_CALLBACK_PROMPT empty/);
  }
  s.sim.sw.contexts.set('freeswitch-bitrix24', ['something_else']);
  const other = (await check({ overrides: overrides(s, PROMPT) })).find((x) => x.name === 'callback context');
  t.match(other, { ok: false, detail: /loaded but has no b24_callback extension/ });
});

t.test('a callback with a prompt while the context is missing ends as the real switch ends it', async (t) => {
  const s = await stack(t, { config: PROMPT });
  await s.portal.callbackRequest({ phone: '+79161234567', text: 'Callback', lineNumber: '4951234567' });
  const reg = await s.portal.journal.next(ok('telephony.externalcall.register'));
  const callId = (reg.result as { CALL_ID: string }).CALL_ID;
  const fin = await s.portal.journal.next((r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === callId);
  t.match(
    fin.params,
    { DURATION: 0, STATUS_CODE: '404' },
    'NO_ROUTE_DESTINATION once the employee answered (callback-context-missing)',
  );
});
