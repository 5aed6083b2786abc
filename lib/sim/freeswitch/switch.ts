/**
 * The simulated switch: legs, registrations, a virtual clock and the event bus that
 * the ESL server fans out to its connections. Call primitives (create, progress,
 * answer, bridge, hangup, complete, record) reproduce the per-leg event order and
 * state headers seen in fixtures/esl; scenarios.ts and originate.ts compose them.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HeaderValue } from '../../esl/codec.js';
import { type Leg, commonHeaders, localStamp, q850, type ChannelEventName, type Switchboard } from './leg.js';
import { writeWav } from './wav.js';
import * as f from './factories.js';
import { sofiaRegister, sofiaUnregister } from './registrations.js';
import { Directory, defaultExtensions, type DomainSetup, type ExtensionSetup } from './directory.js';

export type { ExtensionMode, ExtensionSetup, DomainSetup } from './directory.js';
export { defaultExtensions } from './directory.js';

export interface SimEvent {
  headers: Array<[string, HeaderValue]>;
  body: string | null;
}

/** What the switch needs of a clock (the service's ManualClock fits; the stand-ins import no product code). */
export interface SimClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export type PstnMode = 'answer' | 'noanswer' | 'busy' | 'reject' | 'unallocated';

export interface SimSwitchOptions {
  hostname?: string;
  domain?: string;
  /** Extensions of the switch's own domain and how their phones behave; unknown extensions are not registered. */
  extensions?: Record<string, Partial<ExtensionSetup>>;
  /** Tenant domains (FusionPBX): each with its own users (an extension may be in several) and context. */
  domains?: Record<string, DomainSetup>;
  /** How the PSTN behind the gateway answers a number (default: answer after 1 s). */
  pstn?: Record<string, { mode: PstnMode; ringMs?: number; talkMs?: number }>;
  gateway?: string;
  trunkProfile?: string;
  carrierIp?: string;
  recordingsDir?: string;
  /** 0 = virtual time only (tests); N > 0 = also sleep ms/N of real time per step (demo). */
  speed?: number;
  /** The switch's clock (a ManualClock in tests: overlapping calls interleave); else waits move one counter. */
  clock?: SimClock;
  /** Default talk time of calls the PSTN answers on an originate. */
  defaultTalkMs?: number;
  /** Dialplan contexts with their extensions (`xml_locate`, originate); default: `default` and `public`. */
  contexts?: Record<string, string[]>;
}

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
  /** The users per domain (directory.ts); `extensions` is the switch's own domain's. */
  readonly directory: Directory;
  readonly extensions: Map<string, ExtensionSetup>;
  readonly pstn: NonNullable<SimSwitchOptions['pstn']>;
  readonly defaultTalkMs: number;
  private readonly listeners = new Set<(e: SimEvent) => void>();
  private clockUs: number;
  private readonly clock: SimClock | null;
  private sequence = 1000;
  private sessions = 0;
  private readonly startedUs: number;
  speed: number;
  /** Files written by recordings, newest last (tests read them back). */
  readonly recordings: string[] = [];
  readonly contexts: Map<string, string[]>;
  /** Recorders started by `execute_on_answer=record_session <path>`, stopped when their leg completes. */
  private readonly recorders = new Map<string, { path: string; startedUs: number }>();

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
    this.contexts = new Map(Object.entries(opts.contexts ?? { default: [], public: [] }));
    this.directory = new Directory(this.domain);
    this.extensions = this.directory.domain()!.users;
    for (const [ext, setup] of Object.entries(opts.extensions ?? defaultExtensions())) this.setExtension(ext, setup);
    for (const [domain, d] of Object.entries(opts.domains ?? {})) {
      this.directory.add(domain, d.uuid);
      // a tenant's calls run in a context named after its domain (fixtures/esl/tenants)
      if (!this.contexts.has(domain)) this.contexts.set(domain, []);
      for (const [ext, setup] of Object.entries(d.extensions ?? {})) this.setExtension(ext, setup, domain);
    }
    // a whole second: billsec subtracts whole-second epochs, so a run must not depend on where
    // in a second it started (freeswitch-esl.md §2.3)
    this.clock = opts.clock ?? null;
    this.clockUs = Math.floor((this.clock?.now() ?? Date.now()) / 1000) * 1_000_000;
    this.startedUs = this.clockUs;
  }

  /** A user of a domain (default: the switch's own) and how its phone behaves. */
  setExtension(ext: string, setup: Partial<ExtensionSetup>, domain?: string): void {
    this.directory.set(ext, setup, domain);
  }

  /** A user as `user/<ext>[@<domain>]` finds it; undefined: no such user in that domain. */
  extension(ext: string, domain?: string): ExtensionSetup | undefined {
    return this.directory.find(ext, domain);
  }

  /** A tenant domain's `domain_uuid`; null for the switch's own domain (it has none). */
  domainUuid(domain?: string): string | null {
    return this.directory.isTenant(domain) ? (this.directory.domain(domain)?.uuid ?? null) : null;
  }

  nowUs(): number {
    return this.clock ? this.clock.now() * 1000 : this.clockUs;
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
    if (this.clock) return this.clock.sleep(ms);
    if (this.speed > 0 && ms > 0) {
      // calls wait side by side on one clock: a wait moves it to where this one ends (real time,
      // scaled), it does not add up the waits of calls in flight together
      const until = this.clockUs + Math.round(ms * 1000);
      await sleep(ms / this.speed);
      this.clockUs = Math.max(this.clockUs, until);
      return;
    }
    this.clockUs += Math.round(ms * 1000);
    await new Promise<void>((r) => setImmediate(r));
  }

  emit(headers: Array<[string, HeaderValue]>, body: string | null = null): void {
    const ev = { headers, body };
    for (const l of this.listeners) l(ev);
  }

  fire(leg: Leg, name: ChannelEventName, extra?: Parameters<Leg['headers']>[1]): void {
    this.emit(leg.headers(name, extra));
  }

  /** A non-channel event (BACKGROUND_JOB, CUSTOM, HEARTBEAT) with the common header block. */
  emitSystem(
    name: string,
    calling: [string, string, string],
    rest: Array<[string, string]>,
    body: string | null = null,
  ): void {
    this.emit([...commonHeaders(this, name, calling), ...rest], body);
  }

  nextSession(): string {
    return String(++this.sessions);
  }

  get uptimeUs(): number {
    return this.nowUs() - this.startedUs;
  }

  get sessionsSinceStart(): number {
    return this.sessions;
  }

  // ---- leg factories (factories.ts) ----------------------------------------------------

  trunkInbound(caller: string, did: string, opts: { uuid?: string; viaGateway?: string } = {}): Leg {
    return f.trunkInbound(this, caller, did, opts);
  }

  extensionInbound(ext: string, dialled: string, opts: { uuid?: string; domain?: string } = {}): Leg {
    return f.extensionInbound(this, ext, dialled, opts);
  }

  userOutbound(ext: string, a: Leg | null, opts: f.UserLegOptions = {}): Leg {
    return f.userOutbound(this, ext, a, opts);
  }

  gatewayOutbound(number: string, a: Leg | null, opts: f.GatewayLegOptions = {}): Leg {
    return f.gatewayOutbound(this, number, a, opts);
  }

  /** The phone's SIP port: 51xx in the switch's own domain, 52xx, 53xx… per tenant domain (as in the lab). */
  phonePort(ext: string, domain?: string): number {
    const n = Number(ext.slice(-2));
    const index = this.directory.domain(domain)?.index ?? 0;
    return 5100 + 100 * index + (Number.isFinite(n) ? n : 0);
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
    leg.times.progress = this.nowUs();
    this.fire(leg, 'CHANNEL_PROGRESS');
    leg.callState = 'RINGING';
  }

  /** 183 with SDP. */
  progressMedia(leg: Leg): void {
    leg.times.progressMedia = this.nowUs();
    if (leg.callState === 'DOWN') leg.callState = 'RINGING';
    leg.answerState = 'early';
    leg.hasMedia = true;
    this.fire(leg, 'CHANNEL_PROGRESS_MEDIA');
    leg.callState = 'EARLY';
  }

  answer(leg: Leg): void {
    leg.times.answered = this.nowUs();
    leg.answerState = 'answered';
    leg.hasMedia = true;
    if (leg.callState === 'DOWN') leg.callState = 'RINGING';
    this.fire(leg, 'CHANNEL_ANSWER');
    // execute_on_answer runs before the call state moves on (fixtures/esl/click2call-recorded)
    const onAnswer = leg.getVar('execute_on_answer');
    const rec = typeof onAnswer === 'string' ? /^record_session (\/\S+)$/.exec(onAnswer) : null;
    if (rec) {
      leg.setVar('current_application', 'record_session');
      leg.setVar('current_application_data', rec[1] as string);
      this.startRecorder(leg, rec[1] as string);
    }
    leg.callState = 'ACTIVE';
  }

  bridge(a: Leg, b: Leg): void {
    const now = this.nowUs();
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
    this.fire(a, 'CHANNEL_BRIDGE', {
      before: [
        ['Bridge-A-Unique-ID', a.uuid],
        ['Bridge-B-Unique-ID', b.uuid],
      ],
    });
  }

  unbridge(a: Leg, b: Leg): void {
    this.fire(a, 'CHANNEL_UNBRIDGE', {
      before: [
        ['Bridge-A-Unique-ID', a.uuid],
        ['Bridge-B-Unique-ID', b.uuid],
      ],
    });
    // FreeSWITCH resets a B-leg's Channel-Call-UUID to its own once the bridge ends (§2.4)
    b.callUuid = b.uuid;
  }

  /**
   * A leg hangs up. As captured: a received CANCEL or refusal is known before the HANGUP event (recv_cancel,
   * recv_refuse), a received BYE and anything we send only after it; the call state stays until HANGUP_COMPLETE.
   */
  hangup(leg: Leg, cause: string, opts: HangupOptions = {}): void {
    if (leg.hangupCause) return;
    leg.times.hangup = this.nowUs();
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
    leg.setVar('hangup_cause_q850', q850(cause));
  }

  /** Reporting state and destruction: the leg's last two events (`destroy: false` leaves the second for later). */
  complete(leg: Leg, opts: { destroy?: boolean } = {}): void {
    if (leg.destroyed) return;
    const rec = this.recorders.get(leg.uuid);
    if (rec && !leg.reported) {
      // the recorder closes after the leg's CHANNEL_HANGUP, just before its HANGUP_COMPLETE
      this.recorders.delete(leg.uuid);
      this.recordStop(leg, rec.path, (this.nowUs() - rec.startedUs) / 1e6);
    }
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

  /**
   * record_session: RECORD_START now; the recorder closes (the file written, RECORD_STOP) when the leg
   * completes, however it ends: its flow, a caller's cancel, or a uuid_kill from outside.
   */
  startRecorder(leg: Leg, path: string): void {
    this.recordStart(leg, path);
    this.recorders.set(leg.uuid, { path, startedUs: this.nowUs() });
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
    this.fire(leg, 'RECORD_STOP', {
      tail: [
        ['Record-File-Path', path],
        ['Record-Completion-Cause', 'success-silence'],
      ],
    });
  }

  recordingPath(uuid: string): string {
    return `${this.recordingsDir.replace(/\/$/, '')}/${uuid}.wav`;
  }

  // ---- registrations -----------------------------------------------------------------

  /** `sofia::register` for an extension of a domain (fixtures: registrations.*, tenants/tenant-a-register.*). */
  register(ext: string, expires = 120, domain?: string): void {
    sofiaRegister(this, ext, expires, domain);
  }

  unregister(ext: string, domain?: string): void {
    sofiaUnregister(this, ext, domain);
  }

  stamp(us = this.nowUs()): string {
    return localStamp(us);
  }
}
