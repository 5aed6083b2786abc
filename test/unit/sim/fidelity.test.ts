/**
 * The simulator against the captures: the same scenario played on the simulator gives,
 * leg by leg, the events of the real FreeSWITCH, with the same state headers and a
 * header set drawn from the real one.
 */
import t from 'tap';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureEvents, fixtureFrames } from '../../helpers/fixtures.js';
import { frameHeader } from '../../../lib/esl/frame.js';
import { SimSwitch, inboundCall, killLeg, outboundCall } from '../../../lib/sim/freeswitch/index.js';
import { EslEvent, type HeaderValue } from '../../../lib/esl/codec.js';

const CHANNEL = /^(CHANNEL_|RECORD_)/;
const STATE_HEADERS = [
  'Channel-Call-State',
  'Answer-State',
  'Call-Direction',
  'Other-Type',
  'Hangup-Cause',
  'Presence-Call-Direction',
  'Channel-HIT-Dialplan',
];
const VARS = [
  'variable_sip_hangup_disposition',
  'variable_billsec',
  'variable_sip_term_status',
  'variable_originate_disposition',
];

/** Per leg (numbered by first appearance): its events in order, with the headers that matter. */
function perLeg(events: EslEvent[]): Map<number, Array<Record<string, string | undefined>>> {
  const order: string[] = [];
  const out = new Map<number, Array<Record<string, string | undefined>>>();
  for (const e of events) {
    if (!CHANNEL.test(e.name)) continue;
    const uuid = e.get('Unique-ID')!;
    if (!order.includes(uuid)) order.push(uuid);
    const i = order.indexOf(uuid);
    const row: Record<string, string | undefined> = { event: e.name };
    for (const h of [...STATE_HEADERS, ...VARS]) row[h] = e.get(h);
    out.set(i, [...(out.get(i) ?? []), row]);
  }
  return out;
}

function record(sw: SimSwitch): EslEvent[] {
  const got: EslEvent[] = [];
  sw.subscribe((e) => got.push(new EslEvent(e.headers as Array<[string, HeaderValue]>, e.body)));
  return got;
}

t.test('inbound ring group answered: the same events per leg as the capture', async (t) => {
  const sw = new SimSwitch({ recordingsDir: mkdtempSync(join(tmpdir(), 'fsb24-fid-')) });
  const got = record(sw);
  sw.setExtension('1001', { mode: 'answer', ringMs: 2000 });
  sw.setExtension('1002', { mode: 'noanswer' });
  await inboundCall(sw, { caller: '+79161234567', did: '4951234567', extensions: ['1001', '1002'], talkMs: 5000 });
  const real = perLeg(fixtureEvents('inbound-ringgroup-answered.plain.txt'));
  const sim = perLeg(got);
  for (const leg of [0, 1, 2]) t.same(sim.get(leg), real.get(leg), `leg ${leg}`);
  // every header the simulator sends on an event, the real switch sends on that event too
  const realNames = new Map<string, Set<string>>();
  for (const e of fixtureEvents('inbound-ringgroup-answered.plain.txt')) {
    const key = `${e.name}:${e.get('Call-Direction')}`;
    const set = realNames.get(key) ?? new Set<string>();
    for (const [k] of e.headers) set.add(k);
    realNames.set(key, set);
  }
  for (const e of got) {
    if (!CHANNEL.test(e.name)) continue;
    const have = realNames.get(`${e.name}:${e.get('Call-Direction')}`)!;
    const extra = e.headers.map(([k]) => k).filter((k) => !have.has(k) && !k.startsWith('variable_'));
    t.same(extra, [], `${e.name} ${e.get('Call-Direction')}: no header the real switch does not send`);
  }
});

t.test(
  'a recorded call killed while talking: its recording closes as at a BYE (file written, RECORD_STOP)',
  async (t) => {
    const sw = new SimSwitch({ recordingsDir: mkdtempSync(join(tmpdir(), 'fsb24-fid-')) });
    const got = record(sw);
    sw.setExtension('1001', { mode: 'answer', ringMs: 500 });
    const bridged = new Promise<void>((r) => sw.subscribe((e) => e.headers[0]?.[1] === 'CHANNEL_BRIDGE' && r()));
    const call = inboundCall(sw, { caller: '+79161234567', did: '4951234567', extensions: ['1001'], talkMs: -1 });
    await bridged;
    const caller = [...sw.legs.values()].find((l) => l.init.direction === 'inbound')!;
    killLeg(sw, caller, 'NORMAL_CLEARING');
    const path = (await call).recording!;
    t.ok(existsSync(path) && statSync(path).size > 44, 'the WAV is on disk');
    const a = perLeg(got)
      .get(0)!
      .map((r) => r.event);
    t.ok(a.includes('RECORD_STOP'), 'RECORD_STOP on the caller leg');
    t.ok(a.indexOf('CHANNEL_HANGUP') < a.indexOf('RECORD_STOP'), 'after its CHANNEL_HANGUP');
    t.ok(a.indexOf('RECORD_STOP') < a.indexOf('CHANNEL_HANGUP_COMPLETE'), 'before its CHANNEL_HANGUP_COMPLETE');
  },
);

t.test('inbound missed and outbound calls: per-leg events as captured', async (t) => {
  const sw = new SimSwitch({
    recordingsDir: mkdtempSync(join(tmpdir(), 'fsb24-fid-')),
    pstn: { '79161234567': { mode: 'answer', ringMs: 1000 }, '79990000000': { mode: 'busy' } },
  });
  sw.setExtension('1001', { mode: 'noanswer' });
  sw.setExtension('1002', { mode: 'noanswer' });
  let got = record(sw);
  await inboundCall(sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001', '1002'],
    callerGivesUpMs: 6000,
  });
  let real = perLeg(fixtureEvents('inbound-ringgroup-missed.plain.txt'));
  let sim = perLeg(got);
  for (const leg of [0, 1, 2]) t.same(sim.get(leg), real.get(leg), `missed, leg ${leg}`);

  const sw2 = new SimSwitch({ pstn: { '79161234567': { mode: 'answer', ringMs: 1000 } } });
  got = record(sw2);
  await outboundCall(sw2, { extension: '1003', number: '79161234567', talkMs: 4000 });
  real = perLeg(fixtureEvents('outbound-answered.json.txt'));
  sim = perLeg(got);
  for (const leg of [0, 1]) t.same(sim.get(leg), real.get(leg), `outbound answered, leg ${leg}`);

  const sw3 = new SimSwitch({ pstn: { '79161234567': { mode: 'busy' } } });
  got = record(sw3);
  await outboundCall(sw3, { extension: '1003', number: '79161234567' });
  real = perLeg(fixtureEvents('outbound-busy.plain.txt'));
  sim = perLeg(got);
  for (const leg of [0, 1]) t.same(sim.get(leg), real.get(leg), `outbound busy, leg ${leg}`);
});

t.test('click-to-call originate: the legs of click2call-answered, the job result before the client leg', async (t) => {
  const { runApi } = await import('../../../lib/sim/freeswitch/api.js');
  const sw = new SimSwitch({ pstn: { '79161234567': { mode: 'answer', ringMs: 1000, talkMs: 4000 } } });
  sw.setExtension('1001', { mode: 'answer', ringMs: 2000 });
  const got = record(sw);
  const body = await runApi(
    { sw },
    'originate {origination_uuid=fadac485-9956-4d05-bc48-cdc296d57620,origination_caller_id_number=79161234567,effective_caller_id_number=4951234567,ignore_early_media=true,originate_timeout=30,b24_call_id=externalCall.test.1}user/1001 &bridge({origination_uuid=c379e7c2-a370-43a3-b22c-f4bdab5a12aa}sofia/gateway/pstn/79161234567)',
  );
  t.equal(body, '+OK fadac485-9956-4d05-bc48-cdc296d57620\n');
  t.equal(
    got.filter((e) => e.uuid === 'c379e7c2-a370-43a3-b22c-f4bdab5a12aa').length,
    0,
    'the client leg does not exist when the job returns',
  );
  let destroyed = 0;
  await new Promise<void>((resolve) =>
    sw.subscribe((e) => e.headers[0]?.[1] === 'CHANNEL_DESTROY' && ++destroyed === 2 && resolve()),
  );
  const real = perLeg(fixtureEvents('click2call-answered.plain.txt'));
  const sim = perLeg(got);
  for (const leg of [0, 1])
    t.same(
      sim.get(leg)?.map((r) => r.event),
      real.get(leg)?.map((r) => r.event),
      `leg ${leg} events`,
    );
  const aCreate = got.find((e) => e.name === 'CHANNEL_CREATE')!;
  t.equal(aCreate.get('variable_b24_call_id'), 'externalCall.test.1');
  t.equal(aCreate.get('Caller-Caller-ID-Number'), '79161234567');
  const aEnd = got
    .filter((e) => e.name === 'CHANNEL_HANGUP_COMPLETE')
    .find((e) => e.uuid === 'fadac485-9956-4d05-bc48-cdc296d57620')!;
  t.equal(aEnd.get('Caller-Caller-ID-Number'), '1001', 'caller and callee swapped once bridged, as captured');
});

/** The originates of the placed-call captures, with the simulator's own recordings directory. */
function placed(dir: string, kind: 'click2call' | 'callback', tail = ''): string {
  return `originate {origination_uuid=15aee0ac-a7fd-43a1-b02b-e95077f805b3,origination_caller_id_number=+79161234567,origination_caller_id_name=+79161234567,effective_caller_id_number=4951234567,ignore_early_media=true,originate_timeout=30,b24_call_id=externalCall.lab.1,b24_kind=${kind},b24_client=+79161234567,b24_line=4951234567,execute_on_answer='record_session ${dir}/15aee0ac-a7fd-43a1-b02b-e95077f805b3.wav'${tail}`;
}
const BRIDGE =
  '}user/1001 &bridge({origination_uuid=8a2eea19-1f91-423d-8a91-954d171199d5,origination_caller_id_number=4951234567}sofia/gateway/pstn/+79161234567)';
const CONTEXT =
  ',b24_prompt=/srv/prompt.wav,b24_gateway=pstn,b24_callee_uuid=8a2eea19-1f91-423d-8a91-954d171199d5}user/1001 b24_callback XML freeswitch-bitrix24';
const RECORD_HEADERS = ['Channel-Call-State', 'Answer-State', 'Channel-State', 'variable_current_application'];

async function playPlaced(
  cmd: string,
  contexts?: Record<string, readonly string[]>,
): Promise<{ body: string; got: EslEvent[]; dir: string; sw: SimSwitch }> {
  const { runApi } = await import('../../../lib/sim/freeswitch/api.js');
  const dir = mkdtempSync(join(tmpdir(), 'fsb24-fid-'));
  const sw = new SimSwitch({
    pstn: { '+79161234567': { mode: 'answer', ringMs: 1000, talkMs: 4000 } },
    ...(contexts ? { contexts: Object.fromEntries(Object.entries(contexts).map(([k, v]) => [k, [...v]])) } : {}),
  });
  sw.setExtension('1001', { mode: 'answer', ringMs: 2000 });
  const got = record(sw);
  const done = new Promise<void>((resolve) =>
    sw.subscribe((e) => {
      if (
        e.headers[0]?.[1] === 'CHANNEL_DESTROY' &&
        new EslEvent(e.headers as Array<[string, HeaderValue]>, e.body).uuid === '15aee0ac-a7fd-43a1-b02b-e95077f805b3'
      )
        resolve();
    }),
  );
  const body = await runApi({ sw }, cmd.replaceAll('<dir>', dir));
  await done;
  return { body, got, dir, sw };
}

t.test(
  'execute_on_answer record_session: RECORD_START after the answer, RECORD_STOP before HANGUP_COMPLETE, as captured',
  async (t) => {
    for (const [name, cmd, contexts] of [
      ['click2call-recorded', placed('<dir>', 'click2call') + BRIDGE, undefined],
      ['callback-recorded', placed('<dir>', 'callback') + BRIDGE, undefined],
      [
        'callback-context',
        placed('<dir>', 'callback', CONTEXT),
        { 'freeswitch-bitrix24': ['b24_callback', 'b24_prompt_tts', 'b24_prompt_file'] },
      ],
      ['callback-context-missing', placed('<dir>', 'callback', CONTEXT), undefined],
    ] as const) {
      const { body, got, dir, sw } = await playPlaced(cmd, contexts);
      t.equal(body, '+OK 15aee0ac-a7fd-43a1-b02b-e95077f805b3\n', `${name}: the job result`);
      for (const fmt of ['plain', 'json']) {
        const events = fixtureEvents(`${name}.${fmt}.txt`);
        const real = perLeg(events);
        const sim = perLeg(got);
        t.equal(sim.size, real.size, `${name}.${fmt}: legs`);
        for (const leg of real.keys())
          t.same(
            sim.get(leg)?.map((r) => r.event),
            real.get(leg)?.map((r) => r.event),
            `${name}.${fmt}: leg ${leg} events`,
          );
        for (const ev of ['RECORD_START', 'RECORD_STOP']) {
          const want = events.find((e) => e.name === ev)!;
          const have = got.find((e) => e.name === ev)!;
          for (const h of RECORD_HEADERS) t.equal(have.get(h), want.get(h), `${name}.${fmt}: ${ev} ${h}`);
          const extra = have.headers
            .map(([k]) => k)
            .filter((k) => !k.startsWith('variable_') && want.get(k) === undefined);
          t.same(extra, [], `${name}.${fmt}: ${ev}: no header the real switch does not send`);
        }
      }
      const path = `${dir}/15aee0ac-a7fd-43a1-b02b-e95077f805b3.wav`;
      t.equal(
        got.find((e) => e.name === 'RECORD_STOP')?.get('Record-File-Path'),
        path,
        `${name}: the path the originate named`,
      );
      t.same(sw.recordings, [path], `${name}: the file is on disk before RECORD_STOP`);
    }
    const missing = (await playPlaced(placed('<dir>', 'callback', CONTEXT))).got.find(
      (e) => e.name === 'CHANNEL_HANGUP_COMPLETE',
    );
    const real = fixtureEvents('callback-context-missing.plain.txt').find((e) => e.name === 'CHANNEL_HANGUP_COMPLETE')!;
    for (const h of ['Hangup-Cause', 'variable_billsec', 'variable_sip_hangup_disposition'])
      t.equal(missing?.get(h), real.get(h), `missing context: ${h}`);
  },
);

t.test('xml_locate: the loaded context as XML, a missing one as "can\'t find anything", as captured', async (t) => {
  const { runApi } = await import('../../../lib/sim/freeswitch/api.js');
  const replies = fixtureFrames('xml-locate.plain.txt')
    .filter((f) => frameHeader(f, 'Content-Type') === 'api/response')
    .map((f) => f.body!.toString('latin1'));
  const sw = new SimSwitch({
    contexts: { 'freeswitch-bitrix24': ['b24_callback', 'b24_prompt_tts', 'b24_prompt_file'] },
  });
  const loaded = await runApi({ sw }, 'xml_locate dialplan context name freeswitch-bitrix24');
  const names = (x: string): string[] => [...x.matchAll(/<extension name="([^"]+)">/g)].map((m) => m[1] as string);
  t.equal(loaded.split('\n')[0], replies[0]!.split('\n')[0], 'opens with the context element');
  t.same(names(loaded), names(replies[0]!), 'the same extensions');
  t.ok(loaded.endsWith('\n  </context>\n') && replies[0]!.endsWith('\n  </context>\n'), 'closes the same way');
  t.equal(await runApi({ sw }, 'xml_locate dialplan context name b24-not-installed'), replies[1], 'byte for byte');
  t.equal(
    await runApi({ sw: new SimSwitch() }, 'xml_locate dialplan context name freeswitch-bitrix24'),
    replies[1],
    'not installed by default',
  );
});
