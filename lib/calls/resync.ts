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

/** What the model already has, so a resync makes up only what it lacks. */
export interface ResyncView {
  /** The leg is in a call the model follows (or belongs to none). */
  placed(uuid: string): boolean;
  /** The two legs are in one call the model saw bridged. */
  knowsBridge(a: string, b: string): boolean;
}

/** µs on the switch's clock from an epoch column (whole seconds, as text); 0 when absent. */
const epochUs = (v: string | undefined): number => (Number(v) > 0 ? Number(v) * 1e6 : 0);

/**
 * Synthetic events for what the switch's tables show and the model lacks: a CHANNEL_CREATE per
 * unplaced leg (parents first, so a leg finds its call), a CHANNEL_BRIDGE per bridged pair the
 * model did not see bridged (`call_created_epoch`: when the switch wrote the pair, i.e. the
 * latest bridge, to the second: src/switch_core_sqldb.c inserts the `calls` row on
 * CHANNEL_BRIDGE and deletes it on UNBRIDGE). Neither table has an answer time: the leg's
 * events carry it (Caller-Channel-Answered-Time, billsec at its end). Times are the switch's:
 * `switchNowUs` (the switch's clock as last seen) only stands in for a missing epoch.
 */
export function synthesize(
  channels: readonly LiveChannel[],
  calls: readonly LiveBridge[],
  view: ResyncView,
  switchNowUs: number,
): ChannelEvent[] {
  const out: ChannelEvent[] = [];
  const depth = (r: LiveChannel): number => (r.call_uuid && r.call_uuid !== r.uuid ? 1 : 0);
  const sorted = [...channels].sort((a, b) => Number(a.created_epoch) - Number(b.created_epoch) || depth(a) - depth(b));
  const created = new Map<string, number>();
  for (const r of sorted) {
    const at = epochUs(r.created_epoch) || switchNowUs;
    created.set(r.uuid, at);
    if (view.placed(r.uuid)) continue;
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
      ...blank('CHANNEL_CREATE', r.uuid, at, r.direction === 'inbound' ? 'inbound' : 'outbound'),
      channelName: r.name,
      callerNumber: r.cid_num,
      destination: r.dest,
      callState: r.callstate,
      vars,
    });
  }
  for (const c of calls) {
    if (!c.b_uuid || view.knowsBridge(c.uuid, c.b_uuid)) continue;
    const at =
      epochUs(c.call_created_epoch) || Math.max(created.get(c.uuid) ?? 0, created.get(c.b_uuid) ?? 0) || switchNowUs;
    out.push({ ...blank('CHANNEL_BRIDGE', c.uuid, at, 'inbound'), bridgeA: c.uuid, bridgeB: c.b_uuid });
  }
  return out;
}

/** A recorder a previous run saw start on this call (stored): made known to a rebuilt call. */
export function recordStart(call: string, path: string, switchNowUs: number): ChannelEvent {
  return { ...blank('RECORD_START', call, switchNowUs, 'inbound'), recordFile: path };
}

function blank(
  name: 'CHANNEL_CREATE' | 'CHANNEL_BRIDGE' | 'RECORD_START',
  uuid: string,
  atUs: number,
  direction: 'inbound' | 'outbound',
): ChannelEvent {
  return {
    name,
    uuid,
    atUs,
    direction,
    channelName: '',
    callerNumber: '',
    destination: '',
    calleeNumber: undefined,
    otherLeg: undefined,
    bridgeA: undefined,
    bridgeB: undefined,
    hangupCause: undefined,
    callState: 'ACTIVE',
    answeredUs: 0,
    hangupUs: 0,
    bridgedUs: 0,
    recordFile: undefined,
    vars: new Map(),
    synthetic: true,
  };
}
