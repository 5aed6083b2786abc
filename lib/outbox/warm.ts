/**
 * The outbox's share of the start-up warm-up (lib/switch/warm.ts): the sample call's effects
 * planned as the outbox plans their jobs and delivered as it delivers them, request by request
 * (the ringing calls' registers and shows; then, their CALL_IDs known, the hides and finishes;
 * then the recording), to a client that answers as a portal would without a byte going
 * anywhere. No store, no outbox state: what it makes is returned and dropped.
 */
import { Readable } from 'node:stream';
import type { Effect } from '../calls/effects.js';
import type { Job } from '../store/store.js';
import { OperatingLimits } from '../bitrix24/limiter.js';
import type { BatchResult } from '../bitrix24/client.js';
import { plan, type Budget, type CardHistory, type PlanContext } from './plan.js';
import type { AttachPayload, CommandContext } from './commands.js';
import { deliver, type DeliveryClient } from './deliver.js';

const BUDGET: Budget = { commands: 50, bodyBytes: 8 * 1024 * 1024, loaded: false, readyAt: () => 0 };

/** A portal's answer to a command: a CALL_ID for a register, `true` for the rest. */
function answer(line: string, n: number): unknown {
  return line.startsWith('telephony.externalcall.register') ? { CALL_ID: `externalCall.warm.${n}` } : true;
}

/** A client that answers every request itself; `bodies` gets what each request's body would have been. */
function standIn(bodies: string[]): DeliveryClient {
  return {
    operating: new OperatingLimits(),
    call: async <T>(method: string, params: Record<string, unknown> = {}): Promise<T> => {
      bodies.push(JSON.stringify({ ...params, auth: '' }));
      return answer(method, bodies.length) as T;
    },
    callWithFile: async <T>(method: string): Promise<T> => answer(method, bodies.length) as T,
    batch: async (cmd: Record<string, string>): Promise<BatchResult> => {
      bodies.push(JSON.stringify({ halt: 0, cmd, auth: '' }));
      const result = Object.fromEntries(Object.entries(cmd).map(([k, line], i) => [k, answer(line, i)]));
      return { result, errors: {}, time: {} };
    },
  };
}

/** Returns the request bodies the sample would have sent (JSON, in order). */
export async function rehearseDelivery(
  effects: readonly Effect[],
  users: CommandContext,
  now: number,
): Promise<string[]> {
  const bodies: string[] = [];
  const client = standIn(bodies);
  const jobs: Job[] = effects.map((effect, i) => ({
    id: -1 - i, // never an outbox job's id
    call: effect.call,
    effect,
    attempts: 0,
    nextAt: now,
    createdAt: now,
    lastError: null,
  }));
  const callIds = new Map<string, string>();
  /** The cards that landed, per call (a finish hides the card from whoever else still sees it). */
  const cards = new Map<string, CardHistory>();
  const attachments = new Map<number, AttachPayload>();
  for (const j of jobs)
    if (j.effect.kind === 'attach')
      attachments.set(j.id, {
        mode: 'url',
        path: j.effect.path,
        name: 'warm.wav',
        size: 0,
        url: 'https://warm.invalid/',
      });
  const ctx: PlanContext = {
    ...users,
    cardWindowMs: 0,
    starveMs: 5000,
    lazyMs: 0,
    forDefaultUser: new Set(),
    attachments,
    busy: () => false,
    hidden: new Set(),
    cardHistory: (call) => cards.get(call) ?? { registerUser: null, effects: [] },
    registerFailure: () => null,
  };
  const ends = effects.findIndex((e) => e.kind === 'hide' || e.kind === 'finish');
  let pending = jobs.slice(0, ends < 0 ? jobs.length : ends);
  let rest = jobs.slice(pending.length);
  for (let round = 0; round < 8; round++) {
    const p = plan(pending, (call) => callIds.get(call) ?? null, BUDGET, now, ctx);
    if (p.commands.length === 0) {
      if (rest.length === 0) break;
      pending = [...pending, ...rest];
      rest = [];
      continue;
    }
    const gone = new Set(p.done);
    // recordings go by link here: no file content is read
    const d = await deliver(
      client,
      () => Readable.from([]),
      p.commands,
      () => false,
    );
    for (const [c, v] of d.verdicts) {
      if (v.kind !== 'done') continue;
      if (v.callId) callIds.set(c.call, v.callId);
      const h = cards.get(c.call) ?? { registerUser: c.kind === 'register' ? (c.userId ?? null) : null, effects: [] };
      cards.set(c.call, { ...h, effects: [...h.effects, ...c.jobs.map((j) => j.effect)] });
      for (const j of c.jobs) gone.add(j.id);
    }
    pending = pending.filter((j) => !gone.has(j.id));
  }
  return bodies;
}
