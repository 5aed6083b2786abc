/** The call model, events in and effects out, on the simulator's event shapes. */
import t from 'tap';
import { modelOn } from '../../helpers/model.js';
import { inboundCall, internalCall, outboundCall } from '../../../lib/sim/freeswitch/index.js';
import { GAP_REASON } from '../../../lib/calls/state.js';

const kinds = (effects: Array<{ kind: string; extensions?: string[] }>): string[] =>
  effects.map((e) => (e.extensions ? `${e.kind} ${e.extensions.join(',')}` : e.kind));

t.test('card policy: on answer shows only the one who answered; never shows nothing', async (t) => {
  const { sw, effects } = modelOn(
    { cardPolicy: 'answer' },
    { extensions: { '1001': { mode: 'noanswer' }, '1002': { ringMs: 1000 } } },
  );
  await inboundCall(sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001', '1002'],
    talkMs: 3000,
    record: false,
  });
  t.same(kinds(effects), ['register', 'show 1002', 'connected', 'finish']);
  t.match(effects[0], { show: false });
  const n = modelOn({ cardPolicy: 'never' }, { extensions: { '1001': { ringMs: 1000 } } });
  await inboundCall(n.sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001'],
    talkMs: 3000,
    record: false,
  });
  t.same(kinds(n.effects), ['register', 'connected', 'finish']);
  t.match(n.effects[0], { show: false });
  const per = modelOn(
    { cardPolicyByExtension: { '1002': 'never' } },
    { extensions: { '1001': { mode: 'noanswer' }, '1002': { ringMs: 1000 } } },
  );
  await inboundCall(per.sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001', '1002'],
    talkMs: 3000,
    record: false,
  });
  t.same(kinds(per.effects), ['register', 'hide 1001', 'connected', 'finish'], 'per-extension policy');
});

t.test('an IVR call nobody rings is registered after the hold, missed, for nobody in particular', async (t) => {
  const { sw, model, effects } = modelOn({ registerHoldMs: 300 });
  const a = sw.trunkInbound('+79161234567', '4951234567');
  sw.create(a);
  sw.answer(a);
  t.same(effects, [], 'held');
  const at = sw.nowUs();
  t.same(model.tick(at + 200_000), [], 'still held');
  effects.push(...model.tick(at + 400_000));
  t.match(effects, [
    { kind: 'register', type: 2, extension: null, show: false, phone: '+79161234567', line: '4951234567' },
  ]);
  await sw.wait(20_000);
  sw.hangup(a, 'NORMAL_CLEARING', { sipTermStatus: '200', disposition: 'recv_bye' });
  sw.complete(a);
  t.match(
    effects[1],
    { kind: 'finish', extension: null, candidates: [], status: '304', duration: 0 },
    'an answered IVR is not an answered call',
  );
});

t.test('a routed call is registered for the responsible manager', async (t) => {
  const { sw, model, effects } = modelOn();
  const a = sw.trunkInbound('+79161234567', '4951234567');
  sw.create(a);
  effects.push(...model.routed('+79161234567', '1002'));
  t.match(effects, [{ kind: 'register', extension: '1002', show: false }]);
  const b = sw.userOutbound('1002', a);
  sw.create(b);
  sw.progress(b);
  t.match(effects[1], { kind: 'show', extensions: ['1002'] });
});

t.test('internal calls are not sent unless configured', async (t) => {
  const off = modelOn();
  await internalCall(off.sw, '1001', '1002');
  t.same(off.effects, []);
  const on = modelOn({ sendInternal: true });
  await internalCall(on.sw, '1001', '1002');
  t.same(kinds(on.effects), ['register', 'finish']);
  t.match(on.effects[0], { type: 1, extension: '1001', phone: '1002' });
});

t.test('DID source, line map, number rules, gateway lines, CRM_CREATE per direction', async (t) => {
  const { sw, effects } = modelOn(
    {
      didSource: 'sip_req_user',
      lines: { '4951234567': 'Main' },
      numberRules: [{ match: '^\\+7(\\d{10})$', replace: '8$1' }],
      gatewayLines: { pstn: '4950000000' },
      crmCreateIncoming: false,
      crmCreateOutgoing: true,
    },
    { extensions: { '1001': { ringMs: 1000 } }, pstn: { '+79990001122': { mode: 'answer' } } },
  );
  await inboundCall(sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001'],
    talkMs: 1000,
    record: false,
  });
  t.match(effects[0], { kind: 'register', phone: '89161234567', line: 'Main', crmCreate: false });
  effects.length = 0;
  await outboundCall(sw, { extension: '1001', number: '+79990001122' });
  t.match(effects[0], { kind: 'register', type: 1, phone: '89990001122', line: '4950000000', crmCreate: true });
});

t.test('outgoing: cancelled by the employee is 603-S, an unknown number 404', async (t) => {
  const { sw, effects } = modelOn(
    {},
    { pstn: { '79990000000': { mode: 'unallocated' }, '79991111111': { mode: 'noanswer' } } },
  );
  await outboundCall(sw, { extension: '1003', number: '79990000000' });
  t.match(effects[1], { kind: 'finish', status: '404', duration: 0 });
  effects.length = 0;
  const a = sw.extensionInbound('1003', '79161234567');
  sw.create(a);
  const b = sw.gatewayOutbound('79161234567', a);
  sw.create(b);
  sw.progress(b);
  sw.hangup(a, 'NORMAL_CLEARING', { disposition: 'recv_bye' });
  sw.hangup(b, 'ORIGINATOR_CANCEL', { disposition: 'send_cancel' });
  sw.complete(b);
  sw.complete(a);
  t.match(effects[1], { kind: 'finish', status: '603-S', duration: 0, extension: '1003' });
});

t.test('a reconnect finds the calls that ended meanwhile and closes them with what is known', async (t) => {
  const { sw, model } = modelOn({}, { extensions: { '1001': { ringMs: 1000 } } });
  const a = sw.trunkInbound('+79161234567', '4951234567');
  sw.create(a);
  const b = sw.userOutbound('1001', a);
  sw.create(b);
  sw.progress(b);
  await sw.wait(1000);
  sw.answer(b);
  sw.answer(a);
  sw.bridge(a, b);
  // 30 s on, another call's leg shows the socket still up (and this call not yet ended)
  await sw.wait(30_000);
  const other = sw.extensionInbound('1003', '79160000000');
  sw.create(other);
  // the connection is lost now; the call ends unseen: it talked at least until that last event
  const out = model.reconcile(new Set([other.uuid]));
  t.match(out, [{ kind: 'finish', extension: '1001', status: '200', duration: 30, reason: GAP_REASON }]);
  t.equal(model.liveCalls, 1, 'only the other call is left');
});

t.test('a carrier on the extensions profile is told by its address (FSB24_TRUNK_IPS)', async (t) => {
  const { sw, effects } = modelOn(
    { trunkProfiles: ['none'], trunkIps: ['127.0.0.1'] },
    { trunkProfile: 'internal', extensions: { '1001': { ringMs: 1000 } } },
  );
  await inboundCall(sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001'],
    talkMs: 2000,
    record: false,
  });
  t.match(effects[0], { kind: 'register', type: 2, phone: '+79161234567' });
  const off = modelOn(
    { trunkProfiles: ['none'] },
    { trunkProfile: 'internal', extensions: { '1001': { ringMs: 1000 } } },
  );
  await inboundCall(off.sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001'],
    talkMs: 2000,
    record: false,
  });
  t.notMatch(off.effects[0] ?? {}, { type: 2 }, 'without it, the same leg is not taken for a trunk');
});

t.test(
  'a call rejected before answer names a recording in the dialplan but never records: nothing to attach',
  async (t) => {
    const { sw, effects } = modelOn();
    const path = `${sw.recordingsDir}/rejected.wav`;
    // b24_record_path is set, the recorder would start on answer (RECORD_ANSWER_REQ, execute_on_answer): no RECORD_START
    const a = sw.extensionInbound('1003', '79161234567');
    a.setVar('b24_record_path', path);
    sw.create(a);
    const b = sw.gatewayOutbound('79161234567', a);
    sw.create(b);
    sw.progress(b);
    sw.hangup(b, 'USER_BUSY', { sipTermStatus: '486', disposition: 'recv_refuse' });
    sw.complete(b);
    sw.hangup(a, 'USER_BUSY', { disposition: 'send_refuse' });
    sw.complete(a);
    t.same(kinds(effects), ['register', 'finish'], 'no attach job waiting for a file that will never exist');
    t.match(effects[1], { kind: 'finish', status: '486' });
  },
);

t.test('a missed call whose recorder started (early media) gets its recording attached, once', async (t) => {
  const { sw, effects } = modelOn({}, { extensions: { '1001': { mode: 'noanswer' } } });
  const path = `${sw.recordingsDir}/missed.wav`;
  const a = sw.trunkInbound('+79161234567', '4951234567');
  a.setVar('b24_record_path', path);
  sw.create(a);
  sw.progressMedia(a);
  sw.recordStart(a, path); // inbound-ringgroup-missed: RECORD_START in state EARLY
  const b = sw.userOutbound('1001', a);
  sw.create(b);
  sw.progress(b);
  await sw.wait(6000);
  sw.hangup(a, 'ORIGINATOR_CANCEL', { sipTermStatus: '487', disposition: 'recv_cancel' });
  sw.hangup(b, 'ORIGINATOR_CANCEL', { disposition: 'send_cancel' });
  sw.complete(b);
  sw.complete(a);
  t.match(
    effects.find((e) => e.kind === 'finish'),
    { status: '304' },
  );
  t.same(
    effects.filter((e) => e.kind === 'attach'),
    [{ kind: 'attach', call: a.uuid, path }],
    'named and recorded: one attach',
  );
});

t.test('after a reconnect the model may have missed RECORD_START: a named recording is still attached', async (t) => {
  const { sw, model, effects } = modelOn({}, { extensions: { '1001': { ringMs: 1000 } } });
  const path = `${sw.recordingsDir}/across-a-reconnect.wav`;
  const a = sw.trunkInbound('+79161234567', '4951234567');
  a.setVar('b24_record_path', path);
  sw.create(a);
  const b = sw.userOutbound('1001', a);
  sw.create(b);
  sw.progress(b);
  await sw.wait(1000);
  sw.answer(b);
  sw.answer(a);
  sw.bridge(a, b);
  effects.push(...model.reconcile(new Set([a.uuid, b.uuid])));
  await sw.wait(2000);
  sw.hangup(a, 'NORMAL_CLEARING', { sipTermStatus: '200', disposition: 'recv_bye' });
  sw.hangup(b, 'NORMAL_CLEARING', { disposition: 'send_bye' });
  sw.complete(b);
  sw.complete(a);
  t.match(
    effects.filter((e) => e.kind === 'attach'),
    [{ path }],
  );
});
