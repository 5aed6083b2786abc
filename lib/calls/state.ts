/**
 * The call model's state: one record per leg and per call, and what a finished call
 * reports (status, talk time, owner). Plain data and pure functions.
 */
import type { ChannelEvent } from '../events/channel-event.js';
import type { FinishEffect } from './effects.js';
import { initialPhase, type CallPhase } from './phase.js';
import { incomingStatus, outgoingStatus } from './status.js';

export type LegKind = 'trunk' | 'extension' | 'other';

export interface LegState {
  uuid: string;
  kind: LegKind;
  fsDirection: 'inbound' | 'outbound';
  extension: string | null;
  call: string | null;
  createdUs: number;
  answeredUs: number;
  hungUp: boolean;
  hangupUs: number;
  cause: string | undefined;
  sipTermStatus: string | undefined;
  firstBridgeUs: number;
  /**
   * `firstBridgeUs` is the leg's first bridge as the switch reported it (a CHANNEL_BRIDGE seen
   * live); false when it was read later (`show calls`, a later event's bridged time): then
   * it may be a transfer's re-bridge, and the switch's billsec is the talk time.
   */
  firstBridgeSure: boolean;
  /** The leg's end was never reported (it was gone when the event socket came back). */
  endMissed: boolean;
  completed: boolean;
  destroyed: boolean;
  billsec: number | null;
}

export interface CallState {
  key: string;
  kind: 'inbound' | 'outbound' | 'internal' | 'pending';
  anchor: string;
  trunkLeg: string | null;
  phone: string;
  line: string | null;
  startUs: number;
  /** Where the call is in its life (lib/calls/phase.ts moves it). */
  phase: CallPhase;
  /** Bitrix24 knows the call: the model registered it, or Bitrix24 did (click-to-call). */
  registered: boolean;
  /** Extensions that rang, in order, and the legs ringing them now. */
  rang: string[];
  ringingLegs: Map<string, string>;
  shown: Set<string>;
  /** The employee talking to the client now (or who dialled out). */
  employee: string | null;
  employeeCauses: string[];
  legs: Set<string>;
  /** Paths the dialplan named (recording variable) or a recorder reported. */
  recordings: string[];
  /** Paths a recorder really opened or closed (RECORD_START / RECORD_STOP). */
  recorded: Set<string>;
  /** The model may have missed some of this call's events (it lived through a reconnect or was adopted). */
  blind: boolean;
  b24CallId: string | null;
  b24Kind: string | null;
  /** µs after which an inbound call is registered even if no phone rang yet. */
  holdUntilUs: number;
  /** The responsible manager the dialplan routed this caller to (GET /route). */
  routedExtension: string | null;
}

/**
 * Talk time of the client's leg, always on the switch's clock: its billsec (FreeSWITCH's own
 * answer → hang-up) unless the leg was seen answered well before its first bridge (an IVR
 * answered it: billsec would count the IVR too), then hang-up minus first bridge. A leg whose
 * end was missed (no billsec) talked at least until the last event seen before the gap.
 */
export function talkSeconds(trunk: LegState): number {
  const bridgedLate =
    trunk.firstBridgeSure && trunk.answeredUs > 0 && trunk.firstBridgeUs - trunk.answeredUs > 1_000_000;
  if (trunk.billsec !== null && !bridgedLate) return trunk.billsec;
  const from = bridgedLate || !trunk.answeredUs ? trunk.firstBridgeUs : trunk.answeredUs;
  return Math.max(1, Math.round((trunk.hangupUs - from) / 1e6));
}

/** FAILED_REASON of an answered call whose end fell into an event-socket gap. */
export const GAP_REASON = 'the call ended while the event socket was down; the duration is a lower bound';

export const isoFromUs = (us: number): string =>
  new Date(Math.floor(us / 1000)).toISOString().replace(/\.\d{3}Z$/, '+00:00');

export function newLegState(
  ev: ChannelEvent,
  trunkProfiles: readonly string[],
  trunkIps: readonly string[] = [],
): LegState {
  const v = ev.vars;
  const profile = v.get('sofia_profile_name') ?? /^sofia\/([^/]+)\//.exec(ev.channelName)?.[1];
  const fromCarrier =
    ev.direction === 'inbound' && trunkIps.length > 0 && trunkIps.includes(v.get('sip_network_ip') ?? '');
  const trunk =
    v.has('sip_gateway') ||
    v.has('sip_gateway_name') ||
    fromCarrier ||
    (profile !== undefined && trunkProfiles.includes(profile));
  let extension: string | null = null;
  if (!trunk) {
    extension =
      ev.direction === 'outbound'
        ? (v.get('dialed_user') ?? ev.calleeNumber ?? null)
        : (v.get('user_name') ?? v.get('sip_from_user') ?? null);
  }
  return {
    uuid: ev.uuid,
    kind: trunk ? 'trunk' : extension ? 'extension' : 'other',
    fsDirection: ev.direction,
    extension,
    call: null,
    createdUs: ev.atUs,
    answeredUs: ev.answeredUs,
    hungUp: false,
    hangupUs: 0,
    cause: undefined,
    sipTermStatus: undefined,
    firstBridgeUs: 0,
    firstBridgeSure: false,
    endMissed: false,
    completed: false,
    destroyed: false,
    billsec: null,
  };
}

/** What any event of a leg says of its times, on the switch's clock (Caller-Channel-*-Time). */
export function noteTimes(leg: LegState, ev: ChannelEvent): void {
  if (ev.synthetic) return;
  if (ev.answeredUs > 0) leg.answeredUs = ev.answeredUs;
  // a bridge the model did not see itself (a gap): the switch's time of the leg's last bridge,
  // or the µs of the one `show calls` gave to the second
  const refine = !leg.firstBridgeSure && Math.abs(ev.bridgedUs - leg.firstBridgeUs) < 1e6;
  if (ev.bridgedUs > 0 && ev.name !== 'CHANNEL_BRIDGE' && (!leg.firstBridgeUs || refine))
    leg.firstBridgeUs = ev.bridgedUs;
}

export function newCallState(key: string, kind: CallState['kind'], atUs: number): CallState {
  return {
    key,
    kind,
    anchor: key,
    trunkLeg: null,
    phone: '',
    line: null,
    startUs: atUs,
    phase: initialPhase(kind),
    registered: false,
    rang: [],
    ringingLegs: new Map(),
    shown: new Set(),
    employee: null,
    employeeCauses: [],
    legs: new Set([key]),
    recordings: [],
    recorded: new Set(),
    blind: false,
    b24CallId: null,
    holdUntilUs: 0,
    routedExtension: null,
    b24Kind: null,
  };
}

/** A leg hangs up (CHANNEL_HANGUP) or is done (CHANNEL_HANGUP_COMPLETE, with billsec): what it says of itself. */
export function noteHangup(leg: LegState, ev: ChannelEvent): void {
  if (ev.name === 'CHANNEL_HANGUP_COMPLETE') {
    leg.completed = true;
    const billsec = Number(ev.vars.get('billsec'));
    if (Number.isInteger(billsec) && billsec >= 0) leg.billsec = billsec;
    if (ev.answeredUs) leg.answeredUs = ev.answeredUs;
  }
  if (!leg.hungUp) {
    leg.hungUp = true;
    leg.hangupUs = ev.hangupUs || ev.atUs;
  }
  leg.cause = leg.cause ?? ev.hangupCause;
  const sip = ev.vars.get('sip_term_status');
  if (sip) leg.sipTermStatus = sip;
}

/**
 * What a finished call reports: connected → 200 and the client's talk time; an
 * incoming call nobody took → missed (or busy/declined when every phone refused);
 * an outgoing one → the client's leg's SIP status or cause (603-S when the employee
 * gave up first). The employee who talked last owns it; unanswered, the phones that rang.
 * Asked as the call ends, before its phase moves on to finished.
 */
export function finishEffect(
  call: CallState,
  legOf: (uuid: string) => LegState | undefined,
  addToChat: boolean,
): FinishEffect {
  const trunk = call.trunkLeg ? legOf(call.trunkLeg) : undefined;
  const connected = call.phase === 'answered' && trunk !== undefined && trunk.firstBridgeUs > 0;
  const duration = connected && trunk ? talkSeconds(trunk) : 0;
  const reason = connected && trunk?.endMissed ? { reason: GAP_REASON } : {};
  let status: string;
  if (connected) status = '200';
  else if (call.kind === 'inbound') status = incomingStatus(call.employeeCauses);
  else {
    // the deciding leg: the client's (trunk) leg when it existed, else the employee's
    const anchor = legOf(call.anchor);
    status = trunk
      ? outgoingStatus(trunk.sipTermStatus, trunk.cause)
      : outgoingStatus(anchor?.sipTermStatus, anchor?.cause);
    if (trunk && anchor && trunk.cause === 'ORIGINATOR_CANCEL') status = '603-S';
  }
  const first = call.employee ?? call.routedExtension;
  const candidates = first ? [first, ...call.rang.filter((e) => e !== first)] : [...call.rang];
  const direction =
    call.kind === 'inbound'
      ? 'incoming'
      : call.kind === 'internal'
        ? 'internal'
        : call.b24Kind === 'callback'
          ? 'callback'
          : 'outgoing';
  return {
    kind: 'finish',
    call: call.key,
    direction,
    extension: connected || call.kind !== 'inbound' ? call.employee : null,
    candidates,
    duration,
    status,
    addToChat,
    ...reason,
  };
}

/** The recordings to attach: really recorded (or, when events were missed, named), first, last or all. */
export function chosenRecordings(call: CallState, pick: 'all' | 'first' | 'last'): string[] {
  const real = call.recordings.filter((p) => call.blind || call.recorded.has(p));
  return pick === 'first' ? real.slice(0, 1) : pick === 'last' ? real.slice(-1) : real;
}

/** The DID an incoming trunk leg carries, from where the configuration says (freeswitch-esl.md §3.2). */
export function didOf(ev: ChannelEvent, source: 'sip_to_user' | 'sip_req_user' | 'destination'): string {
  const raw = source === 'destination' ? ev.destination : (ev.vars.get(source) ?? ev.destination);
  return raw.replace(/^\+/, '');
}
