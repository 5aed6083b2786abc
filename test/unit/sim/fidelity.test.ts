/**
 * The simulator against the captures: the same scenario played on the simulator gives,
 * leg by leg, the events of the real FreeSWITCH, with the same state headers and a
 * header set drawn from the real one.
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureEvents } from '../../helpers/fixtures.js';
import { SimSwitch, inboundCall, outboundCall } from '../../../lib/sim/freeswitch/index.js';
import { EslEvent, type HeaderValue } from '../../../lib/esl/codec.js';

const CHANNEL = /^(CHANNEL_|RECORD_)/;
const STATE_HEADERS = ['Channel-Call-State', 'Answer-State', 'Call-Direction', 'Other-Type', 'Hangup-Cause', 'Presence-Call-Direction', 'Channel-HIT-Dialplan'];
const VARS = ['variable_sip_hangup_disposition', 'variable_billsec', 'variable_sip_term_status', 'variable_originate_disposition'];

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

t.test('inbound missed and outbound calls: per-leg events as captured', async (t) => {
  const sw = new SimSwitch({ recordingsDir: mkdtempSync(join(tmpdir(), 'fsb24-fid-')), pstn: { '79161234567': { mode: 'answer', ringMs: 1000 }, '79990000000': { mode: 'busy' } } });
  sw.setExtension('1001', { mode: 'noanswer' });
  sw.setExtension('1002', { mode: 'noanswer' });
  let got = record(sw);
  await inboundCall(sw, { caller: '+79161234567', did: '4951234567', extensions: ['1001', '1002'], callerGivesUpMs: 6000 });
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
  const body = await runApi({ sw }, 'originate {origination_uuid=fadac485-9956-4d05-bc48-cdc296d57620,origination_caller_id_number=79161234567,effective_caller_id_number=4951234567,ignore_early_media=true,originate_timeout=30,b24_call_id=externalCall.test.1}user/1001 &bridge({origination_uuid=c379e7c2-a370-43a3-b22c-f4bdab5a12aa}sofia/gateway/pstn/79161234567)');
  t.equal(body, '+OK fadac485-9956-4d05-bc48-cdc296d57620\n');
  t.equal(got.filter((e) => e.uuid === 'c379e7c2-a370-43a3-b22c-f4bdab5a12aa').length, 0, 'the client leg does not exist when the job returns');
  let destroyed = 0;
  await new Promise<void>((resolve) => sw.subscribe((e) => e.headers[0]?.[1] === 'CHANNEL_DESTROY' && ++destroyed === 2 && resolve()));
  const real = perLeg(fixtureEvents('click2call-answered.plain.txt'));
  const sim = perLeg(got);
  for (const leg of [0, 1]) t.same(sim.get(leg)?.map((r) => r.event), real.get(leg)?.map((r) => r.event), `leg ${leg} events`);
  const aCreate = got.find((e) => e.name === 'CHANNEL_CREATE')!;
  t.equal(aCreate.get('variable_b24_call_id'), 'externalCall.test.1');
  t.equal(aCreate.get('Caller-Caller-ID-Number'), '79161234567');
  const aEnd = got.filter((e) => e.name === 'CHANNEL_HANGUP_COMPLETE').find((e) => e.uuid === 'fadac485-9956-4d05-bc48-cdc296d57620')!;
  t.equal(aEnd.get('Caller-Caller-ID-Number'), '1001', 'caller and callee swapped once bridged, as captured');
});
