/**
 * Call flows shared by the scripted scenarios and by `originate`: each reproduces the
 * event order of a capture in fixtures/esl (named next to each flow).
 */
import type { Leg } from './leg.js';
import type { SimSwitch, PstnMode } from './switch.js';

/** Resolves when a leg is hung up from outside (uuid_kill, a transfer). */
export function killed(leg: Leg): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (leg.hangupCause) resolve();
      else killWaiters.set(leg.uuid, [...(killWaiters.get(leg.uuid) ?? []), resolve]);
    };
    check();
  });
}

const killWaiters = new Map<string, Array<() => void>>();

export function notifyKilled(leg: Leg): void {
  for (const w of killWaiters.get(leg.uuid) ?? []) w();
  killWaiters.delete(leg.uuid);
}

/** Talk for `ms` of virtual time, or until one of the legs is hung up from outside. */
export async function talk(sw: SimSwitch, ms: number, legs: Leg[]): Promise<void> {
  if (ms < 0) {
    await Promise.race(legs.map((l) => killed(l)));
    return;
  }
  const step = 1000;
  for (let t = 0; t < ms; t += step) {
    if (legs.some((l) => l.hangupCause || l.takenOver)) return;
    await sw.wait(Math.min(step, ms - t));
  }
}

/**
 * End a bridged pair: `first` hangs up (BYE received), the partner follows.
 * Order as in inbound-ringgroup-answered / click2call-answered: HANGUP(first),
 * HANGUP(other), UNBRIDGE(a), complete(other), complete(first) (its recorder closes first, if any).
 */
const ended = new WeakSet<Leg>();

export async function endBridge(sw: SimSwitch, a: Leg, b: Leg, first: Leg): Promise<void> {
  // a kill and the flow that owns the call may both end it: only the first does
  if (ended.has(a) || ended.has(b)) return;
  ended.add(a);
  ended.add(b);
  if (first === a) {
    // the caller side leaves (inbound-ringgroup-answered): both hang up, then the bridge ends
    if (!a.hangupCause) sw.hangup(a, 'NORMAL_CLEARING', { sipTermStatus: '200', disposition: 'recv_bye' });
    await sw.wait(20);
    if (!b.hangupCause) sw.hangup(b, 'NORMAL_CLEARING', { disposition: 'send_bye' });
    b.setVar('last_bridge_hangup_cause', 'NORMAL_CLEARING');
    sw.unbridge(a, b);
    sw.complete(b);
  } else {
    // the other side leaves (click2call-answered): its leg reports, the bridge ends, then A hangs up
    if (!b.hangupCause) sw.hangup(b, 'NORMAL_CLEARING', { sipTermStatus: '200', disposition: 'recv_bye' });
    sw.complete(b, { destroy: false });
    a.setVar('last_bridge_hangup_cause', 'NORMAL_CLEARING');
    sw.unbridge(a, b);
    if (!a.hangupCause) sw.hangup(a, 'NORMAL_CLEARING', { disposition: 'send_bye' });
    sw.complete(b);
  }
  sw.complete(a);
  notifyKilled(a);
  notifyKilled(b);
}

export interface PstnOutcome {
  answered: boolean;
  cause: string;
  sipStatus?: string;
}

/** How a PSTN number behaves, from the switch's script (default: answer after 1 s). */
export function pstnBehaviour(sw: SimSwitch, number: string): { mode: PstnMode; ringMs: number; talkMs: number } {
  const p = sw.pstn[number] ?? sw.pstn['*'];
  return { mode: p?.mode ?? 'answer', ringMs: p?.ringMs ?? 1000, talkMs: p?.talkMs ?? sw.defaultTalkMs };
}

/** Ring a gateway leg until it answers or fails (outbound-answered / outbound-busy). */
export async function ringPstn(
  sw: SimSwitch,
  leg: Leg,
  timeoutMs: number,
  onRinging?: () => void,
): Promise<PstnOutcome> {
  const { mode, ringMs } = pstnBehaviour(sw, leg.init.destination);
  sw.create(leg);
  if (mode === 'unallocated') {
    await sw.wait(100);
    sw.hangup(leg, 'UNALLOCATED_NUMBER', { sipTermStatus: '404', disposition: 'recv_refuse' });
    sw.complete(leg);
    return { answered: false, cause: 'UNALLOCATED_NUMBER', sipStatus: '404' };
  }
  sw.progress(leg);
  onRinging?.();
  if (mode === 'noanswer') {
    await sw.wait(timeoutMs);
    sw.hangup(leg, 'NO_ANSWER', { disposition: 'send_cancel' });
    sw.complete(leg);
    return { answered: false, cause: 'NO_ANSWER' };
  }
  await sw.wait(ringMs);
  if (leg.hangupCause) {
    sw.complete(leg);
    return { answered: false, cause: leg.hangupCause };
  }
  if (mode === 'busy' || mode === 'reject') {
    const [cause, status] = mode === 'busy' ? ['USER_BUSY', '486'] : ['CALL_REJECTED', '603'];
    sw.hangup(leg, cause, { sipTermStatus: status, disposition: 'recv_refuse' });
    sw.complete(leg);
    return { answered: false, cause, sipStatus: status };
  }
  sw.answer(leg);
  return { answered: true, cause: 'SUCCESS' };
}

/** Ring a phone: it answers, refuses or rings until cancelled/timed out. */
export async function ringPhone(
  sw: SimSwitch,
  leg: Leg,
  timeoutMs: number,
  race?: { won: () => boolean },
): Promise<PstnOutcome> {
  const ext = leg.init.destination;
  // the user of the domain the leg dialled (user/<ext>@<domain>)
  const dialled = leg.getVar('dialed_domain');
  const domain = typeof dialled === 'string' ? dialled : undefined;
  const setup = sw.extension(ext, domain) ?? { registered: false, mode: 'answer' as const, ringMs: 2000 };
  sw.create(leg);
  sw.progress(leg);
  if (setup.mode === 'noanswer' || setup.ringMs >= timeoutMs) {
    await sw.wait(timeoutMs);
    return { answered: false, cause: 'NO_ANSWER' };
  }
  await sw.wait(setup.ringMs);
  if (leg.hangupCause || race?.won()) return { answered: false, cause: leg.hangupCause ?? 'LOSE_RACE' };
  if (setup.mode === 'busy') {
    sw.hangup(leg, 'USER_BUSY', { sipTermStatus: '486', disposition: 'recv_refuse' });
    sw.complete(leg);
    return { answered: false, cause: 'USER_BUSY', sipStatus: '486' };
  }
  if (setup.mode === 'reject') {
    sw.hangup(leg, 'CALL_REJECTED', { sipTermStatus: '603', disposition: 'recv_refuse' });
    sw.complete(leg);
    return { answered: false, cause: 'CALL_REJECTED', sipStatus: '603' };
  }
  sw.answer(leg);
  return { answered: true, cause: 'SUCCESS' };
}
