/**
 * Every switch the service listens to (FSB24_SWITCHES, issue 15), each a SwitchUnit with its
 * own event socket, registrations and call model. A call uuid is unique across them, so a
 * call is found by asking each model; a phone is looked for where it is registered (per
 * directory domain), else in the directory of each switch in the configured order.
 */
import type { Effect } from '../calls/effects.js';
import type { UnfinishedCall } from '../calls/orphans.js';
import type { CallFacts } from './facts.js';
import type { SwitchUnit } from './unit.js';

/** Where to ring an employee: a switch's name, or why no switch can (a finish status and reason). */
export type Placement = { switch: string } | { switch: null; status: '480' | '503'; reason: string };

/** One switch's figures for /healthz and /metrics. */
export interface SwitchFigures {
  switch: string;
  connected: boolean;
  liveCalls: number;
  reconnects: number;
}

export class Switches {
  constructor(readonly list: readonly SwitchUnit[]) {
    if (list.length === 0) throw new Error('at least one switch');
  }

  /** The first switch of the list (the only one without FSB24_SWITCHES). */
  get first(): SwitchUnit {
    return this.list[0] as SwitchUnit;
  }

  byName(name: string): SwitchUnit | undefined {
    return this.list.find((s) => s.name === name);
  }

  /** The switch whose model follows the call. */
  of(call: string): SwitchUnit | undefined {
    return this.list.find((s) => s.model.tracks(call));
  }

  /** What the call's legs say about its tenant, on whichever switch it is. */
  factsOf(call: string): CallFacts | null {
    for (const s of this.list) {
      const f = s.factsOf(call);
      if (f) return f;
    }
    return null;
  }

  get liveCalls(): number {
    return this.list.reduce((n, s) => n + s.model.liveCalls, 0);
  }

  /** A routing lookup's answer, for the live calls of that caller on every switch. */
  routed(caller: string, extension: string): Effect[] {
    return this.list.flatMap((s) => s.routed(caller, extension));
  }

  /** Registered on some switch (true), on none of them (false), or some switch cannot say (null). */
  async isRegistered(ext: string, domain: string | null): Promise<boolean | null> {
    const all = await Promise.all(this.list.map((s) => s.isRegistered(ext, domain)));
    return all.includes(true) ? true : all.includes(null) ? null : false;
  }

  /**
   * The switch to ring `ext` on: where it is registered (in `domain` when given), else the
   * first whose directory has it. One switch: that one, unasked (it says itself what became
   * of the call, as before there were several). None: 480, or 503 when a switch that might
   * have it cannot be asked.
   */
  async locate(ext: string, domain: string | null): Promise<Placement> {
    if (this.list.length === 1) return { switch: this.first.name };
    const registered = await Promise.all(this.list.map((s) => s.isRegistered(ext, domain)));
    const on = registered.indexOf(true);
    if (on >= 0) return { switch: (this.list[on] as SwitchUnit).name };
    const known = await Promise.all(this.list.map((s) => s.inDirectory(ext, domain)));
    const has = known.indexOf(true);
    if (has >= 0) return { switch: (this.list[has] as SwitchUnit).name };
    const who = domain ? `${ext}@${domain}` : ext;
    const deaf = this.list.filter((_, i) => known[i] === null).map((s) => s.name);
    if (deaf.length > 0)
      return { switch: null, status: '503', reason: `the PBX is not reachable (switch ${deaf.join(', ')})` };
    return { switch: null, status: '480', reason: `extension ${who} is on no switch` };
  }

  figures(): SwitchFigures[] {
    return this.list.map((s) => ({
      switch: s.name,
      connected: s.listener.connected,
      liveCalls: s.model.liveCalls,
      reconnects: s.listener.reconnects,
    }));
  }

  /**
   * /healthz: `eventSocket` is the one switch's state as before; with several, whether all,
   * some or none are up, and `switches` has each one (its address, state, last error, calls).
   */
  health(): { ok: boolean; body: Record<string, unknown> } {
    const each = this.list.map((s) => ({ s, h: s.health() }));
    const up = each.filter((x) => x.h.ok).length;
    const ok = up === each.length;
    const state = ok ? 'up' : up > 0 ? 'degraded' : 'down';
    const down = each.find((x) => !x.h.ok);
    const eventSocket =
      each.length === 1
        ? (each[0] as { h: { body: Record<string, unknown> } }).h.body
        : { state, up, of: each.length, ...(down ? { down: down.s.name, lastError: down.h.body.lastError } : {}) };
    const switches = Object.fromEntries(
      each.map(({ s, h }) => [s.name, { connected: h.ok, ...h.body, liveCalls: s.model.liveCalls }]),
    );
    return { ok, body: { eventSocket, switches } };
  }

  start(): void {
    for (const s of this.list) s.start();
  }

  stop(): void {
    for (const s of this.list) s.stop();
  }
}

/** The switch an unfinished call was recorded on (its register, else its last connection); null: none recorded. */
export function switchOfCall(u: UnfinishedCall): string | null {
  const named = (e: Effect | null): string | undefined =>
    e?.kind === 'register' || e?.kind === 'connected' ? e.switch : undefined;
  return named(u.connected) ?? named(u.register) ?? null;
}

/** A group of unfinished calls a switch's first connect settles: which ones, what is live, what is followed. */
export interface OrphanGroup {
  owns: (u: UnfinishedCall) => boolean;
  live: ReadonlySet<string>;
  known: (uuid: string) => boolean;
}

/**
 * After a restart, a call that ended while the service was down is finished only by the
 * switch it was on, at that switch's first connect (another switch's channels say nothing
 * about it). Calls that name no configured switch (stored before switches were recorded, or
 * on a switch since renamed) wait until every switch has connected once, then are settled
 * against all of them. One switch: everything at its first connect, as before.
 */
export class OrphanSweep {
  private readonly seen = new Map<string, { live: ReadonlySet<string>; known: (uuid: string) => boolean }>();
  private unnamedDone = false;

  constructor(private readonly names: readonly string[]) {}

  /** Several instances: a switch taken over settles its calls' orphans again at its next connect. */
  again(name: string): void {
    this.seen.delete(name);
  }

  connected(name: string, live: ReadonlySet<string>, known: (uuid: string) => boolean): OrphanGroup[] {
    if (this.seen.has(name)) return [];
    this.seen.set(name, { live, known });
    const groups: OrphanGroup[] = [{ owns: (u) => switchOfCall(u) === name, live, known }];
    if (!this.unnamedDone && this.seen.size === this.names.length) {
      this.unnamedDone = true;
      const all = [...this.seen.values()];
      groups.push({
        owns: (u) => {
          const s = switchOfCall(u);
          return s === null || !this.names.includes(s);
        },
        live: new Set(all.flatMap((x) => [...x.live])),
        known: (uuid) => all.some((x) => x.known(uuid)),
      });
    }
    return groups;
  }
}
