/** Legs moving between calls and ending, for the call model: attended transfer, unanswered employee legs, lost legs. */
import type { ChannelEvent } from '../events/channel-event.js';
import type { Effect } from './effects.js';
import type { CallState, LegState } from './state.js';
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

/** After a reconnect: the legs the switch no longer has are closed (hung up now if not before), with their calls. */
export function closeDeadLegs(
  legs: Map<string, LegState>,
  liveUuids: ReadonlySet<string>,
  nowUs: number,
): { dead: LegState[]; calls: Set<string> } {
  const dead = [...legs.values()].filter((l) => !liveUuids.has(l.uuid));
  const calls = new Set<string>();
  for (const leg of dead) {
    if (!leg.hungUp) {
      leg.hungUp = true;
      leg.hangupUs = nowUs;
    }
    leg.completed = true;
    leg.destroyed = true;
    if (leg.call) calls.add(leg.call);
  }
  return { dead, calls };
}
