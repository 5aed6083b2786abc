/**
 * A stock ESL client (modesl 1.2.1) cannot tell the simulator from FreeSWITCH: it
 * authenticates, subscribes, receives each scenario's events and runs api/bgapi.
 */
import t from 'tap';
import esl from 'modesl';
import { startFreeswitchSim, inboundCall, outboundCall } from '../../../lib/sim/freeswitch/index.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Ev = { name: string; uuid: string | null; ev: esl.Event };

async function connect(port: number, password = 'ClueCon'): Promise<esl.Connection> {
  return new Promise((resolve, reject) => {
    const conn = new esl.Connection('127.0.0.1', port, password, () => resolve(conn));
    conn.on('error', reject);
    conn.on('esl::event::auth::fail', () => reject(new Error('auth failed')));
  });
}

t.test('modesl: auth, events of an inbound ring-group call, api and bgapi', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fsb24-rec-'));
  const sim = await startFreeswitchSim({ recordingsDir: dir });
  t.teardown(() => sim.close());
  const conn = await connect(sim.port);
  t.teardown(() => conn.disconnect());
  const events: Ev[] = [];
  let onEvent: () => void = () => undefined;
  const subscribed = new Promise<void>((r) =>
    conn.events('json', 'CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_HANGUP_COMPLETE RECORD_STOP', () => r()),
  );
  conn.on('esl::event::**', (ev: esl.Event) => {
    const name = ev.getHeader('Event-Name');
    if (name && name !== 'BACKGROUND_JOB') events.push({ name, uuid: ev.getHeader('Unique-ID'), ev });
    onEvent();
  });
  await subscribed;
  sim.sw.setExtension('1002', { mode: 'noanswer' });
  const call = await inboundCall(sim.sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001', '1002'],
    talkMs: 5000,
  });
  // modesl delivers asynchronously: wait for the A leg's last event to arrive
  await new Promise<void>((resolve) => {
    onEvent = () => events.some((e) => e.name === 'CHANNEL_HANGUP_COMPLETE' && e.uuid === call.uuid) && resolve();
    onEvent();
  });
  const [a, b1, b2] = call.legs;
  t.same(
    events.map((e) => `${e.name}:${[a, b1, b2].indexOf(e.uuid ?? '')}`),
    [
      'CHANNEL_CREATE:0',
      'CHANNEL_CREATE:1',
      'CHANNEL_CREATE:2',
      'CHANNEL_ANSWER:1',
      'CHANNEL_ANSWER:0',
      'CHANNEL_HANGUP_COMPLETE:2',
      'CHANNEL_BRIDGE:0',
      'CHANNEL_HANGUP_COMPLETE:1',
      'RECORD_STOP:0',
      'CHANNEL_HANGUP_COMPLETE:0',
    ],
    'per-leg order as in inbound-ringgroup-answered',
  );
  const hc = events.find((e) => e.name === 'CHANNEL_HANGUP_COMPLETE' && e.uuid === a)!.ev;
  t.equal(hc.getHeader('variable_billsec'), '5');
  t.equal(hc.getHeader('variable_bridge_uuid'), b1);
  t.equal(hc.getHeader('variable_sip_to_user'), '4951234567');
  const bridge = events.find((e) => e.name === 'CHANNEL_BRIDGE')!.ev;
  t.equal(bridge.getHeader('Bridge-B-Unique-ID'), b1);

  const status = await new Promise<esl.Event>((r) => conn.api('status', r));
  t.match(status.getBody(), /^UP 0 years/);
  const empty = await new Promise<esl.Event>((r) => conn.api('show channels as json', r));
  t.equal(empty.getBody(), '{"row_count": 0}\n');
  const unknown = await new Promise<esl.Event>((r) => conn.api('frobnicate now', r));
  t.equal(unknown.getBody(), '-ERR frobnicate Command not found!\n');
  const job = await new Promise<esl.Event>((r) =>
    conn.bgapi('originate {origination_uuid=7ac6494e-4913-45c8-94bf-2b3521d7637c}user/1009 &park()', r),
  );
  t.equal(job.getBody(), '-ERR USER_NOT_REGISTERED\n');
});

t.test('modesl: a wrong password is refused', async (t) => {
  const sim = await startFreeswitchSim();
  t.teardown(() => sim.close());
  await t.rejects(connect(sim.port, 'nope'), /auth failed/);
});

t.test('modesl: plain events of an outbound busy call', async (t) => {
  const sim = await startFreeswitchSim({ pstn: { '79161234567': { mode: 'busy' } } });
  t.teardown(() => sim.close());
  const conn = await connect(sim.port);
  t.teardown(() => conn.disconnect());
  const names: string[] = [];
  await new Promise<void>((r) => conn.events('plain', 'CHANNEL_CREATE CHANNEL_HANGUP_COMPLETE', () => r()));
  const got = new Promise<esl.Event>((resolve) => {
    conn.on('esl::event::CHANNEL_HANGUP_COMPLETE::*', (ev: esl.Event) => {
      names.push(ev.getHeader('Hangup-Cause') ?? '');
      if (names.length === 2) resolve(ev);
    });
  });
  await outboundCall(sim.sw, { extension: '1003', number: '79161234567' });
  const last = await got;
  t.same(names, ['USER_BUSY', 'USER_BUSY']);
  t.equal(last.getHeader('variable_sip_hangup_disposition'), 'send_refuse');
  t.equal(last.getHeader('variable_last_bridge_proto_specific_hangup_cause'), 'sip:486');
});
