/**
 * The card policy, in one place: whether an employee's call card should be visible after
 * something happened to them in a call (bitrix24-telephony.md: register SHOW, show, hide).
 * The model tells what happened; this decides; the model only keeps the shown set.
 */
import type { CardPolicy } from './config.js';
import type { Effect } from './effects.js';

export type { CardPolicy } from './config.js';

/** Where the call came from, as far as cards go. */
export type CardOrigin =
  /** A client called in (TYPE 2). */
  | 'incoming'
  /** An employee dialled the client from the phone (TYPE 1). */
  | 'dialled'
  /** Bitrix24 placed it, click-to-call or callback: the employee's phone rings first. */
  | 'placed'
  /** Between two phones: never a card. */
  | 'internal';

/** What the card bookkeeping needs of a call. */
export interface CardCall {
  key: string;
  kind: 'inbound' | 'outbound' | 'internal' | 'pending';
  b24CallId: string | null;
  /** Extensions whose card is visible now. */
  shown: Set<string>;
}

/** A call's origin from what the model knows of it: Bitrix24 placed it when it came with a CALL_ID. */
export function originOf(call: Pick<CardCall, 'kind' | 'b24CallId'>): CardOrigin {
  if (call.kind === 'inbound') return 'incoming';
  if (call.kind === 'internal') return 'internal';
  return call.b24CallId ? 'placed' : 'dialled';
}

/** What happened to one employee in the call. */
export type CardMoment =
  /** Their phone rings for the call (a dialled call: they dialled and the client's phone rings). */
  | 'rings'
  /** They picked up (a placed call's phone) or were bridged to the client. */
  | 'answers'
  /** Someone else answered the call they were offered. */
  | 'taken'
  /** One of their phones stopped ringing and they did not talk (lost the race, declined, busy). */
  | 'stops'
  /** The call is theirs but no phone of theirs rings (routed manager, IVR hold ran out, ended early). */
  | 'assigned';

/** What else the model knows about that employee when one of their phones stops. */
export interface StopFacts {
  /** They talk to the client (their other leg did). */
  talking: boolean;
  /** Another of their phones still rings for this call. */
  ringingElsewhere: boolean;
  /** The caller (the call's first leg) hung up: the finish closes every card at once. */
  callerGone: boolean;
}

/**
 * Should the card be visible after this moment? true: shown; false: hidden; null: leave
 * it as it is. 'ring' shows while the phone rings and while they talk; 'answer' once they
 * talk; 'never' not at all. A call dialled from the phone gets its card with the register
 * (SHOW=1) under 'ring' only; an answer shows nothing more there.
 */
export function wantsCard(
  policy: CardPolicy,
  origin: CardOrigin,
  moment: CardMoment,
  stop?: StopFacts,
): boolean | null {
  if (policy === 'never' || origin === 'internal') return false;
  switch (moment) {
    case 'rings':
      return policy === 'ring' ? true : null;
    case 'answers':
      if (origin === 'incoming') return true;
      if (origin === 'placed') return policy === 'answer' ? true : null;
      return null;
    case 'taken':
      return false;
    case 'stops':
      if (stop && (stop.talking || stop.ringingElsewhere || stop.callerGone)) return null;
      return false;
    case 'assigned':
      return null;
  }
}

/** The effect that brings a card from what it is to what is wanted, if any. */
export function cardStep(shown: boolean, want: boolean | null): 'show' | 'hide' | null {
  if (want === true && !shown) return 'show';
  if (want === false && shown) return 'hide';
  return null;
}

/** The SHOW flag of a register: the card goes out with it only when it is wanted right away. */
export function showOnRegister(policy: CardPolicy, origin: CardOrigin, moment: CardMoment): boolean {
  return wantsCard(policy, origin, moment) === true;
}

/** An extension's policy: its own when configured, else the service's. */
export function policyFor(ext: string, all: CardPolicy, byExtension: Readonly<Record<string, CardPolicy>>): CardPolicy {
  return byExtension[ext] ?? all;
}

/** The policy applied to calls: the call model asks it for every card and SHOW flag. */
export class Cards {
  constructor(
    private readonly all: CardPolicy,
    private readonly byExtension: Readonly<Record<string, CardPolicy>>,
  ) {}

  /** The SHOW flag of a register for this employee (null: nobody yet) at this moment. */
  onRegister(call: CardCall, ext: string | null, moment: CardMoment): boolean {
    return ext !== null && showOnRegister(policyFor(ext, this.all, this.byExtension), originOf(call), moment);
  }

  /** Something happened to this employee: their card's change, already noted in `call.shown`. */
  step(call: CardCall, ext: string, moment: CardMoment, stop?: StopFacts): 'show' | 'hide' | null {
    const want = wantsCard(policyFor(ext, this.all, this.byExtension), originOf(call), moment, stop);
    const step = cardStep(call.shown.has(ext), want);
    if (step === 'show') call.shown.add(ext);
    else if (step === 'hide') call.shown.delete(ext);
    return step;
  }

  /** As `step`, and the show or hide effect for it. */
  change(call: CardCall, ext: string, moment: CardMoment, out: Effect[], stop?: StopFacts): void {
    const step = this.step(call, ext, moment, stop);
    if (step) out.push({ kind: step, call: call.key, extensions: [ext] });
  }
}
