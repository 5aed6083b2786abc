/**
 * One FreeSWITCH: its event socket, the phones registered on it and the call model of its
 * channels. It turns what the switch says into effects and hands them to a sink (the
 * portal each call belongs to: bin/ wires that); it knows nothing of Bitrix24.
 */
import { EslListener, type Snapshot } from '../esl/listener.js';
import { Registrations } from '../esl/registrations.js';
import type { EslEvent } from '../esl/codec.js';
import { CHANNEL_EVENT_NAMES, EventParseError, toChannelEvent } from '../events/channel-event.js';
import { CallModel, type ModelConfig } from '../calls/model.js';
import { recordStart, synthesize } from '../calls/resync.js';
import type { Effect } from '../calls/effects.js';
import { LegFactsTracker, type CallFacts } from './facts.js';
import type { Clock, Timer } from '../clock.js';
import type { Logger } from '../log.js';
import { EXTENSION } from '../patterns.js';
import { rehearse } from './warm.js';

/** A directory domain as it may go into an API command (whitelisted, never raw input). */
const DOMAIN = /^[A-Za-z0-9_.-]{1,253}$/;

export interface SwitchConfig {
  name: string;
  host: string;
  port: number;
  password: string;
  model: ModelConfig;
  /** Channel variables that name a recording (b24_record_path). */
  recordVariables: string[];
  /** Where its password is configured (named when the switch refuses it). */
  passwordSource?: string;
}

export interface SwitchPorts {
  /** Where the call model's effects go, in the order of the events (each portal writes them in that order). */
  sink: (effects: Effect[]) => void;
  /**
   * After the first connect: finish the calls that were registered before a restart and are
   * gone from the switch (`live`), unless the model follows them. Returns the recordings the
   * previous run stored for those still live (their RECORD_START may lie before the restart).
   */
  orphans: (live: ReadonlySet<string>, tracked: (call: string) => boolean) => ReadonlyMap<string, readonly string[]>;
  /**
   * After a reconnect: what the model had to guess of calls that ended while the socket was down
   * (hang-up time, status). Default: the sink; bin/ holds them a while for the calls' CDRs.
   */
  guessed?: (effects: Effect[]) => void;
  /**
   * A call starts (its first leg: a trunk leg coming in, a phone dialling): its portal may open
   * a connection now, so the register does not wait for one (lib/bitrix24/spare.ts).
   */
  callStarting?: (call: string) => void;
  /** Counts for /metrics (this switch's). */
  onEventSeen?: (name: string) => void;
  onBadEvent?: () => void;
}

/** How often hold timers are looked at (IVR calls registered after FSB24_REGISTER_HOLD_MS). */
const TICK_MS = 100;

export class SwitchUnit {
  readonly name: string;
  readonly listener: EslListener;
  readonly registrations: Registrations;
  private current: CallModel;
  readonly counters = { events: 0, badEvents: 0 };
  private legFacts = new LegFactsTracker();
  private readonly eventListeners: Array<(e: EslEvent) => void> = [];
  private tickTimer: Timer | null = null;
  private clockSkewUs = 0;
  private orphansChecked = false;
  private running = false;
  /** Effects of the events read so far in this turn of the event loop, sunk together (one commit). */
  private batch: Effect[] | null = null;

  constructor(
    private readonly cfg: SwitchConfig,
    private readonly ports: SwitchPorts,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.name = cfg.name;
    this.current = new CallModel(cfg.model);
    this.listener = new EslListener({
      host: cfg.host,
      port: cfg.port,
      password: cfg.password,
      events: [
        ...CHANNEL_EVENT_NAMES,
        'BACKGROUND_JOB',
        'HEARTBEAT',
        'CUSTOM',
        'sofia::register',
        'sofia::unregister',
        'sofia::expire',
      ],
      log: log.child({ mod: 'esl', switch: cfg.name }),
      clock,
      ...(cfg.passwordSource ? { passwordSource: cfg.passwordSource } : {}),
    });
    this.registrations = new Registrations(this.listener);
    this.listener.on('event', (e: EslEvent) => this.onEvent(e));
    this.listener.on('ready', (snap: Snapshot) => this.onReady(snap));
    this.listener.on('bad', () => this.ports.onBadEvent?.());
  }

  /** The call model of the switch's channels. */
  get model(): CallModel {
    return this.current;
  }

  /**
   * Forget what a previous tenure knew (several instances: another one may have carried its
   * calls on since): a fresh model, and the next connect resyncs and finishes the calls that
   * ended meanwhile as a start does. Before `start`.
   */
  reset(): void {
    this.current = new CallModel(this.cfg.model);
    this.legFacts = new LegFactsTracker();
    this.orphansChecked = false;
    this.registrations.reset();
  }

  /** What the call's legs say about its tenant (domains, line, gateway); null: not a call of the model. */
  factsOf(call: string): CallFacts | null {
    const d = this.model.describe(call);
    return d ? this.legFacts.facts(d.legs, d.line) : null;
  }

  /**
   * The sample call through a throwaway model (./warm.ts), before `start`: the first real call
   * does not pay for compiling its path. Its effects are for the portals' planners to rehearse.
   */
  warm(): Effect[] {
    return rehearse(this.cfg.model, this.cfg.recordVariables);
  }

  /** The live call model's effects for a caller the routing lookup assigned to `extension`. */
  routed(caller: string, extension: string): Effect[] {
    this.flush(); // the call's effects read before go first
    return this.stamp(this.model.routed(caller, extension));
  }

  /** Is this extension registered here (in `domain` when given)? null: the switch cannot say. */
  isRegistered(ext: string, domain: string | null): Promise<boolean | null> {
    return this.registrations.has(ext, domain);
  }

  /**
   * Is the extension in this switch's directory, registered or not (`user_exists id <ext>
   * <domain>`, freeswitch-esl.md §7)? Without a domain, the switch's own (`global_getvar
   * domain`: what `user/<ext>` dials). null: the switch cannot say.
   */
  async inDirectory(ext: string, domain: string | null): Promise<boolean | null> {
    if (!this.listener.connected || !EXTENSION.test(ext)) return null;
    try {
      const d = domain ?? (await this.listener.api('global_getvar domain')).trim();
      if (!DOMAIN.test(d)) return null;
      return (await this.listener.api(`user_exists id ${ext} ${d}`)).trim() === 'true';
    } catch {
      return null;
    }
  }

  /** Observe raw events (click-to-call follows its originates). */
  onEslEvent(fn: (e: EslEvent) => void): void {
    this.eventListeners.push(fn);
  }

  start(): void {
    this.running = true;
    this.scheduleTick();
    this.listener.start();
  }

  stop(): void {
    this.running = false;
    this.flush();
    this.clock.clearTimeout(this.tickTimer);
    this.listener.stop();
  }

  /** The event socket's part of /healthz. */
  health(): { ok: boolean; body: Record<string, unknown> } {
    const l = this.listener;
    const age = l.lastEventAt ? Math.round((this.clock.now() - l.lastEventAt) / 1000) : null;
    return {
      ok: l.connected,
      body: {
        address: `${this.cfg.host}:${this.cfg.port}`,
        state: l.state,
        lastEventAgeSec: age,
        reconnects: l.reconnects,
        badFrames: l.badFrames,
        lastError: l.lastError,
      },
    };
  }

  private scheduleTick(): void {
    if (!this.running) return;
    this.tickTimer = this.clock.setTimeout(() => {
      // the switch's clock may differ from ours: hold timers run on the switch's time
      this.flush();
      this.ports.sink(this.stamp(this.model.tick(this.clock.now() * 1000 + this.clockSkewUs)));
      this.scheduleTick();
    }, TICK_MS);
  }

  private onEvent(e: EslEvent): void {
    this.counters.events++;
    if (e.name === 'CUSTOM') this.registrations.onEvent(e);
    this.ports.onEventSeen?.(e.name === 'CUSTOM' ? `CUSTOM ${e.get('Event-Subclass') ?? ''}` : e.name);
    for (const fn of this.eventListeners) fn(e);
    let ce;
    try {
      ce = toChannelEvent(e, this.cfg.recordVariables);
    } catch (err) {
      this.counters.badEvents++;
      this.ports.onBadEvent?.();
      const callUuid = err instanceof EventParseError ? err.uuid : undefined;
      this.log.warn({ callUuid, err }, 'channel event does not parse; skipped');
      return;
    }
    if (!ce) return;
    this.clockSkewUs = ce.atUs - this.clock.now() * 1000;
    this.legFacts.note(ce);
    const starts = ce.name === 'CHANNEL_CREATE' && !this.model.tracks(ce.uuid);
    const effects = this.stamp(this.model.apply(ce));
    if (starts && this.model.tracks(ce.uuid)) this.ports.callStarting?.(ce.uuid);
    // the events of one read of the socket are sunk together once it is handled: one commit,
    // not one per event (nothing was acknowledged to anyone before that commit)
    if (this.batch) {
      this.batch.push(...effects);
      return;
    }
    this.batch = effects;
    queueMicrotask(() => this.flush());
  }

  /** Sink the effects of the events read in this turn (in order), if any are waiting. */
  private flush(): void {
    const batch = this.batch;
    this.batch = null;
    if (batch) this.ports.sink(batch);
  }

  /** The switch's time of the newest event it sent (µs, 0 before any): what a restart's orphans ended after. */
  get lastSwitchUs(): number {
    return this.model.lastSwitchUs;
  }

  private onReady(snap: Snapshot): void {
    this.flush();
    // the switch's clock, as far as we know it: stands in for an epoch missing from a row
    const switchNowUs = this.clock.now() * 1000 + this.clockSkewUs;
    this.registrations.reset(); // events may have been missed while disconnected: ask again
    const live = new Set(snap.channels.map((r) => r.uuid));
    // calls that ended while we were away are closed first, then unknown live legs adopted
    (this.ports.guessed ?? this.ports.sink)(this.stamp(this.model.reconcile(live)));
    let restored: ReadonlyMap<string, readonly string[]> = new Map();
    if (!this.orphansChecked) {
      this.orphansChecked = true;
      restored = this.ports.orphans(live, (call) => this.model.tracks(call));
    }
    for (const ev of synthesize(snap.channels, snap.calls, this.model, switchNowUs)) {
      this.legFacts.note(ev);
      this.ports.sink(this.stamp(this.model.apply(ev)));
    }
    // recorders a previous run saw start (stored), for the calls just rebuilt from the tables
    for (const [call, paths] of restored)
      for (const path of paths) this.ports.sink(this.stamp(this.model.apply(recordStart(call, path, switchNowUs))));
  }

  /** Registers and connections name this switch: a restart asks only it whether the call ended. */
  private stamp(effects: Effect[]): Effect[] {
    for (const e of effects) if (e.kind === 'register' || e.kind === 'connected') e.switch = this.name;
    return effects;
  }
}
