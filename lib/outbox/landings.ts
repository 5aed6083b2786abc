/**
 * What a request's verdicts leave to write to the store, gathered so the outbox writes it in one round
 * trip (`CallIds.settle`) before it handles each verdict: the CALL_IDs the registers brought and the
 * jobs that landed (a finish for a call the portal no longer knows is done too). Only those: nothing is
 * marked done that did not land, and each CALL_ID goes in the same commit as the jobs done with it.
 */
import type { Job, LearntCallId } from '../store/store.js';
import type { Verdict } from './classify.js';
import type { Command } from './commands.js';

export function landings(verdicts: ReadonlyArray<readonly [Command, Verdict]>): {
  learnt: LearntCallId[];
  jobs: Job[];
} {
  const learnt: LearntCallId[] = [];
  const jobs: Job[] = [];
  for (const [c, v] of verdicts) {
    if (v.kind !== 'done' && v.kind !== 'gone') continue;
    if (v.kind === 'done' && v.callId) learnt.push({ call: c.call, b24CallId: v.callId, userId: c.userId ?? null });
    jobs.push(...c.jobs);
  }
  return { learnt, jobs };
}
