/**
 * After a (re)connect the switch's own tables say what is live (freeswitch-esl.md §8).
 * Legs the model does not know yet (the service restarted mid-call) are turned into
 * synthetic CHANNEL_CREATE / CHANNEL_BRIDGE events, so the model rebuilds its calls;
 * the outbox's idempotency keys make a second register of a known call a no-op.
 */
import type { ChannelEvent } from '../events/channel-event.js';

/**
 * A row of `show channels as json` (freeswitch-esl.md §8), the columns used here. The
 * ESL layer's rows fit it as they are: plain values, no import from lib/esl.
 */
export interface LiveChannel {
  readonly uuid: string;
  /** 'inbound' or 'outbound', FreeSWITCH's view. */
  readonly direction: string;
  /** The channel name, e.g. sofia/external/+79161234567@carrier. */
  readonly name: string;
  readonly cid_num: string;
  readonly dest: string;
  readonly callstate: string;
  /** The call this channel belongs to (its own uuid, or its originator's). */
  readonly call_uuid: string;
  /** Seconds since the epoch, as text. */
  readonly created_epoch: string;
  /** ext@domain of a registered user's leg, else empty. */
  readonly presence_id: string;
}

/** A row of `show calls as json`: two bridged channels. */
export interface LiveBridge {
  readonly uuid: string;
  /** Empty while the channel is not bridged. */
  readonly b_uuid: string;
  readonly call_created_epoch: string;
}

export function synthesize(
  channels: readonly LiveChannel[],
  calls: readonly LiveBridge[],
  known: (uuid: string) => boolean,
  nowUs: number,
): ChannelEvent[] {
  const out: ChannelEvent[] = [];
  const sorted = [...channels].sort((a, b) => Number(a.created_epoch) - Number(b.created_epoch));
  for (const r of sorted) {
    if (known(r.uuid)) continue;
    const vars = new Map<string, string>();
    const profile = /^sofia\/([^/]+)\//.exec(r.name)?.[1];
    if (profile) vars.set('sofia_profile_name', profile);
    const parent = r.call_uuid && r.call_uuid !== r.uuid ? r.call_uuid : undefined;
    if (parent) vars.set('originator', parent);
    const ext = r.presence_id ? r.presence_id.split('@')[0] : undefined;
    if (r.direction === 'outbound' && ext) vars.set('dialed_user', ext);
    if (r.direction === 'inbound' && profile && !r.name.includes('gateway')) vars.set('user_name', r.cid_num);
    if (r.direction === 'inbound') vars.set('sip_to_user', r.dest);
    out.push({
      name: 'CHANNEL_CREATE',
      uuid: r.uuid,
      atUs: Number(r.created_epoch) * 1e6 || nowUs,
      direction: r.direction === 'inbound' ? 'inbound' : 'outbound',
      channelName: r.name,
      callerNumber: r.cid_num,
      destination: r.dest,
      calleeNumber: undefined,
      otherLeg: undefined,
      bridgeA: undefined,
      bridgeB: undefined,
      hangupCause: undefined,
      callState: r.callstate,
      answeredUs: 0,
      hangupUs: 0,
      recordFile: undefined,
      vars,
      synthetic: true,
    });
  }
  for (const c of calls) {
    if (!c.b_uuid || known(c.b_uuid)) continue;
    const at = Number(c.call_created_epoch) * 1e6 || nowUs;
    out.push({
      name: 'CHANNEL_BRIDGE',
      uuid: c.uuid,
      atUs: at,
      direction: 'inbound',
      channelName: '',
      callerNumber: '',
      destination: '',
      calleeNumber: undefined,
      otherLeg: undefined,
      bridgeA: c.uuid,
      bridgeB: c.b_uuid,
      hangupCause: undefined,
      callState: 'ACTIVE',
      answeredUs: at,
      hangupUs: 0,
      recordFile: undefined,
      vars: new Map(),
      synthetic: true,
    });
  }
  return out;
}
