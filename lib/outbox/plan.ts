/**
 * The planner: which commands the next request carries, decided from the pending jobs
 * alone. Pure: it reads its inputs and returns decisions (commands to send, jobs that
 * are bookkeeping only, jobs that cannot land, recordings to check on disk); the
 * scheduler carries them out.
 *
 * Per call, jobs go in order (a finish waits for the register's CALL_ID, or rides in
 * the same batch through `$result[...]`). Across calls, a request carries cards of
 * new calls first, then hides and finishes, then recordings; the rest that waited
 * longer than `starveMs` (a backlog: registers of calls that ended, their finishes and
 * recordings) moves up behind the cards, oldest first, and keeps a fifth of the request
 * should cards ever fill it, so nothing starves and no card waits behind a backlog.
 */
import type { Effect } from '../calls/effects.js';
import type { Job } from '../store/store.js';
import {
  attachCommand,
  cardCommands,
  finishCommand,
  hideBeforeFinish,
  inlineBytes,
  registerCommand,
  METHOD,
  type AttachPayload,
  type Command,
  type CommandContext,
  type Tier,
} from './commands.js';

export interface Budget {
  /** Commands one request may carry (1: no batching). */
  commands: number;
  /** Bytes of inline recordings one request may carry. */
  bodyBytes: number;
  /** The bucket is short: show/hide wait out the card window to be coalesced. */
  loaded: boolean;
  /** When a method may go next (operating-time limit); at or before `now`: at once. */
  readyAt: (method: string) => number;
  /** Only registers and shows (the card lane: a request beside those carrying the rest). */
  cardsOnly?: boolean;
}

/** The card effects of a call that already landed, and the user its register named. */
export interface CardHistory {
  registerUser: number | null;
  effects: readonly Effect[];
}

export interface PlanContext extends CommandContext {
  cardWindowMs: number;
  starveMs: number;
  /** A request without cards waits until its oldest command is this old: fewer requests, room kept for cards. */
  lazyMs: number;
  /** Register jobs to send for the default user (the portal refused the employee). */
  forDefaultUser: ReadonlySet<number>;
  /** Attach jobs whose file was checked and is ready to go. */
  attachments: ReadonlyMap<number, AttachPayload>;
  /** Jobs being worked on elsewhere (a request in flight, a file check, an upload): not planned. */
  busy: (jobId: number) => boolean;
  /** Finish jobs whose preceding hide landed already. */
  hidden: ReadonlySet<number>;
  cardHistory: (call: string) => CardHistory;
  /** The reason a call's register failed for good, if it did. */
  registerFailure: (call: string) => string | null;
}

export interface Plan {
  commands: Command[];
  /** Jobs with nothing to send (bookkeeping, a register known already, cards of a finished call). */
  done: number[];
  /** CALL_IDs learnt from adopt effects (click-to-call). */
  adopted: Array<{ call: string; b24CallId: string }>;
  /** Jobs that can never land: their register failed for good. */
  failed: Array<{ job: Job; reason: string }>;
  /** Attach jobs whose file should be checked now. */
  prepare: Job[];
  /** When planning again may find more; null: only a new job will. */
  nextWake: number | null;
}

interface Unit {
  tier: Tier;
  /**
   * Registers and shows of a call ringing or talking now, or begun less than `starveMs` ago (a busy
   * call that ended before its register could go is a new call all the same, not part of a backlog).
   */
  live: boolean;
  starving: boolean;
  seq: number;
  oldest: number;
  commands: Command[];
  bytes: number;
}

/** The users who still see a call's card, from what landed (and a register going out now). */
export function visibleCards(ctx: CommandContext, h: CardHistory, pending: Command | null): Set<number> {
  const seen = new Set<number>();
  const users = (e: Extract<Effect, { kind: 'show' | 'hide' }>): number[] =>
    e.extensions.map((x) => ctx.users(x)).filter((u): u is number => u !== null);
  for (const e of h.effects) {
    if (e.kind === 'register' && e.show) seen.add(h.registerUser ?? ctx.users(e.extension) ?? ctx.defaultUserId);
    else if (e.kind === 'show') for (const u of users(e)) seen.add(u);
    else if (e.kind === 'hide') for (const u of users(e)) seen.delete(u);
  }
  if (pending?.params.SHOW === 1 && pending.userId !== undefined) seen.add(pending.userId);
  return seen;
}

export function plan(
  jobs: readonly Job[],
  callIds: (call: string) => string | null,
  budget: Budget,
  now: number,
  ctx: PlanContext,
): Plan {
  const out: Plan = { commands: [], done: [], adopted: [], failed: [], prepare: [], nextWake: null };
  const later = (t: number): void => {
    out.nextWake = out.nextWake === null ? t : Math.min(out.nextWake, t);
  };
  const held = (...methods: string[]): boolean => {
    const at = Math.max(...methods.map((m) => budget.readyAt(m)));
    if (at <= now) return false;
    later(at);
    return true;
  };
  const byCall = new Map<string, Job[]>();
  for (const j of jobs) {
    const list = byCall.get(j.call);
    if (list) list.push(j);
    else byCall.set(j.call, [j]);
  }
  const units: Unit[] = [];
  let ending = false; // the call being planned has a finish pending
  const unit = (tier: Tier, commands: Command[], oldest: number): void => {
    const live = tier === 0 && (!ending || now - oldest < ctx.starveMs);
    units.push({
      tier,
      live,
      starving: !live && now - oldest >= ctx.starveMs,
      seq: units.length,
      oldest,
      commands,
      bytes: commands.reduce((n, c) => n + inlineBytes(c.attach), 0),
    });
  };

  // calls begun within `starveMs` are all planned (their cards go first); of the backlog behind them, registers
  // go oldest call first and none is ever passed over: once a request's worth of them is planned, no later
  // call of the backlog can add to this request (a backlog is not rebuilt in full for every request)
  const calls = [...byCall];
  const fresh = (list: readonly Job[]): boolean => now - list[0]!.createdAt < ctx.starveMs;
  let registers = 0;
  for (const [call, list] of [...calls.filter(([, l]) => fresh(l)), ...calls.filter(([, l]) => !fresh(l))]) {
    const backlog = !fresh(list);
    if (backlog && registers >= budget.commands) {
      later(now);
      break;
    }
    let callId = callIds(call);
    let register: Command | null = null;
    const finishing = list.some((j) => j.effect.kind === 'finish');
    ending = finishing;
    /**
     * Show/hide of a call that is ending: never sent, done when its finish lands
     * (a hide among them is in the finish's).
     */
    const folded: Job[] = [];
    let first = true; // nothing earlier of this call is still waiting
    for (let i = 0; i < list.length; i++) {
      const job = list[i]!;
      const e = job.effect;
      if (ctx.busy(job.id)) break;
      if (job.nextAt > now) {
        later(job.nextAt);
        break;
      }
      if (e.kind === 'connected' || e.kind === 'recording') {
        out.done.push(job.id); // bookkeeping only: read back after a restart
        continue;
      }
      if (e.kind === 'adopt') {
        out.adopted.push({ call, b24CallId: e.b24CallId });
        callId = e.b24CallId;
        out.done.push(job.id);
        continue;
      }
      if (e.kind === 'register') {
        if (callId) {
          out.done.push(job.id); // registered already (before a restart)
          continue;
        }
        if (held(METHOD.register)) break;
        register = registerCommand(ctx, job, e, ctx.forDefaultUser.has(job.id));
        unit(0, [register], job.createdAt);
        if (backlog) registers++;
        first = false;
        continue;
      }
      if (!callId && !register) {
        const failure = ctx.registerFailure(call);
        if (failure) {
          out.failed.push({ job, reason: `its register failed: ${failure}` });
          continue;
        }
        break; // waits for a register that has not landed
      }
      const registerKey = register?.key ?? null;
      if (e.kind === 'show' || e.kind === 'hide') {
        if (finishing) {
          folded.push(job); // the finish (and the hide before it) closes every card it concerns
          continue;
        }
        let k = i;
        const group: Job[] = [];
        while (
          k < list.length &&
          (list[k]!.effect.kind === 'show' || list[k]!.effect.kind === 'hide') &&
          list[k]!.nextAt <= now &&
          !ctx.busy(list[k]!.id)
        )
          group.push(list[k++]!);
        const newest = Math.max(...group.map((g) => g.createdAt));
        if (budget.loaded && ctx.cardWindowMs > 0 && now - newest < ctx.cardWindowMs && k >= list.length) {
          later(newest + ctx.cardWindowMs); // more may come within the window: one request for them all
          break;
        }
        const cards = cardCommands(ctx, group, callId, registerKey);
        if (cards.length === 0) out.done.push(...group.map((g) => g.id));
        else if (held(...cards.map((c) => c.method))) break;
        for (const c of cards) unit(c.tier, [c], Math.min(...group.map((g) => g.createdAt)));
        if (cards.length > 0) first = false;
        i = k - 1;
        continue;
      }
      if (e.kind === 'finish') {
        const fin = finishCommand(ctx, job, e, callId, registerKey);
        fin.jobs.push(...folded);
        const others = ctx.hidden.has(job.id)
          ? []
          : [...visibleCards(ctx, ctx.cardHistory(call), register)].filter((u) => u !== fin.userId);
        const cmds =
          others.length > 0
            ? [
                hideBeforeFinish(
                  fin,
                  others.sort((a, b) => a - b),
                ),
                fin,
              ]
            : [fin];
        if (held(...cmds.map((c) => c.method))) break;
        unit(1, cmds, job.createdAt);
        first = false;
        continue;
      }
      if (e.kind === 'attach') {
        // after its finish landed (Bitrix24 attaches only to finished calls), one per request
        if (!first || !callId) break;
        const ready = ctx.attachments.get(job.id);
        if (!ready) {
          out.prepare.push(job);
          break;
        }
        if (held(METHOD.attach)) break;
        unit(2, [attachCommand(job, e, callId, ready)], job.createdAt);
        break;
      }
    }
  }

  if (budget.cardsOnly) {
    const cards = units.filter((u) => u.live);
    units.length = 0;
    units.push(...cards);
  }
  // cards of live calls, then what starves (oldest first), then the rest by tier
  const rank = (u: Unit): number => (u.live ? 0 : u.starving ? 1 : 2 + u.tier);
  units.sort((a, b) => rank(a) - rank(b) || a.seq - b.seq);
  if (units.length > 0 && units.every((u) => u.tier > 0 && !u.starving)) {
    // no card waits: let hides, finishes and recordings gather for a while (one request for many)
    const oldest = Math.min(...units.map((u) => u.oldest));
    if (now - oldest < ctx.lazyMs) {
      later(oldest + ctx.lazyMs);
      return out;
    }
  }
  const sent = new Set<string>();
  let bytes = 0;
  const starving = units.reduce((n, u) => n + (u.starving ? u.commands.length : 0), 0);
  const reserve = Math.min(starving, Math.ceil(budget.commands / 5));
  for (const u of units) {
    const room = budget.commands - (u.live ? reserve : 0) - out.commands.length;
    if (room <= 0) {
      later(now);
      if (u.live) continue;
      break;
    }
    let cmds = u.commands;
    if (cmds.some((c) => c.dependsOn !== null && !sent.has(c.dependsOn))) continue; // its register did not fit
    if (cmds.length > room) {
      // a hide before a finish may go first alone (no batching); the finish follows
      if (out.commands.length > 0 || cmds[0]!.kind !== 'hide') {
        later(now);
        continue;
      }
      cmds = cmds.slice(0, room);
    }
    if (u.bytes > 0 && bytes + u.bytes > budget.bodyBytes && out.commands.length > 0) {
      later(now);
      continue;
    }
    // with room in the bucket a card does not wait for a recording to be read and sent: that goes next
    if (u.bytes > 0 && !budget.loaded && out.commands.some((c) => c.kind === 'register' || c.kind === 'show')) {
      later(now);
      continue;
    }
    bytes += u.bytes;
    for (const c of cmds) {
      out.commands.push(c);
      sent.add(c.key);
    }
  }
  // in the request: cards of live calls, then by tier (a register before what refers to it)
  const live = new Set(units.filter((u) => u.live).flatMap((u) => u.commands));
  const order = (c: Command): number => (live.has(c) ? -1 : c.tier);
  out.commands.sort((a, b) => order(a) - order(b));
  return out;
}
