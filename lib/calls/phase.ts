/**
 * Where a call is in its life, as the switch shows it (freeswitch-esl.md §3): one phase
 * per call, moved only by `nextPhase`. Whether Bitrix24 knows the call (registered) is
 * the other axis and is kept apart: an internal call can be answered and never sent,
 * a click-to-call is registered before any phone rings.
 */

export type CallPhase =
  /** A phone dialled out; not known yet where to (outgoing or internal), or a placed call before its phone rings. */
  | 'dialing'
  /** An incoming call in the IVR or a queue before the first phone rings (`registerHoldMs`); not SIP hold. */
  | 'held'
  /** A phone rings: an employee's for an incoming or placed call, the client's or colleague's for a dialled one. */
  | 'ringing'
  /** The client is bridged to someone (an IVR's answer is not this); stays so across transfers. */
  | 'answered'
  /** Every leg has hung up: the call was (or is being) finished. */
  | 'finished';

/** What moves a call on. */
export type PhaseEvent = 'ring' | 'bridge' | 'end';

/** How a call starts: an incoming one waits for its first phone, any other was dialled. */
export function initialPhase(kind: 'inbound' | 'outbound' | 'internal' | 'pending'): CallPhase {
  return kind === 'inbound' ? 'held' : 'dialing';
}

const RANK: Readonly<Record<CallPhase, number>> = { dialing: 0, held: 0, ringing: 1, answered: 2, finished: 3 };
const TARGET: Readonly<Record<PhaseEvent, CallPhase>> = { ring: 'ringing', bridge: 'answered', end: 'finished' };

/**
 * The phase after an event. Calls only move forward: a phone ringing in an answered call
 * (a blind transfer's new leg) leaves it answered; nothing moves a finished call.
 */
export function nextPhase(phase: CallPhase, event: PhaseEvent): CallPhase {
  const to = TARGET[event];
  return RANK[to] > RANK[phase] ? to : phase;
}
