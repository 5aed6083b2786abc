/**
 * The simulated switch: legs, registrations, a virtual clock and the event bus that
 * the ESL server fans out to its connections. Call primitives (create, progress,
 * answer, bridge, hangup, complete, record) reproduce the per-leg event order and
 * state headers seen in fixtures/esl; scenarios.ts and originate.ts compose them.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HeaderValue } from '../../esl/codec.js';
import { Leg, commonHeaders, localStamp, type ChannelEventName, type Switchboard } from './leg.js';
import { writeWav } from './wav.js';

export interface SimEvent {
  headers: Array<[string, HeaderValue]>;
  body: string | null;
}

export type ExtensionMode = 'answer' | 'noanswer' | 'busy' | 'reject';

export interface ExtensionSetup {
  registered: boolean;
  mode: ExtensionMode;
  /** How long it rings before answering or refusing. */
  ringMs: number;
}

export type PstnMode = 'answer' | 'noanswer' | 'busy' | 'reject' | 'unallocated';

export interface SimSwitchOptions {
  hostname?: string;
  domain?: string;
  /** Extensions and how their phones behave; unknown extensions are not registered. */
  extensions?: Record<string, Partial<ExtensionSetup>>;
  /** How the PSTN behind the gateway answers a number (default: answer after 1 s). */
  pstn?: Record<string, { mode: PstnMode; ringMs?: number; talkMs?: number }>;
  gateway?: string;
  trunkProfile?: string;
  carrierIp?: string;
  recordingsDir?: string;
  /** 0 = virtual time only (tests); N > 0 = also sleep ms/N of real time per step (demo). */
  speed?: number;
  /** Default talk time of calls the PSTN answers on an originate. */
  defaultTalkMs?: number;
}

const CAUSE_Q850: Record<string, string> = {
  NORMAL_CLEARING: '16', USER_BUSY: '17', NO_USER_RESPONSE: '18', NO_ANSWER: '19', CALL_REJECTED: '21',
  UNALLOCATED_NUMBER: '1', ORIGINATOR_CANCEL: '487', LOSE_RACE: '702', USER_NOT_REGISTERED: '806',
  ATTENDED_TRANSFER: '801', BLIND_TRANSFER: '800', MANAGER_REQUEST: '703', NORMAL_TEMPORARY_FAILURE: '41',
};

export interface HangupOptions {
  sipTermStatus?: string;
  disposition?: string;
}

export class SimSwitch implements Switchboard {
  readonly coreUuid = randomUUID();
  readonly hostname: string;
  readonly ipv4 = '192.0.2.2';
  readonly ipv6 = 'fd00::2';
  readonly domain: string;
  readonly gateway: string;
  readonly trunkProfile: string;
  readonly carrierIp: string;
  readonly recordingsDir: string;
  readonly legs = new Map<string, Leg>();
  readonly extensions = new Map<string, ExtensionSetup>();
  readonly pstn: NonNullable<SimSwitchOptions['pstn']>;
  readonly defaultTalkMs: number;
  private readonly listeners = new Set<(e: SimEvent) => void>();
  private clockUs: number;
  private sequence = 1000;
  private sessions = 0;
  private readonly startedUs: number;
  speed: number;
  /** Files written by recordings, newest last (tests read them back). */
  readonly recordings: string[] = [];

  constructor(opts: SimSwitchOptions = {}) {
    this.hostname = opts.hostname ?? 'vm';
    this.domain = opts.domain ?? '127.0.0.1';
    this.gateway = opts.gateway ?? 'pstn';
    this.trunkProfile = opts.trunkProfile ?? 'external';
    this.carrierIp = opts.carrierIp ?? '127.0.0.1';
    this.recordingsDir = opts.recordingsDir ?? '/var/lib/freeswitch/recordings';
    this.speed = opts.speed ?? 0;
    this.defaultTalkMs = opts.defaultTalkMs ?? 4000;
    this.pstn = opts.pstn ?? {};
    for (const [ext, setup] of Object.entries(opts.extensions ?? defaultExtensions())) this.setExtension(ext, setup);
    this.clockUs = Date.now() * 1000;
    this.startedUs = this.clockUs;
  }

  setExtension(ext: string, setup: Partial<ExtensionSetup>): void {
    const prev = this.extensions.get(ext);
    this.extensions.set(ext, {
      registered: setup.registered ?? prev?.registered ?? true,
      mode: setup.mode ?? prev?.mode ?? 'answer',
      ringMs: setup.ringMs ?? prev?.ringMs ?? 2000,
    });
  }

  nowUs(): number {
    return this.clockUs;
  }

  nextSequence(): number {
    return ++this.sequence;
  }

  subscribe(listener: (e: SimEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Move the virtual clock; in demo mode also let real time pass (scaled). */
  async wait(ms: number): Promise<void> {
    this.clockUs += Math.round(ms * 1000);
    if (this.speed > 0 && ms > 0) await sleep(ms / this.speed);
    else await new Promise<void>((r) => setImmediate(r));
  }

  emit(headers: Array<[string, HeaderValue]>, body: string | null = null): void {
    const ev = { headers, body };
    for (const l of this.listeners) l(ev);
  }

  fire(leg: Leg, name: ChannelEventName, extra?: Parameters<Leg['headers']>[1]): void {
    this.emit(leg.headers(name, extra));
  }

  /** A non-channel event (BACKGROUND_JOB, CUSTOM, HEARTBEAT) with the common header block. */
  emitSystem(name: string, calling: [string, string, string], rest: Array<[string, string]>, body: string | null = null): void {
    this.emit([...commonHeaders(this, name, calling), ...rest], body);
  }

  nextSession(): string {
    return String(++this.sessions);
  }

  get uptimeUs(): number {
    return this.clockUs - this.startedUs;
  }

  get sessionsSinceStart(): number {
    return this.sessions;
  }

  // ---- leg factories -------------------------------------------------------------------

  /** An INVITE from the carrier on the trunk profile (fixtures: inbound-ringgroup-*). */
  trunkInbound(caller: string, did: string, opts: { uuid?: string; viaGateway?: string } = {}): Leg {
    const uuid = opts.uuid ?? randomUUID();
    const ip = this.carrierIp;
    const name = `sofia/${this.trunkProfile}/${caller}@${ip}:5070`;
    const vars: Array<[string, HeaderValue]> = [
      ['direction', 'inbound'], ['uuid', uuid], ['call_uuid', uuid], ['session_id', this.nextSession()],
      ['sip_from_user', caller], ['sip_from_port', '5070'], ['sip_from_uri', `${caller}@${ip}:5070`], ['sip_from_host', ip],
      ['channel_name', name], ['sip_call_id', `${randomUUID().slice(0, 8)}@${ip}`], ['sip_local_network_addr', ip],
      ['sip_network_ip', ip], ['sip_network_port', '5070'], ['sip_received_ip', ip], ['sip_received_port', '5070'],
      ['sip_via_protocol', 'udp'], ['sip_from_user_stripped', caller.replace(/^\+/, '')],
      ['sofia_profile_name', this.trunkProfile], ['sofia_profile_url', `sip:mod_sofia@${ip}:5080`],
      ['recovery_profile_name', this.trunkProfile], ['sip_from_display', caller],
      ['sip_full_from', `"${caller}" <sip:${caller}@${ip}:5070>;tag=${uuid.slice(0, 8)}`],
      ['sip_full_to', `<sip:${did}@${ip}:5080>`],
      ['sip_req_user', opts.viaGateway ? `gw+${opts.viaGateway}` : did], ['sip_req_port', '5080'],
      ['sip_req_uri', `${opts.viaGateway ? `gw+${opts.viaGateway}` : did}@${ip}:5080`], ['sip_req_host', ip],
      ['sip_to_user', did], ['sip_to_port', '5080'], ['sip_to_uri', `${did}@${ip}:5080`], ['sip_to_host', ip],
      ['sip_contact_user', caller], ['sip_contact_uri', `${caller}@${ip}:5070`], ['sip_contact_host', ip],
      ['sip_user_agent', 'sipp-carrier'], ['max_forwards', '70'],
    ];
    if (opts.viaGateway) vars.push(['sip_gateway', opts.viaGateway]);
    vars.push(['read_codec', 'PCMA'], ['read_rate', '8000'], ['write_codec', 'PCMA'], ['write_rate', '8000'], ['endpoint_disposition', 'RECEIVED']);
    const leg = new Leg(this, {
      uuid, direction: 'inbound', profile: this.trunkProfile, channelName: name,
      callerIdName: caller, callerIdNumber: caller, destination: did, context: 'public', source: 'mod_sofia',
      username: caller, networkAddr: ip, hitDialplan: true, variables: vars,
    });
    leg.hasMedia = true;
    return leg;
  }

  /** A call from a registered phone on the internal profile (fixtures: outbound-*). */
  extensionInbound(ext: string, dialled: string, opts: { uuid?: string } = {}): Leg {
    const uuid = opts.uuid ?? randomUUID();
    const port = this.phonePort(ext);
    const name = `sofia/internal/${ext}@${this.domain}`;
    const leg = new Leg(this, {
      uuid, direction: 'inbound', profile: 'internal', channelName: name,
      callerIdName: ext, callerIdNumber: ext, destination: dialled, context: 'default', source: 'mod_sofia',
      username: ext, networkAddr: '127.0.0.1', hitDialplan: true,
      variables: [
        ['direction', 'inbound'], ['uuid', uuid], ['call_uuid', uuid], ['session_id', this.nextSession()],
        ['sip_from_user', ext], ['sip_from_uri', `${ext}@${this.domain}`], ['sip_from_host', this.domain],
        ['channel_name', name], ['sip_network_ip', '127.0.0.1'], ['sip_network_port', String(port)],
        ['sofia_profile_name', 'internal'], ['recovery_profile_name', 'internal'],
        ['sip_req_user', dialled], ['sip_req_uri', `${dialled}@${this.domain}`], ['sip_to_user', dialled],
        ['sip_to_uri', `${dialled}@${this.domain}`], ['sip_user_agent', `sipp-ext-${ext}`],
        ['user_name', ext], ['domain_name', this.domain], ['sip_authorized', 'true'],
        ['read_codec', 'PCMA'], ['read_rate', '8000'], ['endpoint_disposition', 'RECEIVED'],
      ],
    });
    leg.hasMedia = true;
    return leg;
  }

  /** A leg that `bridge user/<ext>` or `originate user/<ext>` creates towards a phone. */
  userOutbound(ext: string, a: Leg | null, opts: { uuid?: string; vars?: Array<[string, string]>; callerIdName?: string; callerIdNumber?: string; context?: string } = {}): Leg {
    const uuid = opts.uuid ?? randomUUID();
    const port = this.phonePort(ext);
    const name = `sofia/internal/${ext}@127.0.0.1:${port}`;
    const vars: Array<[string, HeaderValue]> = [
      ['direction', 'outbound'], ['is_outbound', 'true'], ['uuid', uuid], ['session_id', this.nextSession()],
      ['sip_profile_name', 'internal'], ['channel_name', name],
      ['sip_destination_url', `sip:${ext}@127.0.0.1:${port};transport=UDP`],
    ];
    if (opts.vars) vars.push(...opts.vars);
    vars.push(['dialed_user', ext], ['dialed_domain', this.domain], ['presence_id', `${ext}@${this.domain}`]);
    if (a) vars.push(['originator', a.uuid], ['signal_bond', a.uuid], ['call_uuid', a.uuid], ['originating_leg_uuid', a.uuid]);
    else vars.push(['call_uuid', uuid]);
    vars.push(
      ['sip_req_uri', `${ext}@127.0.0.1:${port};transport=UDP`], ['sip_to_host', `127.0.0.1:${port}`],
      ['sofia_profile_name', 'internal'], ['recovery_profile_name', 'internal'],
    );
    const leg = new Leg(this, {
      uuid, direction: 'outbound', profile: 'internal', channelName: name, presenceId: `${ext}@${this.domain}`,
      callerIdName: opts.callerIdName ?? a?.callerIdName ?? ext, callerIdNumber: opts.callerIdNumber ?? a?.callerIdNumber ?? ext,
      calleeIdName: 'Outbound Call', calleeIdNumber: ext, destination: ext, context: opts.context ?? a?.init.context ?? 'default',
      source: a ? 'mod_sofia' : 'src/switch_ivr_originate.c', username: a?.init.username, networkAddr: a?.init.networkAddr,
      hitDialplan: false, variables: vars,
    });
    if (a) this.link(a, leg);
    return leg;
  }

  /** A leg to the PSTN through the gateway (`sofia/gateway/<gw>/<number>`). */
  gatewayOutbound(number: string, a: Leg | null, opts: { uuid?: string; callerIdNumber?: string; vars?: Array<[string, string]> } = {}): Leg {
    const uuid = opts.uuid ?? randomUUID();
    const name = `sofia/${this.trunkProfile}/${number}`;
    const vars: Array<[string, HeaderValue]> = [
      ['direction', 'outbound'], ['is_outbound', 'true'], ['uuid', uuid], ['session_id', this.nextSession()],
      ['sip_profile_name', this.trunkProfile], ['channel_name', name],
      ['sip_destination_url', `sip:${number}@127.0.0.1:5090`],
    ];
    if (opts.vars) vars.push(...opts.vars);
    vars.push(['sip_gateway_name', this.gateway]);
    if (a) vars.push(['originator', a.uuid], ['signal_bond', a.uuid], ['call_uuid', a.uuid], ['originating_leg_uuid', a.uuid]);
    vars.push(['sip_req_user', number], ['sip_to_user', number], ['sofia_profile_name', this.trunkProfile], ['recovery_profile_name', this.trunkProfile]);
    const leg = new Leg(this, {
      uuid, direction: 'outbound', profile: this.trunkProfile, channelName: name,
      callerIdName: 'Outbound Call', callerIdNumber: opts.callerIdNumber ?? '4951234567',
      calleeIdName: 'Outbound Call', calleeIdNumber: number, destination: number,
      context: a?.init.context ?? 'default', source: a?.init.source === 'src/switch_ivr_originate.c' ? 'src/switch_ivr_originate.c' : 'mod_sofia',
      username: a?.init.username, networkAddr: a?.init.networkAddr, hitDialplan: false, variables: vars,
    });
    if (a) this.link(a, leg);
    return leg;
  }

  /** B knows its originator from CREATE on; A names a B only once it bridges, loses one, or hangs up (captures). */
  private link(a: Leg, b: Leg): void {
    b.other = a;
    b.otherType = 'originator';
    b.callUuid = a.uuid;
    a.originated.push(b);
  }

  phonePort(ext: string): number {
    const n = Number(ext.slice(-2));
    return 5100 + (Number.isFinite(n) ? n : 0);
  }

  // ---- leg primitives ---------------------------------------------------------------------

  create(leg: Leg): void {
    this.legs.set(leg.uuid, leg);
    leg.setState('CS_INIT');
    leg.stateNumber = '2';
    this.fire(leg, 'CHANNEL_CREATE');
    leg.setState(leg.init.direction === 'inbound' ? 'CS_EXECUTE' : 'CS_CONSUME_MEDIA');
  }

  /** 180 Ringing (outbound leg received it / inbound leg sent it). */
  progress(leg: Leg): void {
    leg.times.progress = this.clockUs;
    this.fire(leg, 'CHANNEL_PROGRESS');
    leg.callState = 'RINGING';
  }

  /** 183 with SDP. */
  progressMedia(leg: Leg): void {
    leg.times.progressMedia = this.clockUs;
    if (leg.callState === 'DOWN') leg.callState = 'RINGING';
    leg.answerState = 'early';
    leg.hasMedia = true;
    this.fire(leg, 'CHANNEL_PROGRESS_MEDIA');
    leg.callState = 'EARLY';
  }

  answer(leg: Leg): void {
    leg.times.answered = this.clockUs;
    leg.answerState = 'answered';
    leg.hasMedia = true;
    if (leg.callState === 'DOWN') leg.callState = 'RINGING';
    this.fire(leg, 'CHANNEL_ANSWER');
    leg.callState = 'ACTIVE';
  }

  bridge(a: Leg, b: Leg): void {
    const now = this.clockUs;
    a.times.bridged = now;
    b.times.bridged = now;
    a.other = b;
    a.otherType = 'originatee';
    b.other = a;
    b.otherType = 'originator';
    b.callUuid = a.uuid;
    a.setVar('last_bridge_to', b.uuid);
    a.setVar('bridge_channel', b.init.channelName);
    a.setVar('bridge_uuid', b.uuid);
    a.setVar('signal_bond', b.uuid);
    b.setVar('bridge_uuid', a.uuid);
    b.setState('CS_EXCHANGE_MEDIA');
    a.callState = 'ACTIVE';
    this.fire(a, 'CHANNEL_BRIDGE', { before: [['Bridge-A-Unique-ID', a.uuid], ['Bridge-B-Unique-ID', b.uuid]] });
  }

  unbridge(a: Leg, b: Leg): void {
    this.fire(a, 'CHANNEL_UNBRIDGE', { before: [['Bridge-A-Unique-ID', a.uuid], ['Bridge-B-Unique-ID', b.uuid]] });
    // FreeSWITCH resets a B-leg's Channel-Call-UUID to its own once the bridge ends (§2.4)
    b.callUuid = b.uuid;
  }

  /**
   * A leg hangs up. As captured: a received CANCEL or refusal is known before the
   * HANGUP event (recv_cancel, recv_refuse), a received BYE and anything we send only
   * after it; the call state stays what it was until HANGUP_COMPLETE.
   */
  hangup(leg: Leg, cause: string, opts: HangupOptions = {}): void {
    if (leg.hangupCause) return;
    leg.times.hangup = this.clockUs;
    leg.hangupCause = cause;
    leg.answerState = 'hangup';
    leg.stateNumber = '10';
    const early = opts.disposition === 'recv_cancel' || opts.disposition === 'recv_refuse';
    if (opts.disposition && early) leg.setVar('sip_hangup_disposition', opts.disposition);
    if (opts.sipTermStatus) {
      leg.setVar('sip_term_status', opts.sipTermStatus);
      leg.setVar('proto_specific_hangup_cause', `sip:${opts.sipTermStatus}`);
    }
    const alive = leg.originated.filter((l) => !l.destroyed);
    if (!leg.other && alive.length > 0) {
      leg.other = alive[alive.length - 1] as Leg;
      leg.otherType = 'originatee';
    }
    this.fire(leg, 'CHANNEL_HANGUP');
    if (opts.disposition && !early) leg.setVar('sip_hangup_disposition', opts.disposition);
    leg.setVar('hangup_cause', cause);
    leg.setVar('hangup_cause_q850', CAUSE_Q850[cause] ?? '16');
  }

  /** Reporting state and destruction: the leg's last two events (`destroy: false` leaves the second for later). */
  complete(leg: Leg, opts: { destroy?: boolean } = {}): void {
    if (leg.destroyed) return;
    if (!leg.reported) {
      leg.setCdrVariables();
      leg.setState('CS_REPORTING');
      leg.callState = 'HANGUP';
      this.fire(leg, 'CHANNEL_HANGUP_COMPLETE');
      leg.reported = true;
    }
    if (opts.destroy === false) return;
    leg.stateNumber = '12';
    this.fire(leg, 'CHANNEL_DESTROY');
    leg.destroyed = true;
    this.legs.delete(leg.uuid);
  }

  recordStart(leg: Leg, path: string): void {
    leg.setVar('record_stereo', 'true');
    this.fire(leg, 'RECORD_START', { tail: [['Record-File-Path', path]] });
  }

  /** Closes the recorder: the WAV is on disk before RECORD_STOP fires (§6). */
  recordStop(leg: Leg, path: string, seconds: number): void {
    const size = writeWav(path, Math.min(seconds, 30));
    this.recordings.push(path);
    if (leg.hangupCause) leg.setState('CS_HANGUP');
    leg.setVar('record_file_size', String(size));
    leg.setVar('record_samples', String((size - 44) / 2));
    leg.setVar('record_seconds', String(Math.round(seconds)));
    leg.setVar('record_ms', String(Math.round(seconds * 1000)));
    leg.setVar('record_completion_cause', 'success-silence');
    this.fire(leg, 'RECORD_STOP', { tail: [['Record-File-Path', path], ['Record-Completion-Cause', 'success-silence']] });
  }

  recordingPath(uuid: string): string {
    return `${this.recordingsDir.replace(/\/$/, '')}/${uuid}.wav`;
  }

  // ---- registrations -----------------------------------------------------------------

  /** `sofia::register` for an extension (fixtures: registrations.*). */
  register(ext: string, expires = 120): void {
    this.setExtension(ext, { registered: true });
    const port = this.phonePort(ext);
    this.emitSystem('CUSTOM', ['sofia_reg.c', 'sofia_reg_handle_register_token', '2059'], [
      ['Event-Subclass', 'sofia::register'], ['profile-name', 'internal'], ['from-user', ext], ['from-host', this.domain],
      ['presence-hosts', 'n/a'], ['contact', `"" <sip:${ext}@127.0.0.1:${port};transport=UDP>`],
      ['call-id', `1-${port}@127.0.0.1`], ['rpid', 'unknown'], ['status', 'Registered(UDP)'], ['expires', String(expires)],
      ['to-user', ext], ['to-host', this.domain], ['network-ip', '127.0.0.1'], ['network-port', String(port)],
      ['username', ext], ['realm', this.domain], ['user-agent', `sipp-ext-${ext}`],
    ]);
  }

  unregister(ext: string): void {
    this.setExtension(ext, { registered: false });
    const port = this.phonePort(ext);
    this.emitSystem('CUSTOM', ['sofia_reg.c', 'sofia_reg_handle_register_token', '1950'], [
      ['Event-Subclass', 'sofia::unregister'], ['profile-name', 'internal'], ['username', ext], ['from-user', ext],
      ['from-host', this.domain], ['contact', `"" <sip:${ext}@127.0.0.1:${port};transport=UDP>`],
      ['call-id', `1-${port}@127.0.0.1`], ['rpid', 'unknown'], ['realm', this.domain], ['network-ip', '127.0.0.1'],
      ['network-port', String(port)], ['user-agent', `sipp-ext-${ext}`], ['expires', '0'],
    ]);
  }

  stamp(us = this.clockUs): string {
    return localStamp(us);
  }
}

export function defaultExtensions(): Record<string, Partial<ExtensionSetup>> {
  const out: Record<string, Partial<ExtensionSetup>> = {};
  for (let i = 1; i <= 10; i++) out[`10${String(i).padStart(2, '0')}`] = { registered: i <= 8, mode: 'answer', ringMs: 2000 };
  return out;
}

export function q850(cause: string): string {
  return CAUSE_Q850[cause] ?? '16';
}
