/**
 * The edge between the wire and the call model: an EslEvent becomes a typed
 * ChannelEvent, or a clear reason why not. Only the headers the model reads are
 * taken, each checked (freeswitch-esl.md §2, fixtures/README.md "What a call model
 * has to handle").
 */
import type { EslEvent } from '../esl/codec.js';
import { Fsb24Error } from '../errors.js';
import { UUID } from '../patterns.js';

/** Events the model subscribes to (freeswitch-esl.md §2.2). */
export const CHANNEL_EVENT_NAMES = [
  'CHANNEL_CREATE',
  'CHANNEL_PROGRESS',
  'CHANNEL_PROGRESS_MEDIA',
  'CHANNEL_ANSWER',
  'CHANNEL_BRIDGE',
  'CHANNEL_UNBRIDGE',
  'CHANNEL_HANGUP',
  'CHANNEL_HANGUP_COMPLETE',
  'CHANNEL_DESTROY',
  'RECORD_START',
  'RECORD_STOP',
] as const;
export type ChannelEventName = (typeof CHANNEL_EVENT_NAMES)[number];

const NAMES = new Set<string>(CHANNEL_EVENT_NAMES);

/** Channel variables the model reads; others are kept only when configured (a CDR keeps the same: lib/cdr/). */
export const MODEL_VARS = [
  'sofia_profile_name',
  'sip_gateway',
  'sip_gateway_name',
  'originator',
  'originating_leg_uuid',
  'dialed_user',
  'user_name',
  'sip_from_user',
  'sip_to_user',
  'sip_req_user',
  'sip_term_status',
  'sip_hangup_disposition',
  'last_bridge_hangup_cause',
  'last_bridge_proto_specific_hangup_cause',
  'originate_disposition',
  'sip_network_ip',
  'b24_call_id',
  'b24_kind',
  'b24_employee',
  'b24_client',
  'b24_line',
  'b24_callback',
  'billsec',
  'billmsec',
  'duration',
  'effective_caller_id_number',
  'origination_caller_id_number',
  // the tenant domain (fixtures/esl/tenants/README.md), best first
  'domain_name',
  'dialed_domain',
  'sip_req_host',
  'sip_to_host',
] as const;

export interface ChannelEvent {
  name: ChannelEventName;
  uuid: string;
  /** Event-Date-Timestamp, µs since the epoch. */
  atUs: number;
  direction: 'inbound' | 'outbound';
  channelName: string;
  callerNumber: string;
  destination: string;
  calleeNumber: string | undefined;
  /** `Other-Leg-Unique-ID` with `Other-Type` (originator: this leg was created by it). */
  otherLeg: { uuid: string; type: 'originator' | 'originatee' } | undefined;
  bridgeA: string | undefined;
  bridgeB: string | undefined;
  hangupCause: string | undefined;
  /** `Channel-Call-State` as sent: the state before the event (fixtures/README.md). */
  callState: string;
  /** µs on the switch's clock (`Caller-Channel-*-Time`); 0 when it has not happened. */
  answeredUs: number;
  hangupUs: number;
  /** When this leg was last bridged (`Caller-Channel-Bridged-Time`; a transfer's re-bridge moves it). */
  bridgedUs: number;
  recordFile: string | undefined;
  vars: ReadonlyMap<string, string>;
  /** Made up after a (re)connect from `show channels` (lib/calls/resync.ts), not sent by the switch. */
  synthetic?: true;
}

export class EventParseError extends Fsb24Error<'EVENT_ERR_PARSE', { uuid: string | undefined }> {
  override readonly name = 'EventParseError';
  constructor(message: string, uuid: string | undefined) {
    super('EVENT_ERR_PARSE', message, { uuid });
  }

  /** The channel's Unique-ID, when the event had one. */
  get uuid(): string | undefined {
    return this.context.uuid;
  }
}

/**
 * A copy of a value the model keeps: the decoder's values are slices of the event's whole
 * text (lib/esl/codec.ts), and a kept slice would keep those kilobytes alive per leg.
 */
function own(s: string): string;
function own(s: string | undefined): string | undefined;
function own(s: string | undefined): string | undefined {
  // V8 copies slices shorter than 13 characters; a longer one is copied by flattening a concatenation
  return s === undefined || s.length < 13 ? s : (' ' + s).slice(1);
}

function us(v: string | undefined): number {
  if (!v) return 0;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

/** null: not a channel event we model (CUSTOM, HEARTBEAT, BACKGROUND_JOB …). Throws on a malformed one. */
export function toChannelEvent(e: EslEvent, extraVars: readonly string[] = []): ChannelEvent | null {
  const name = e.name;
  if (!NAMES.has(name)) return null;
  const uuid = e.get('Unique-ID');
  if (!uuid || !UUID.test(uuid.toLowerCase())) throw new EventParseError(`${name} without a valid Unique-ID`, uuid);
  const direction = e.get('Call-Direction');
  if (direction !== 'inbound' && direction !== 'outbound')
    throw new EventParseError(`${name} with Call-Direction ${String(direction)}`, uuid);
  const atUs = us(e.get('Event-Date-Timestamp'));
  if (atUs === 0) throw new EventParseError(`${name} without Event-Date-Timestamp`, uuid);
  const vars = new Map<string, string>();
  for (const v of [...MODEL_VARS, ...extraVars]) {
    const value = e.variable(v);
    if (value !== undefined && value !== '') vars.set(v, own(value));
  }
  const otherUuid = e.get('Other-Leg-Unique-ID');
  const otherType = e.get('Other-Type');
  return {
    name: name as ChannelEventName,
    uuid: own(uuid.toLowerCase()),
    atUs,
    direction,
    channelName: own(e.get('Channel-Name') ?? ''),
    callerNumber: own(e.get('Caller-Caller-ID-Number') ?? ''),
    destination: own(e.get('Caller-Destination-Number') ?? ''),
    calleeNumber: own(e.get('Caller-Callee-ID-Number')),
    otherLeg:
      otherUuid && (otherType === 'originator' || otherType === 'originatee')
        ? { uuid: own(otherUuid.toLowerCase()), type: otherType }
        : undefined,
    bridgeA: own(e.get('Bridge-A-Unique-ID')?.toLowerCase()),
    bridgeB: own(e.get('Bridge-B-Unique-ID')?.toLowerCase()),
    hangupCause: own(e.get('Hangup-Cause')),
    callState: own(e.get('Channel-Call-State') ?? ''),
    answeredUs: us(e.get('Caller-Channel-Answered-Time')),
    hangupUs: us(e.get('Caller-Channel-Hangup-Time')),
    bridgedUs: us(e.get('Caller-Channel-Bridged-Time')),
    recordFile: own(e.get('Record-File-Path')),
    vars,
  };
}
