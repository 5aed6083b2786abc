/**
 * What the planner reads besides the pending jobs, read from the store before it runs
 * (the planner is pure and synchronous; the store is not): the CALL_IDs of the calls
 * with jobs, the card history of calls with a finish to send (and a CALL_ID), and why a register failed
 * for calls that wait for one. A superset of what `plan` asks for; one read per kind (CALL_IDs and card
 * histories through the outbox's caches, those not cached in one read: ./callids.ts). And the planner's
 * budget and context (`planInputs`).
 */
import type { Job, JobStore } from '../store/store.js';
import type { Budget, CardHistory, PlanContext } from './plan.js';
import type { CallIds } from './callids.js';
import type { OutboxOptions } from './options.js';

export interface PlanView {
  callId(call: string): string | null;
  cardHistory(call: string): CardHistory;
  registerFailure(call: string): string | null;
}

const NONE: CardHistory = { registerUser: null, effects: [] };

export async function readView(
  store: Pick<JobStore, 'registerFailure'>,
  callIds: Pick<CallIds, 'many' | 'histories'>,
  jobs: readonly Job[],
): Promise<PlanView> {
  const calls = new Set<string>();
  const finishing = new Set<string>();
  const registering = new Set<string>();
  for (const j of jobs) {
    calls.add(j.call);
    if (j.effect.kind === 'finish') finishing.add(j.call);
    if (j.effect.kind === 'register' || j.effect.kind === 'adopt') registering.add(j.call);
  }
  const ids = await callIds.many(calls);
  const orphaned = [...calls].filter((c) => !ids.has(c) && !registering.has(c));
  // no CALL_ID yet: nothing of the call landed, its history is empty (a backlog of thousands costs no read)
  const landed = [...finishing].filter((c) => ids.has(c));
  const [history, failures] = await Promise.all([
    callIds.histories(landed),
    Promise.all(orphaned.map(async (c) => [c, await store.registerFailure(c)] as const)),
  ]);
  const failure = new Map(failures);
  return {
    callId: (call) => ids.get(call) ?? null,
    cardHistory: (call) => history.get(call) ?? NONE,
    registerFailure: (call) => failure.get(call) ?? null,
  };
}

/** The planner's budget and context, from the outbox's options, what was read, and its own state. */
export function planInputs(
  o: OutboxOptions,
  view: PlanView,
  lane: boolean,
  state: Pick<PlanContext, 'forDefaultUser' | 'attachments' | 'hidden' | 'busy'>,
): { budget: Budget; ctx: PlanContext } {
  const budget: Budget = {
    commands: o.maxBatch ?? 50,
    bodyBytes: o.bodyCapBytes ?? 8 * 1024 * 1024,
    loaded: o.client.loaded(),
    readyAt: (m) => o.client.operating.readyAt(m),
    // the card lane: a request beside those in flight, for the cards of live calls only
    ...(lane ? { cardsOnly: true } : {}),
  };
  const ctx: PlanContext = {
    ...state,
    users: (ext) => o.directory.userFor(ext),
    defaultUserId: o.defaultUserId,
    cardWindowMs: o.cardWindowMs,
    starveMs: o.starveMs ?? 5000,
    lazyMs: o.lazyMs ?? 1000,
    cardHistory: (call) => view.cardHistory(call),
    registerFailure: (call) => view.registerFailure(call),
  };
  return { budget, ctx };
}
