/**
 * What the planner reads besides the pending jobs, read from the store before it runs
 * (the planner is pure and synchronous; the store is not): the CALL_IDs of the calls
 * with jobs, the card history of calls with a finish to send, and why a register failed
 * for calls that wait for one. A superset of what `plan` asks for; one read per kind
 * (CALL_IDs and card histories through the outbox's caches: ./callids.ts).
 */
import type { Job, JobStore } from '../store/store.js';
import type { CardHistory } from './plan.js';
import type { CallIds } from './callids.js';

export interface PlanView {
  callId(call: string): string | null;
  cardHistory(call: string): CardHistory;
  registerFailure(call: string): string | null;
}

const NONE: CardHistory = { registerUser: null, effects: [] };

export async function readView(
  store: Pick<JobStore, 'registerFailure'>,
  callIds: Pick<CallIds, 'many' | 'history'>,
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
  const [histories, failures] = await Promise.all([
    Promise.all([...finishing].map(async (c) => [c, await callIds.history(c)] as const)),
    Promise.all(orphaned.map(async (c) => [c, await store.registerFailure(c)] as const)),
  ]);
  const history = new Map(histories);
  const failure = new Map(failures);
  return {
    callId: (call) => ids.get(call) ?? null,
    cardHistory: (call) => history.get(call) ?? NONE,
    registerFailure: (call) => failure.get(call) ?? null,
  };
}
