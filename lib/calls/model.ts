/**
 * The call model: FreeSWITCH legs folded into Bitrix24 calls. Deterministic, no I/O:
 * typed channel events in, effects out (design.md "lib/calls"). The rules and the
 * evidence for them are in freeswitch-esl.md §3 and fixtures/README.md.
 */
import type { ChannelEvent } from '../events/channel-event.js';
import type { Effect } from './effects.js';
import { compileRules, normalizeNumber } from './numbers.js';
import { defaultModelConfig, type ModelConfig } from './config.js';
import {
  chosenRecordings,
  didOf,
  finishEffect,
  isoFromUs,
  newCallState,
  newLegState,
  noteHangup,
  noteTimes,
  type CallState,
  type LegState,
} from './state.js';
import { nextPhase } from './phase.js';
import { Cards } from './cards.js';
import { closeDeadLegs, employeeLegEnded, joinByTransfer, recorderReported } from './legs.js';

export { defaultModelConfig, type CardPolicy, type ModelConfig } from './config.js';

export class CallModel {
  private readonly legs = new Map<string, LegState>();
  private readonly calls = new Map<string, CallState>();
  /** Finished calls whose legs still exist (a late RECORD_STOP can name them). */
  private readonly ended = new Map<string, CallState>();
  private readonly rules: Array<[RegExp, string]>;
  /** The switch's time of the newest event it sent (µs, 0 before any): a gap began after it. */
  lastSwitchUs = 0;
  /** Every card decision is asked of it (lib/calls/cards.ts). */
  private readonly cards: Cards;

  constructor(private readonly cfg: ModelConfig = defaultModelConfig) {
    this.rules = compileRules(cfg.numberRules);
    this.cards = new Cards(cfg.cardPolicy, cfg.cardPolicyByExtension);
  }

  get liveCalls(): number {
    return this.calls.size;
  }

  /** A leg placed in a call (or known to belong to none): a resync need not make it up. */
  placed(uuid: string): boolean {
    const leg = this.legs.get(uuid);
    return leg !== undefined && (leg.call !== null || leg.kind === 'other');
  }

  /** The model follows this call (live, or ended with legs up): a restart or a CDR leaves it to the model. */
  tracks(call: string): boolean {
    return this.calls.has(call) || this.ended.has(call);
  }

  /** Both legs are in one call the model saw bridged. */
  knowsBridge(a: string, b: string): boolean {
    const [la, lb] = [this.legs.get(a), this.legs.get(b)];
    const call = la?.call ? this.calls.get(la.call) : undefined;
    return !!call && lb?.call === call.key && la!.firstBridgeUs > 0 && call.phase === 'answered';
  }

  /** A call's line and legs, live or just ended (the tenant lookup reads their domains). */
  describe(key: string): { line: string | null; legs: string[] } | null {
    const call = this.calls.get(key) ?? this.ended.get(key);
    return call ? { line: call.line, legs: [...call.legs] } : null;
  }

  apply(ev: ChannelEvent): Effect[] {
    const out: Effect[] = [];
    if (!ev.synthetic) this.lastSwitchUs = Math.max(this.lastSwitchUs, ev.atUs);
    const known = this.legs.get(ev.uuid);
    if (known) noteTimes(known, ev);
    switch (ev.name) {
      case 'CHANNEL_CREATE':
        this.onCreate(ev, out);
        break;
      case 'CHANNEL_ANSWER': {
        const leg = this.leg(ev);
        leg.answeredUs = leg.answeredUs || ev.atUs;
        this.onAnswer(leg, out);
        break;
      }
      case 'CHANNEL_BRIDGE':
        this.onBridge(ev, out);
        break;
      case 'CHANNEL_HANGUP':
      case 'CHANNEL_HANGUP_COMPLETE':
        this.onHangup(ev, out);
        break;
      case 'RECORD_START':
      case 'RECORD_STOP':
        this.onRecord(ev, out);
        break;
      case 'CHANNEL_DESTROY':
        this.onDestroy(ev);
        break;
      default:
        this.leg(ev);
    }
    return out;
  }

  /** A leg the model has not seen: created from whatever event names it (after a reconnect). */
  private leg(ev: ChannelEvent): LegState {
    let leg = this.legs.get(ev.uuid);
    if (!leg) {
      leg = newLegState(ev, this.cfg.trunkProfiles, this.cfg.trunkIps);
      this.legs.set(ev.uuid, leg);
    }
    return leg;
  }

  private newCall(key: string, kind: CallState['kind'], ev: ChannelEvent): CallState {
    const call = newCallState(key, kind, ev.atUs);
    call.blind = ev.synthetic === true;
    this.calls.set(key, call);
    return call;
  }

  private onRecord(ev: ChannelEvent, out: Effect[]): void {
    const leg = this.leg(ev);
    const call = leg.call ? (this.calls.get(leg.call) ?? this.ended.get(leg.call)) : undefined;
    if (call && ev.recordFile) recorderReported(call, ev.recordFile, this.cfg.chooseRecordings, out);
  }

  private onCreate(ev: ChannelEvent, out: Effect[]): void {
    const leg = this.leg(ev);
    if (leg.call) return; // placed already (a resync made it up from show channels first)
    const v = ev.vars;
    const parentUuid =
      v.get('originator') ??
      v.get('originating_leg_uuid') ??
      (ev.otherLeg?.type === 'originator' ? ev.otherLeg.uuid : undefined);
    const parent = parentUuid ? this.legs.get(parentUuid) : undefined;
    const parentCall = parent?.call ? this.calls.get(parent.call) : undefined;
    if (parentCall && parentCall.phase !== 'finished') {
      leg.call = parentCall.key;
      parentCall.legs.add(leg.uuid);
      this.onChildLeg(parentCall, leg, ev, out);
      return;
    }
    const b24CallId = v.get('b24_call_id');
    if (leg.kind === 'trunk' && ev.direction === 'inbound') {
      const call = this.newCall(leg.uuid, 'inbound', ev);
      call.trunkLeg = leg.uuid;
      call.phone = normalizeNumber(ev.callerNumber || v.get('sip_from_user') || '', this.rules);
      const did = didOf(ev, this.cfg.didSource);
      call.line = did ? (this.cfg.lines[did] ?? did) : null;
      leg.call = call.key;
      call.holdUntilUs = ev.atUs + this.cfg.registerHoldMs * 1000;
      if (this.cfg.registerHoldMs <= 0) {
        this.register(call, 2, null, this.cards.onRegister(call, null, 'assigned'), this.cfg.crmCreateIncoming, out);
      }
      return;
    }
    if (b24CallId && leg.kind === 'extension') {
      // click-to-call / callback: Bitrix24 (or our callback handler) registered the call already
      const call = this.newCall(leg.uuid, 'outbound', ev);
      call.b24CallId = b24CallId;
      call.b24Kind = v.get('b24_kind') ?? null;
      call.registered = true;
      call.employee = leg.extension;
      call.phone = normalizeNumber(v.get('b24_client') ?? '', this.rules);
      call.line = v.get('b24_line') ?? null;
      leg.call = call.key;
      out.push({ kind: 'adopt', call: call.key, b24CallId });
      if (leg.extension) this.ring(call, leg, out);
      return;
    }
    if (leg.kind === 'extension') {
      // a phone dials (or is originated first): outgoing if a trunk leg follows, internal if a phone does
      const call = this.newCall(leg.uuid, 'pending', ev);
      call.employee = leg.extension;
      leg.call = call.key;
    }
  }

  private onChildLeg(call: CallState, leg: LegState, ev: ChannelEvent, out: Effect[]): void {
    if (call.kind === 'pending' || call.kind === 'internal') {
      if (leg.kind === 'trunk') {
        call.kind = 'outbound';
        call.trunkLeg = leg.uuid;
        call.phone = normalizeNumber(ev.destination, this.rules);
        const gw = ev.vars.get('sip_gateway_name');
        call.line = (gw && this.cfg.gatewayLines[gw]) || ev.callerNumber.replace(/^\+/, '') || null;
        call.phase = nextPhase(call.phase, 'ring');
        const show = this.cards.onRegister(call, call.employee, 'rings');
        this.register(call, 1, call.employee, show, this.cfg.crmCreateOutgoing, out);
      } else if (leg.kind === 'extension') {
        call.kind = 'internal';
        call.phase = nextPhase(call.phase, 'ring');
        if (this.cfg.sendInternal && !call.registered && leg.extension) {
          call.phone = leg.extension;
          this.register(call, 1, call.employee, this.cards.onRegister(call, call.employee, 'rings'), false, out);
        }
      }
      return;
    }
    if (call.kind === 'outbound' && leg.kind === 'trunk' && !call.trunkLeg) {
      // the client leg of a click-to-call / callback
      call.trunkLeg = leg.uuid;
      call.phase = nextPhase(call.phase, 'ring');
      if (!call.phone) call.phone = normalizeNumber(ev.destination, this.rules);
      return;
    }
    if (call.kind === 'inbound' && leg.kind === 'extension' && leg.extension) this.ring(call, leg, out);
  }

  /** An employee's phone rings for this call: register with them first, show it to the others. */
  private ring(call: CallState, leg: LegState, out: Effect[]): void {
    const ext = leg.extension as string;
    call.ringingLegs.set(leg.uuid, ext);
    if (!call.rang.includes(ext)) call.rang.push(ext);
    call.phase = nextPhase(call.phase, 'ring');
    if (!call.registered && call.kind === 'inbound') {
      this.register(call, 2, ext, this.cards.onRegister(call, ext, 'rings'), this.cfg.crmCreateIncoming, out);
      return;
    }
    this.cards.change(call, ext, 'rings', out);
  }

  private register(
    call: CallState,
    type: 1 | 2,
    ext: string | null,
    show: boolean,
    crmCreate: boolean,
    out: Effect[],
  ): void {
    if (call.registered) return;
    call.registered = true;
    if (show && ext) call.shown.add(ext);
    out.push({
      kind: 'register',
      call: call.key,
      externalCallId: call.key,
      type,
      extension: ext,
      phone: call.phone || 'unknown',
      line: call.line,
      startIso: isoFromUs(call.startUs),
      show,
      crmCreate,
    });
  }

  private onAnswer(leg: LegState, out: Effect[]): void {
    const call = leg.call ? this.calls.get(leg.call) : undefined;
    if (!call) return;
    // the call's first phone picked up (a click-to-call's employee): the policy may want the card now
    if (leg.uuid === call.anchor && leg.extension) this.cards.change(call, leg.extension, 'answers', out);
  }

  private onBridge(ev: ChannelEvent, out: Effect[]): void {
    const a = ev.bridgeA ? this.legs.get(ev.bridgeA) : undefined;
    const b = ev.bridgeB ? this.legs.get(ev.bridgeB) : undefined;
    if (!a || !b) return;
    for (const l of [a, b])
      if (!l.firstBridgeUs) {
        l.firstBridgeUs = ev.atUs;
        l.firstBridgeSure = !ev.synthetic;
      }
    const call = a.call ? this.calls.get(a.call) : undefined;
    if (!call || call.phase === 'finished') return;
    if (b.call !== call.key) joinByTransfer(this.calls, this.legs, call, b);
    const wasConnected = call.phase === 'answered';
    const employeeBefore = call.employee;
    call.phase = nextPhase(call.phase, 'bridge');
    if (call.kind === 'inbound' && b.kind === 'extension' && b.extension) {
      const ext = b.extension;
      call.employee = ext;
      call.ringingLegs.delete(b.uuid);
      if (!call.rang.includes(ext)) call.rang.push(ext);
      // the others offered the call lose it, in one hide
      const hide = [...call.shown].filter((e) => e !== ext && this.cards.step(call, e, 'taken') === 'hide');
      if (hide.length > 0) out.push({ kind: 'hide', call: call.key, extensions: hide });
      this.cards.change(call, ext, 'answers', out);
    } else if (call.kind !== 'inbound' && a.extension) {
      this.cards.change(call, a.extension, 'answers', out);
    }
    const trunkBridged = call.trunkLeg !== null && (a.uuid === call.trunkLeg || b.uuid === call.trunkLeg);
    if (trunkBridged && (!wasConnected || call.employee !== employeeBefore)) {
      out.push({ kind: 'connected', call: call.key, extension: call.employee, atUs: ev.atUs });
    }
  }

  private onDestroy(ev: ChannelEvent): void {
    const leg = this.legs.get(ev.uuid);
    if (!leg) return;
    leg.destroyed = true;
    leg.completed = true;
    const live = leg.call ? this.calls.get(leg.call) : undefined;
    // legs of a live call stay until it is finished: their times decide its duration
    if (live) return;
    this.legs.delete(ev.uuid);
    this.forgetEnded(leg.call);
  }

  private forgetEnded(key: string | null): void {
    const call = key ? this.ended.get(key) : undefined;
    if (!call) return;
    for (const uuid of call.legs) if (this.legs.has(uuid)) return;
    this.ended.delete(call.key);
  }

  private onHangup(ev: ChannelEvent, out: Effect[]): void {
    const leg = this.leg(ev);
    noteHangup(leg, ev);
    const call = leg.call ? this.calls.get(leg.call) : undefined;
    if (!call || call.phase === 'finished') return;
    if (this.cfg.recordVariable) {
      const path = ev.vars.get(this.cfg.recordVariable);
      if (path && !call.recordings.includes(path)) call.recordings.push(path);
    }
    employeeLegEnded(ev, call, leg, this.cards, this.legs.get(call.anchor)?.hungUp ?? true, out);
    this.maybeFinish(call, out);
  }

  /**
   * A call ends when every leg of it has reached CHANNEL_HANGUP_COMPLETE: recorders
   * close before their leg's HANGUP_COMPLETE (freeswitch-esl.md §6), and legs end in
   * either order (outbound-answered plain vs json).
   */
  private maybeFinish(call: CallState, out: Effect[]): void {
    for (const uuid of call.legs) {
      const l = this.legs.get(uuid);
      if (l && !l.completed) return;
    }
    const finish = finishEffect(call, (uuid) => this.legs.get(uuid), this.cfg.addToChat);
    call.phase = nextPhase(call.phase, 'end');
    this.calls.delete(call.key);
    this.ended.set(call.key, call);
    if (call.kind === 'pending' || (call.kind === 'internal' && !call.registered)) return;
    if (!call.registered) {
      // ended before any phone rang (IVR, caller gave up early): registered as missed, for nobody yet
      const crm = call.kind === 'inbound' ? this.cfg.crmCreateIncoming : this.cfg.crmCreateOutgoing;
      const show = this.cards.onRegister(call, call.employee, 'assigned');
      this.register(call, call.kind === 'outbound' ? 1 : 2, call.employee, show, crm, out);
    }
    out.push(finish);
    for (const p of chosenRecordings(call, this.cfg.chooseRecordings))
      out.push({ kind: 'attach', call: call.key, path: p });
    for (const uuid of call.legs) if (this.legs.get(uuid)?.destroyed) this.legs.delete(uuid);
    this.forgetEnded(call.key);
  }

  /** Time passes: incoming calls held for their first ringing phone are registered now. */
  tick(nowUs: number): Effect[] {
    const out: Effect[] = [];
    for (const call of this.calls.values()) {
      if (call.kind === 'inbound' && !call.registered && call.holdUntilUs > 0 && nowUs >= call.holdUntilUs) {
        const show = this.cards.onRegister(call, call.routedExtension, 'assigned');
        this.register(call, 2, call.routedExtension, show, this.cfg.crmCreateIncoming, out);
      }
    }
    return out;
  }

  /**
   * The dialplan asked who is responsible for this caller and got an extension: a call
   * from that number not registered yet is registered for them (issue 6).
   */
  routed(phone: string, extension: string): Effect[] {
    const out: Effect[] = [];
    const number = normalizeNumber(phone, this.rules);
    for (const call of this.calls.values()) {
      if (call.kind !== 'inbound' || call.phone !== number) continue;
      call.routedExtension = extension;
      const show = this.cards.onRegister(call, extension, 'assigned');
      if (!call.registered) this.register(call, 2, extension, show, this.cfg.crmCreateIncoming, out);
    }
    return out;
  }

  /**
   * After a reconnect: legs the model still tracks but the switch no longer has ended while
   * we were away; close their calls with what we know, ended no earlier than the last event seen.
   */
  reconcile(liveUuids: ReadonlySet<string>): Effect[] {
    const out: Effect[] = [];
    // events may have been lost while disconnected (a RECORD_START among them)
    for (const call of this.calls.values()) call.blind = true;
    const { dead, calls } = closeDeadLegs(this.legs, liveUuids, this.lastSwitchUs);
    for (const key of calls) {
      const call = this.calls.get(key);
      if (call && call.phase !== 'finished') this.maybeFinish(call, out);
    }
    for (const leg of dead) {
      this.legs.delete(leg.uuid);
      this.forgetEnded(leg.call);
    }
    return out;
  }
}
