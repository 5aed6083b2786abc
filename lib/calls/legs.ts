/** Legs moving between calls and ending, for the call model: attended transfer, unanswered employee legs, lost legs. */
import type { ChannelEvent } from '../events/channel-event.js';
import type { Effect } from './effects.js';
import { chosenRecordings, type CallState, type LegState } from './state.js';
import type { Cards } from './cards.js';

/** Attended transfer: leg `b` of another (internal consultation) call joins `call`. */
export function joinByTransfer(
  calls: Map<string, CallState>,
  legs: Map<string, LegState>,
  call: CallState,
  b: LegState,
): void {
  const old = b.call ? calls.get(b.call) : undefined;
  if (old) {
    old.legs.delete(b.uuid);
    if ((old.kind === 'internal' || old.kind === 'pending') && !old.registered) {
      // the consultation call is over for Bitrix24: it was internal and never sent
      calls.delete(old.key);
      for (const uuid of old.legs) {
        const l = legs.get(uuid);
        if (l) l.call = null;
      }
    }
  }
  b.call = call.key;
  call.legs.add(b.uuid);
}

/** A leg hangs up: if it is an employee leg of an incoming call that ended without talking, its card is told. */
export function employeeLegEnded(
  ev: ChannelEvent,
  call: CallState,
  leg: LegState,
  cards: Cards,
  callerGone: boolean,
  out: Effect[],
): void {
  if (ev.name !== 'CHANNEL_HANGUP_COMPLETE' || ev.vars.get('billsec') !== '0' || leg.kind !== 'extension') return;
  if (call.kind !== 'inbound' || leg.uuid === call.anchor) return;
  // an employee leg that ended without talking: a ring-group loser, a hunt step, a busy phone
  if (leg.cause && leg.cause !== 'LOSE_RACE' && leg.cause !== 'ORIGINATOR_CANCEL') call.employeeCauses.push(leg.cause);
  call.ringingLegs.delete(leg.uuid);
  const ext = leg.extension;
  if (ext) {
    const ringingElsewhere = [...call.ringingLegs.values()].includes(ext);
    const stop = { talking: ext === call.employee, ringingElsewhere, callerGone };
    cards.change(call, ext, 'stops', out, stop);
  }
}

/**
 * After a reconnect: the legs the switch no longer has are closed with their calls; one whose
 * hang-up was not seen hung up after `lastSeenUs` (the switch's time of the last event before the gap).
 */
export function closeDeadLegs(
  legs: Map<string, LegState>,
  liveUuids: ReadonlySet<string>,
  lastSeenUs: number,
): { dead: LegState[]; calls: Set<string> } {
  const dead = [...legs.values()].filter((l) => !liveUuids.has(l.uuid));
  const calls = new Set<string>();
  for (const leg of dead) {
    if (!leg.completed) leg.endMissed = true;
    if (!leg.hungUp) {
      leg.hungUp = true;
      leg.hangupUs = Math.max(lastSeenUs, leg.firstBridgeUs, leg.answeredUs, leg.createdUs);
    }
    leg.completed = true;
    leg.destroyed = true;
    if (leg.call) calls.add(leg.call);
  }
  return { dead, calls };
}

/**
 * A recorder opened or closed a file (freeswitch-esl.md §6); only such files are attached: a call
 * rejected before answer names a path in the dialplan, but its recorder never starts (no RECORD_START).
 */
export function recorderReported(call: CallState, path: string, pick: 'all' | 'first' | 'last', out: Effect[]): void {
  if (call.recorded.has(path)) return;
  call.recorded.add(path);
  if (!call.recordings.includes(path)) call.recordings.push(path);
  // durable from here on: a restart, or a RECORD_STOP lost in a gap, still attaches it
  if (call.kind === 'inbound' || call.kind === 'outbound' || call.registered)
    out.push({ kind: 'recording', call: call.key, path });
  // a recorder that closes after the call was finished still gets attached
  if (call.phase === 'finished' && call.registered && chosenRecordings(call, pick).includes(path))
    out.push({ kind: 'attach', call: call.key, path });
}
