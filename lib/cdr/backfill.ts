/**
 * Calls the switch finished while no one listened, sent from FreeSWITCH's own CDRs (issue 15).
 *
 * A CDR is per leg; a call is its A leg (no `originating_leg_uuid`) with the B legs naming it.
 * Legs are held durably until the A leg and the siblings it names are in (or `graceMs` has
 * passed), then the call is replayed into the call model (./replay.ts) and what its portal does
 * not have yet goes to the outbox: everything for a call never seen, the finish (and recording)
 * for a call registered live, nothing for a call finished live. Calls the switch is following
 * right now are left to it (their legs are only remembered, in memory).
 *
 * Finishes the service would otherwise have to guess (a restart's orphans, calls that ended while
 * the event socket was down) wait `graceMs`, and for any spool pass under way, so that a CDR
 * arriving meanwhile (FreeSWITCH retries, or the spool) replaces the guess with the truth.
 *
 * Several instances on one database: one of them owns the back-fill at a time (`own`/`disown`,
 * bin/ ties it to a lease): only the owner takes CDRs, holds legs and imports the spool (each
 * pass under `spoolLock`); the others only wait out their guesses.
 */
import type { Clock, Timer } from '../clock.js';
import type { Logger } from '../log.js';
import type { Effect } from '../calls/effects.js';
import type { ModelConfig } from '../calls/model.js';
import type { CallFacts } from '../switch/facts.js';
import { HeldGroups, type CdrKv } from './held.js';
import type { CdrLeg } from './parse.js';
import { replay } from './replay.js';
import { IMPORTED, moveInto, scanSpool, type SpoolEntry } from './spool.js';

export type { CdrKv } from './held.js';

/** What the call's portal already has of it ('nowhere': the call belongs to no portal). */
export type CallSent = 'finished' | 'registered' | 'unknown' | 'nowhere';

export interface BackfillPorts {
  kv: CdrKv;
  sent(call: string, facts: CallFacts): Promise<CallSent>;
  /** Into the call's portal's outbox: durable when it resolves. */
  submit(call: string, effects: Effect[]): Promise<void>;
  /** The switch follows this call right now (listening, not ended): it finishes it itself. */
  followed(call: string): boolean;
}

export interface BackfillOptions {
  model: ModelConfig;
  spoolDirs: readonly string[];
  graceMs: number;
  /** CDRs of calls that ended longer ago are ignored (their live jobs may have been purged); 0: no limit. */
  maxAgeMs: number;
  parse: (text: string) => CdrLeg;
  clock: Clock;
  log: Logger;
  /** A spool file changed more recently may still be being written. */
  stableMs?: number;
  /** false: another instance owns the back-fill until `own()` (default true: this one, alone). */
  owned?: boolean;
  /** Each spool pass runs inside it (several instances: a lease, so no two passes ever overlap). */
  spoolLock?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** CDRs taken by an instance that does not own the back-fill (bin/ sends them to the owner). */
export class NotOwner extends Error {
  override readonly name = 'NotOwner';
}

/** B legs whose A leg never came are dropped after a day; legs of followed calls forgotten after an hour. */
const ORPHAN_LEGS_MS = 86_400_000;
const FOLLOWED_MS = 3_600_000;
const MAX_REMEMBERED = 10_000;
const LAST_AT = 'cdr.lastAt';

interface Guess {
  due: number;
  release: Array<() => void>;
}

export class Backfill {
  private held: HeldGroups;
  private owning: boolean;
  private readonly followedLegs = new Map<string, { at: number; legs: CdrLeg[] }>();
  private readonly settled = new Set<string>();
  private readonly guesses = new Map<string, Guess>();
  private chain: Promise<unknown> = Promise.resolve();
  private timer: Timer | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private passing = 0;
  private left = 0;
  private lastSeen: number | null = null;
  private stopped = false;
  private loaded: Promise<void> | null = null;
  readonly counts = { accepted: 0, imported: 0, rejected: 0, sent: 0, replacedGuesses: 0 };

  constructor(
    private readonly ports: BackfillPorts,
    private readonly o: BackfillOptions,
  ) {
    this.held = new HeldGroups(ports.kv);
    this.owning = o.owned ?? true;
  }

  /** This instance owns the back-fill (takes CDRs, holds legs, imports the spool). */
  get owner(): boolean {
    return this.owning;
  }

  /**
   * Take the back-fill over: what the previous owner held read back from the store, then a spool
   * pass and a look at everything held (as `start`). Before the switch is listened to.
   */
  async own(): Promise<void> {
    this.owning = true;
    this.stopped = false;
    this.held = new HeldGroups(this.ports.kv);
    this.followedLegs.clear();
    this.settled.clear();
    this.loaded = null;
    await this.start();
  }

  /** Another instance owns it now: a pass under way ends first; what is held stays in the store for it. */
  async disown(): Promise<void> {
    this.owning = false;
    await this.running?.catch(() => undefined);
    await this.chain;
    this.held = new HeldGroups(this.ports.kv);
    this.followedLegs.clear();
    this.settled.clear();
  }

  /** A CDR was posted here and sent to the owner: guesses wait for CDRs from now on. */
  noteSeen(): void {
    this.lastSeen ??= this.o.clock.now();
  }

  /** CDRs are in use (spool dirs configured, or FreeSWITCH posted one): guesses wait for them. */
  get active(): boolean {
    return this.o.spoolDirs.length > 0 || this.lastSeen !== null;
  }

  /** What a previous run held (before any CDR is taken). */
  load(): Promise<void> {
    this.loaded ??= (async () => {
      if (this.owning) await this.held.load();
      this.lastSeen = await this.ports.kv.get<number>(LAST_AT);
    })();
    return this.loaded;
  }

  /** A spool pass and what was held looked at: done before the switch is listened to (orphans come after). */
  async start(): Promise<void> {
    await this.load();
    await this.importSpool();
    await this.sweep();
  }

  stop(): void {
    this.stopped = true;
    this.o.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** A CDR posted by FreeSWITCH: durable (or known to be unneeded) when it resolves. */
  async accept(leg: CdrLeg): Promise<void> {
    if (!this.owning) throw new NotOwner('this instance does not own the CDR back-fill');
    await this.load();
    const now = this.o.clock.now();
    if (this.lastSeen === null || now - this.lastSeen > 60_000) {
      this.lastSeen = now;
      await this.ports.kv.set(LAST_AT, now);
    }
    this.counts.accepted++;
    await this.serial(() => this.acceptLegs(groupOf(leg), [leg]));
  }

  /** After the event socket (re)connected: a spool pass, then held calls looked at again. */
  async reconnected(): Promise<void> {
    await this.importSpool();
    await this.sweep();
  }

  /**
   * A finish (with whatever goes with it) the service had to guess: released after `graceMs`
   * and after any spool pass under way, unless the call's CDR settles it first.
   */
  guess(call: string, release: () => void): void {
    if (!this.active || this.stopped) {
      release();
      return;
    }
    const known = this.guesses.get(call);
    if (known) known.release.push(release);
    else this.guesses.set(call, { due: this.o.clock.now() + this.o.graceMs, release: [release] });
    this.wake(this.o.clock.now() + this.o.graceMs);
  }

  /** One pass over the spool directories (a pass asked for while one runs makes it run once more). */
  importSpool(): Promise<void> {
    if (this.o.spoolDirs.length === 0 || !this.owning) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.passing++;
    this.running = (async () => {
      do {
        this.again = false;
        const pass = (): Promise<void> => (this.owning ? this.onePass() : Promise.resolve());
        await (this.o.spoolLock ? this.o.spoolLock(pass) : pass());
      } while (this.again && !this.stopped && this.owning);
    })().finally(() => {
      this.running = null;
      this.passing--;
      if (this.guesses.size > 0) this.wake(this.o.clock.now());
    });
    return this.running;
  }

  health(): Record<string, unknown> {
    return {
      owner: this.owning,
      spoolDirs: this.o.spoolDirs,
      heldCalls: this.held.size,
      waitingGuesses: this.guesses.size,
      spoolFilesLeft: this.left,
      ...this.counts,
    };
  }

  private async onePass(): Promise<void> {
    const scan = await scanSpool({
      dirs: this.o.spoolDirs,
      nowMs: this.o.clock.now(),
      stableMs: this.o.stableMs ?? 2000,
      abandonMs: Math.max(600_000, this.o.stableMs ?? 0),
      parse: this.o.parse,
      log: this.o.log,
    });
    this.left = scan.left;
    this.counts.rejected += scan.rejected;
    const byGroup = new Map<string, SpoolEntry[]>();
    for (const e of scan.ready) byGroup.set(groupOf(e.leg), [...(byGroup.get(groupOf(e.leg)) ?? []), e]);
    for (const [group, entries] of byGroup) {
      if (this.stopped || !this.owning) return;
      await this.serial(() =>
        this.acceptLegs(
          group,
          entries.map((e) => e.leg),
        ),
      );
      // durable now (held, in the outbox, or known to be sent): FreeSWITCH's file can go
      for (const e of entries) {
        try {
          await moveInto(e.dir, IMPORTED, e.name);
          this.counts.imported++;
        } catch (err) {
          this.o.log.error({ dir: e.dir, file: e.name, err }, 'CDR spool file imported but cannot be moved');
        }
      }
    }
    if (scan.left > 0) this.wake(this.o.clock.now() + (this.o.stableMs ?? 2000));
  }

  private async acceptLegs(group: string, legs: CdrLeg[]): Promise<void> {
    if (this.settled.has(group)) return; // a late sibling of a call already settled
    const now = this.o.clock.now();
    const fresh = legs.filter((l) => this.o.maxAgeMs <= 0 || l.endUs / 1000 >= now - this.o.maxAgeMs);
    if (fresh.length < legs.length) {
      const old = { callUuid: group, legs: legs.length - fresh.length };
      this.o.log.warn(old, 'CDR too old to tell whether it was sent (FSB24_CDR_MAX_AGE_HOURS); ignored');
    }
    if (fresh.length === 0) return;
    if (this.ports.followed(group)) {
      const known = this.followedLegs.get(group)?.legs ?? [];
      const legsNow = [...known.filter((k) => !fresh.some((f) => f.uuid === k.uuid)), ...fresh];
      this.followedLegs.set(group, { at: now, legs: legsNow });
      if (this.followedLegs.size > MAX_REMEMBERED)
        this.followedLegs.delete(this.followedLegs.keys().next().value as string);
      if (fresh.some((l) => l.uuid === group)) this.wake(now + this.o.graceMs);
      return;
    }
    // a whole call (its A leg and every leg it names) settles without being written first
    if ((await this.trySettle(group, false, fresh)) === 'settled') return;
    await this.held.add(group, fresh, now);
    await this.trySettle(group, false);
  }

  /**
   * Settle a call whose A leg is in: replay it, send what its portal lacks, forget the legs. Else
   * why not: no A leg yet, the switch follows it, or a sibling it names may still come.
   */
  private async trySettle(
    group: string,
    force: boolean,
    arriving: readonly CdrLeg[] = [],
  ): Promise<'settled' | 'no-a' | 'followed' | 'waiting'> {
    const now = this.o.clock.now();
    const legs = [...arriving];
    for (const l of await this.held.legs(group)) if (!legs.some((h) => h.uuid === l.uuid)) legs.push(l);
    for (const l of this.followedLegs.get(group)?.legs ?? []) if (!legs.some((h) => h.uuid === l.uuid)) legs.push(l);
    const a = legs.find((l) => l.uuid === group && l.originator === null);
    if (!a) return 'no-a';
    if (this.ports.followed(group)) return 'followed';
    const since = this.held.since(group) ?? this.followedLegs.get(group)?.at ?? now;
    const missing = a.partners.filter((u) => !legs.some((l) => l.uuid === u));
    if (!force && missing.length > 0 && now < since + this.o.graceMs) {
      if (arriving.length === 0) this.wake(since + this.o.graceMs);
      return 'waiting';
    }
    const { effects, facts } = replay(legs, group, this.o.model);
    let state: CallSent = 'unknown';
    if (effects.length > 0) {
      state = await this.ports.sent(group, facts);
      const send =
        state === 'unknown'
          ? effects
          : state === 'registered'
            ? effects.filter((e) => e.kind !== 'register' && e.kind !== 'adopt')
            : [];
      if (send.length > 0) {
        await this.ports.submit(group, send);
        this.counts.sent++;
        const fin = send.find((e) => e.kind === 'finish');
        const info = fin?.kind === 'finish' ? { status: fin.status, duration: fin.duration } : {};
        this.o.log.info({ callUuid: group, was: state, missing: missing.length, ...info }, 'call sent from its CDR');
      }
    }
    if (this.guesses.delete(group) && state !== 'finished') this.counts.replacedGuesses++;
    this.followedLegs.delete(group);
    this.settled.add(group);
    if (this.settled.size > MAX_REMEMBERED) this.settled.delete(this.settled.values().next().value as string);
    await this.held.release(group);
    return 'settled';
  }

  /** Look at everything waiting: calls to settle, guesses due, legs too old to wait for; then when to look again. */
  private async sweep(): Promise<void> {
    if (this.stopped) return;
    if (this.left > 0) await this.importSpool();
    await this.serial(async () => {
      const now = this.o.clock.now();
      const next: number[] = [];
      const groups = new Set([...this.held.groups().map(([g]) => g), ...this.followedLegs.keys()]);
      for (const g of groups) {
        const since = this.held.since(g) ?? this.followedLegs.get(g)?.at ?? now;
        const due = now >= since + this.o.graceMs || (this.guesses.get(g)?.due ?? Infinity) <= now;
        const r = await this.trySettle(g, due);
        if (r === 'settled') continue;
        if (r === 'followed') next.push(now + this.o.graceMs); // until the switch has finished it
        if (r === 'waiting') next.push(since + this.o.graceMs);
        const held = this.held.since(g);
        if (r === 'no-a' && held !== undefined) {
          if (now - held > ORPHAN_LEGS_MS) {
            this.o.log.warn({ callUuid: g }, 'CDR legs whose A leg never came; dropped');
            await this.held.release(g);
          } else next.push(held + ORPHAN_LEGS_MS);
        }
        const f = this.followedLegs.get(g);
        if (f && now - f.at > FOLLOWED_MS) this.followedLegs.delete(g);
        else if (f) next.push(f.at + FOLLOWED_MS);
      }
      for (const [call, g] of [...this.guesses]) {
        // a spool pass under way may still hold the truth: its end wakes this again
        if (g.due > now || this.passing > 0) {
          if (this.passing === 0) next.push(g.due);
          continue;
        }
        this.guesses.delete(call);
        for (const release of g.release) release();
      }
      if (next.length > 0) this.wake(Math.max(now + 1, Math.min(...next)));
    });
  }

  private wake(at: number): void {
    if (this.stopped || (this.timer && this.timer.due <= at)) return;
    this.o.clock.clearTimeout(this.timer);
    this.timer = this.o.clock.setTimeout(
      () => {
        this.timer = null;
        this.sweep().catch((err: unknown) => this.o.log.error({ err }, 'CDR sweep failed'));
      },
      Math.max(0, at - this.o.clock.now()),
    );
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

/** The call a leg belongs to: its A leg. */
export const groupOf = (leg: CdrLeg): string => leg.originator ?? leg.uuid;
