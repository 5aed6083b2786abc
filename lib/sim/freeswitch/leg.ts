/**
 * One simulated channel and the headers FreeSWITCH 1.11 puts on its events. Header
 * order, the Event-Calling-* values and which events carry `variable_*` follow the
 * captures in fixtures/esl (see test/unit/sim/fidelity.test.ts) and freeswitch-esl.md §2.
 */
import type { HeaderValue } from '../../esl/codec.js';

export type ChannelEventName =
  | 'CHANNEL_CREATE'
  | 'CHANNEL_PROGRESS'
  | 'CHANNEL_PROGRESS_MEDIA'
  | 'CHANNEL_ANSWER'
  | 'CHANNEL_BRIDGE'
  | 'CHANNEL_UNBRIDGE'
  | 'CHANNEL_HANGUP'
  | 'CHANNEL_HANGUP_COMPLETE'
  | 'CHANNEL_DESTROY'
  | 'RECORD_START'
  | 'RECORD_STOP';

export type CallState = 'DOWN' | 'RINGING' | 'EARLY' | 'ACTIVE' | 'HANGUP';
export type AnswerState = 'ringing' | 'early' | 'answered' | 'hangup';

/** Where each event is fired in the FreeSWITCH source, as the captures show it. */
const CALLING: Record<ChannelEventName, [string, string, string]> = {
  CHANNEL_CREATE: ['switch_core_state_machine.c', 'switch_core_session_run', '626'],
  CHANNEL_PROGRESS: ['switch_channel.c', 'switch_channel_perform_mark_ring_ready_value', '3507'],
  CHANNEL_PROGRESS_MEDIA: ['switch_channel.c', 'switch_channel_perform_mark_pre_answered', '3562'],
  CHANNEL_ANSWER: ['switch_channel.c', 'switch_channel_perform_mark_answered', '3848'],
  CHANNEL_BRIDGE: ['switch_ivr_bridge.c', 'switch_ivr_multi_threaded_bridge', '1689'],
  CHANNEL_UNBRIDGE: ['switch_ivr_bridge.c', 'switch_ivr_multi_threaded_bridge', '1879'],
  CHANNEL_HANGUP: ['switch_channel.c', 'switch_channel_perform_hangup', '3447'],
  CHANNEL_HANGUP_COMPLETE: ['switch_core_state_machine.c', 'switch_core_session_reporting_state', '943'],
  CHANNEL_DESTROY: ['switch_core_session.c', 'switch_core_session_perform_destroy', '1588'],
  RECORD_START: ['switch_ivr_async.c', 'record_callback', '1482'],
  RECORD_STOP: ['switch_ivr_async.c', 'send_record_stop_event', '1241'],
};

/** hangup_cause_q850 of a hangup cause (16, NORMAL_CLEARING, when not listed). */
const CAUSE_Q850: Record<string, string> = {
  NORMAL_CLEARING: '16',
  USER_BUSY: '17',
  NO_USER_RESPONSE: '18',
  NO_ANSWER: '19',
  CALL_REJECTED: '21',
  UNALLOCATED_NUMBER: '1',
  ORIGINATOR_CANCEL: '487',
  LOSE_RACE: '702',
  USER_NOT_REGISTERED: '806',
  ATTENDED_TRANSFER: '801',
  BLIND_TRANSFER: '800',
  MANAGER_REQUEST: '703',
  NORMAL_TEMPORARY_FAILURE: '41',
};

export function q850(cause: string): string {
  return CAUSE_Q850[cause] ?? '16';
}

const STATE_NUMBER: Record<string, string> = {
  CS_NEW: '0',
  CS_INIT: '1',
  CS_ROUTING: '2',
  CS_SOFT_EXECUTE: '3',
  CS_EXECUTE: '4',
  CS_EXCHANGE_MEDIA: '5',
  CS_PARK: '6',
  CS_CONSUME_MEDIA: '7',
  CS_HIBERNATE: '8',
  CS_RESET: '9',
  CS_HANGUP: '10',
  CS_REPORTING: '11',
  CS_DESTROY: '12',
};

export interface Switchboard {
  coreUuid: string;
  hostname: string;
  ipv4: string;
  ipv6: string;
  /** Virtual clock, µs since the epoch. */
  nowUs(): number;
  nextSequence(): number;
}

export interface LegInit {
  uuid: string;
  direction: 'inbound' | 'outbound';
  profile: string;
  channelName: string;
  presenceId?: string;
  callerIdName: string;
  callerIdNumber: string;
  calleeIdName?: string;
  calleeIdNumber?: string;
  destination: string;
  context: string;
  source: string;
  username?: string;
  networkAddr?: string;
  hitDialplan: boolean;
  variables: Array<[string, HeaderValue]>;
}

/** A channel's times in µs (0 = not yet), as in the Caller-Channel-*-Time headers. */
interface Times {
  created: number;
  answered: number;
  progress: number;
  progressMedia: number;
  hangup: number;
  transfer: number;
  bridged: number;
}

export class Leg {
  readonly uuid: string;
  readonly init: LegInit;
  state = 'CS_INIT';
  stateNumber = '2';
  callState: CallState = 'DOWN';
  answerState: AnswerState = 'ringing';
  hangupCause: string | null = null;
  callUuid: string;
  other: Leg | null = null;
  /** Legs this one originated (bridge/originate), oldest first. */
  readonly originated: Leg[] = [];
  otherType: 'originator' | 'originatee' | null = null;
  callerIdName: string;
  callerIdNumber: string;
  calleeIdName: string | undefined;
  calleeIdNumber: string | undefined;
  readonly times: Times;
  private readonly vars = new Map<string, HeaderValue>();
  hasMedia = false;
  reported = false;
  destroyed = false;
  /** An API command (uuid_transfer) took the call over from the scenario that started it. */
  takenOver = false;
  /** Caller-Dialplan: absent on a leg the originate API made until it is routed into a dialplan (captures). */
  dialplan: string | null;

  constructor(
    private readonly sw: Switchboard,
    init: LegInit,
  ) {
    this.init = init;
    this.uuid = init.uuid;
    this.callUuid = init.uuid;
    this.callerIdName = init.callerIdName;
    this.callerIdNumber = init.callerIdNumber;
    this.calleeIdName = init.calleeIdName;
    this.calleeIdNumber = init.calleeIdNumber;
    this.dialplan = init.source === 'src/switch_ivr_originate.c' ? null : 'XML';
    const now = sw.nowUs();
    this.times = { created: now, answered: 0, progress: 0, progressMedia: 0, hangup: 0, transfer: 0, bridged: 0 };
    for (const [k, v] of init.variables) this.vars.set(k, v);
  }

  setVar(name: string, value: HeaderValue): void {
    this.vars.delete(name); // FreeSWITCH appends a re-set variable at the end
    this.vars.set(name, value);
  }

  getVar(name: string): HeaderValue | undefined {
    return this.vars.get(name);
  }

  setState(state: string): void {
    this.state = state;
    this.stateNumber = STATE_NUMBER[state] ?? this.stateNumber;
  }

  /** Build the header list of one event on this leg. */
  headers(
    name: ChannelEventName,
    extra: { before?: Array<[string, string]>; after?: Array<[string, string]>; tail?: Array<[string, string]> } = {},
  ): Array<[string, HeaderValue]> {
    const out: Array<[string, HeaderValue]> = commonHeaders(this.sw, name, CALLING[name]);
    if (name === 'CHANNEL_HANGUP_COMPLETE' && this.hangupCause) out.push(['Hangup-Cause', this.hangupCause]);
    if (extra.before) out.push(...extra.before);
    // CHANNEL_CREATE says CS_INIT while the state number already says 2 (§2.1)
    out.push(
      ['Channel-State', this.state],
      ['Channel-Call-State', this.callState],
      ['Channel-State-Number', this.stateNumber],
    );
    out.push(['Channel-Name', this.init.channelName], ['Unique-ID', this.uuid]);
    out.push(['Call-Direction', this.init.direction], ['Presence-Call-Direction', this.init.direction]);
    out.push(['Channel-HIT-Dialplan', String(this.init.hitDialplan)]);
    if (this.init.presenceId) out.push(['Channel-Presence-ID', this.init.presenceId]);
    out.push(['Channel-Call-UUID', this.callUuid], ['Answer-State', this.answerState]);
    if (this.hangupCause) out.push(['Hangup-Cause', this.hangupCause]);
    if (this.hasMedia) {
      out.push(
        ['Channel-Read-Codec-Name', 'PCMA'],
        ['Channel-Read-Codec-Rate', '8000'],
        ['Channel-Read-Codec-Bit-Rate', '64000'],
        ['Channel-Write-Codec-Name', 'PCMA'],
        ['Channel-Write-Codec-Rate', '8000'],
        ['Channel-Write-Codec-Bit-Rate', '64000'],
      );
    }
    out.push(...this.profileHeaders('Caller', true));
    if (this.other && this.otherType) {
      out.push(['Other-Type', this.otherType], ...this.other.profileHeaders('Other-Leg', false));
    }
    if (extra.after) out.push(...extra.after);
    for (const [k, v] of this.vars) out.push([`variable_${k}`, v]);
    if (extra.tail) out.push(...extra.tail);
    return out;
  }

  private profileHeaders(prefix: string, own: boolean): Array<[string, string]> {
    const i = this.init;
    const h: Array<[string, string]> = [
      [`${prefix}-Direction`, i.direction],
      [`${prefix}-Logical-Direction`, i.direction],
    ];
    if (i.username) h.push([`${prefix}-Username`, i.username]);
    if (this.dialplan) h.push([`${prefix}-Dialplan`, this.dialplan]);
    h.push([`${prefix}-Caller-ID-Name`, this.callerIdName], [`${prefix}-Caller-ID-Number`, this.callerIdNumber]);
    h.push([`${prefix}-Orig-Caller-ID-Name`, i.callerIdName], [`${prefix}-Orig-Caller-ID-Number`, i.callerIdNumber]);
    if (this.calleeIdName) h.push([`${prefix}-Callee-ID-Name`, this.calleeIdName]);
    if (this.calleeIdNumber) h.push([`${prefix}-Callee-ID-Number`, this.calleeIdNumber]);
    if (i.networkAddr) h.push([`${prefix}-Network-Addr`, i.networkAddr]);
    h.push([`${prefix}-ANI`, i.callerIdNumber], [`${prefix}-Destination-Number`, i.destination]);
    h.push([`${prefix}-Unique-ID`, this.uuid], [`${prefix}-Source`, i.source], [`${prefix}-Context`, i.context]);
    h.push([`${prefix}-Channel-Name`, i.channelName]);
    if (own) h.push([`${prefix}-Profile-Index`, '1']);
    const t = this.times;
    h.push(
      [`${prefix}-Profile-Created-Time`, String(t.created)],
      [`${prefix}-Channel-Created-Time`, String(t.created)],
      [`${prefix}-Channel-Answered-Time`, String(t.answered)],
      [`${prefix}-Channel-Progress-Time`, String(t.progress)],
      [`${prefix}-Channel-Progress-Media-Time`, String(t.progressMedia)],
      [`${prefix}-Channel-Hangup-Time`, String(t.hangup)],
      [`${prefix}-Channel-Transfer-Time`, String(t.transfer)],
      [`${prefix}-Channel-Resurrect-Time`, '0'],
      [`${prefix}-Channel-Bridged-Time`, String(t.bridged)],
      [`${prefix}-Channel-Last-Hold`, '0'],
      [`${prefix}-Channel-Hold-Accum`, '0'],
      [`${prefix}-Screen-Bit`, 'true'],
      [`${prefix}-Privacy-Hide-Name`, 'false'],
      [`${prefix}-Privacy-Hide-Number`, 'false'],
    );
    return h;
  }

  /** The CDR variables FreeSWITCH sets at hangup (§2.3): epochs, stamps, durations. */
  setCdrVariables(): void {
    const t = this.times;
    const end = t.hangup || this.sw.nowUs();
    const sec = (us: number): number => Math.floor(us / 1e6);
    const startS = sec(t.created);
    const endS = sec(end);
    const answerS = t.answered ? sec(t.answered) : 0;
    const bridgeS = t.bridged ? sec(t.bridged) : 0;
    const set = (k: string, v: number | string): void => this.setVar(k, String(v));
    set('start_stamp', localStamp(t.created));
    if (t.answered) set('answer_stamp', localStamp(t.answered));
    if (t.bridged) set('bridge_stamp', localStamp(t.bridged));
    set('end_stamp', localStamp(end));
    set('start_epoch', startS);
    set('start_uepoch', t.created);
    set('answer_epoch', answerS);
    set('answer_uepoch', t.answered);
    set('bridge_epoch', bridgeS);
    set('bridge_uepoch', t.bridged);
    set('progress_epoch', t.progress ? sec(t.progress) : 0);
    set('progress_media_epoch', t.progressMedia ? sec(t.progressMedia) : 0);
    set('end_epoch', endS);
    set('end_uepoch', end);
    set('duration', endS - startS);
    set('mduration', Math.round((end - t.created) / 1000));
    set('billsec', answerS ? endS - answerS : 0);
    set('billmsec', t.answered ? Math.round((end - t.answered) / 1000) : 0);
    set('billusec', t.answered ? end - t.answered : 0);
    set('answersec', answerS ? answerS - startS : 0);
    set('waitsec', bridgeS ? bridgeS - startS : 0);
  }
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** Local time as "%Y-%m-%d %H:%M:%S" (the simulator runs in UTC unless TZ says otherwise). */
export function localStamp(us: number): string {
  const d = new Date(Math.floor(us / 1000));
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** The block every event starts with, in FreeSWITCH's order (freeswitch-esl.md §1.5). */
export function commonHeaders(
  sw: Switchboard,
  name: string,
  calling: readonly [string, string, string],
): Array<[string, HeaderValue]> {
  const [file, func, line] = calling;
  return [
    ['Event-Name', name],
    ['Core-UUID', sw.coreUuid],
    ['FreeSWITCH-Hostname', sw.hostname],
    ['FreeSWITCH-Switchname', sw.hostname],
    ['FreeSWITCH-IPv4', sw.ipv4],
    ['FreeSWITCH-IPv6', sw.ipv6],
    ...dateHeaders(sw.nowUs()),
    ['Event-Calling-File', file],
    ['Event-Calling-Function', func],
    ['Event-Calling-Line-Number', line],
    ['Event-Sequence', String(sw.nextSequence())],
  ];
}

export function dateHeaders(us: number): Array<[string, string]> {
  const d = new Date(Math.floor(us / 1000));
  return [
    ['Event-Date-Local', localStamp(us)],
    ['Event-Date-GMT', d.toUTCString()],
    ['Event-Date-Timestamp', String(us)],
  ];
}
