/**
 * The calls of an office for the benchmark (issue 12): 40 % incoming ring-group calls
 * answered and recorded, 20 % missed, 30 % outgoing answered and recorded, 10 % outgoing
 * busy; Poisson arrivals from a seed. Built from the simulator's scenarios and flows.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { inboundCall, startFreeswitchSim, type SimSwitch } from '../lib/sim/freeswitch/index.js';
import { endBridge, ringPstn, talk } from '../lib/sim/freeswitch/flows.js';

export type Kind = 'in-answered' | 'in-missed' | 'out-answered' | 'out-busy';
export interface Arrival {
  at: number;
  kind: Kind;
  n: number;
}

/** mulberry32: a small seeded PRNG, so both runs of a benchmark see the same schedule. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function schedule(rate: number, durationSec: number, seed: number): Arrival[] {
  const rnd = prng(seed);
  const out: Arrival[] = [];
  for (let t = 0, n = 0; ; n++) {
    t += (-Math.log(1 - rnd()) / rate) * 1000;
    if (t >= durationSec * 1000) return out;
    const u = rnd();
    out.push({
      at: t,
      n,
      kind: u < 0.4 ? 'in-answered' : u < 0.6 ? 'in-missed' : u < 0.9 ? 'out-answered' : 'out-busy',
    });
  }
}

export const ANSWERING = (i: number): string => String(2000 + (i % 100));
export const SILENT = (i: number): string => String(3000 + (i % 100));
export const BUSY_NUMBER = '+74950000486';

/** The portal's users: 100 phones that answer (users 100-199), 100 that never do (300-399), and the default user. */
export type User = { ID: number; NAME?: string; UF_PHONE_INNER: string };

export function officeUsers(): User[] {
  const users: User[] = [{ ID: 1, NAME: 'Admin', UF_PHONE_INNER: '' }]; // FSB24_DEFAULT_USER_ID
  for (let i = 0; i < 100; i++) {
    users.push({ ID: 100 + i, UF_PHONE_INNER: String(2000 + i) });
    users.push({ ID: 300 + i, UF_PHONE_INNER: String(3000 + i) });
  }
  return users;
}

/** Set up the switch: 100 phones that answer after 500 ms, 100 that never do, a busy number. */
export function office(sw: SimSwitch): void {
  for (let i = 0; i < 100; i++) {
    sw.setExtension(ANSWERING(i), { registered: true, mode: 'answer', ringMs: 500 });
    sw.setExtension(SILENT(i), { registered: true, mode: 'noanswer' });
  }
  sw.pstn[BUSY_NUMBER] = { mode: 'busy', ringMs: 500 };
  sw.pstn['*'] = { mode: 'answer', ringMs: 500 };
}

/** Play one call; resolves when it has ended on the switch. `onStart` gets the call's UUID as its first leg appears. */
export async function play(
  sw: SimSwitch,
  a: Arrival,
  talkMs: number,
  onStart: (uuid: string) => void,
): Promise<{ uuid: string; recorded: boolean }> {
  const uuid = randomUUID();
  const caller = `+7916${String(1000000 + a.n).padStart(7, '0')}`;
  if (a.kind === 'in-answered' || a.kind === 'in-missed') {
    onStart(uuid);
    const group = a.kind === 'in-answered' ? [ANSWERING(a.n), SILENT(a.n)] : [SILENT(a.n), SILENT(a.n + 1)];
    await inboundCall(sw, {
      uuid,
      caller,
      did: '4951234567',
      extensions: group,
      talkMs,
      callerGivesUpMs: a.kind === 'in-missed' ? 2000 : undefined,
    });
    return { uuid, recorded: true };
  }
  // outbound-answered / outbound-busy, with the dialplan's record_session on the caller's leg
  const number = a.kind === 'out-busy' ? BUSY_NUMBER : `+7495${String(2000000 + a.n).padStart(7, '0')}`;
  const leg = sw.extensionInbound(ANSWERING(a.n), number, { uuid });
  onStart(uuid);
  sw.create(leg);
  leg.setVar('effective_caller_id_number', '4951234567');
  const b = sw.gatewayOutbound(number, leg, { callerIdNumber: '4951234567' });
  leg.setVar('originate_disposition', 'failure');
  const out = await ringPstn(sw, b, 60_000, () => sw.progressMedia(leg));
  if (!out.answered) {
    leg.setVar('last_bridge_hangup_cause', out.cause);
    if (out.sipStatus) leg.setVar('last_bridge_proto_specific_hangup_cause', `sip:${out.sipStatus}`);
    await sw.wait(20);
    sw.hangup(leg, out.cause, { disposition: 'send_refuse' });
    sw.complete(leg);
    return { uuid, recorded: false };
  }
  sw.answer(leg);
  leg.setVar('originate_disposition', 'SUCCESS');
  sw.startRecorder(leg, sw.recordingPath(uuid));
  sw.bridge(leg, b);
  await talk(sw, talkMs, [leg, b]);
  await endBridge(sw, leg, b, leg);
  return { uuid, recorded: true };
}

/**
 * The simulator's own first call (compiling its scenarios and event encoding, a young-generation
 * GC of this process that the first call's allocations set off: 5-15 ms late on the first card,
 * measured) is not the service's card latency: one call of each kind that registers first is
 * played on a switch of its own, to a client that discards its events, before the measured calls.
 */
export async function warmSimulator(recordingsDir: string): Promise<void> {
  const sim = await startFreeswitchSim({ recordingsDir, speed: 0 });
  office(sim.sw);
  const sink = net.connect(sim.port, sim.host).resume();
  sink.write(`auth ${sim.password}\n\nevent json ALL\n\n`);
  await sim.commands.next((c) => c.line.startsWith('event'));
  for (const kind of ['in-answered', 'out-answered'] as const) await play(sim.sw, { at: 0, n: 0, kind }, 0, () => {});
  sink.destroy();
  await sim.close();
}
