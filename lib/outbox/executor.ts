/**
 * The outbox: effects are written to SQLite first, then delivered to Bitrix24 in
 * order per call (finish waits for register's CALL_ID), grouped into `batch` requests
 * (a register and what follows it ride together through `$result[...]`), retried with
 * back-off until they land or fail for a reason retrying cannot fix (kept, with it).
 */
import type { Effect, RegisterEffect } from '../calls/effects.js';
import type { Bitrix24Client } from '../bitrix24/client.js';
import { B24Error, isCallNotFound, isUserNotFound } from '../bitrix24/errors.js';
import type { UserDirectory } from '../bitrix24/directory.js';
import type { Job, Store } from '../store/store.js';
import { batchCommand, cardCommands, finishCommand, registerCommand, type Command, type CommandContext } from './commands.js';

export { batchCommand } from './commands.js';
import type { Logger } from '../log.js';

export interface OutboxOptions {
  store: Store;
  client: Bitrix24Client;
  directory: UserDirectory;
  defaultUserId: number;
  cardWindowMs: number;
  log: Logger;
  /** Uploads a recording for a finished call; throws B24Error / RecordingError. */
  attach: (callId: string, path: string, job: Job) => Promise<'done' | { retryInMs: number; why: string } | { failed: string }>;
  now?: () => number;
  maxBatch?: number;
  /** First retry delay; doubles per attempt up to a minute. */
  retryBaseMs?: number;
}

export interface OutboxEvents {
  onDelivered?: (job: Job, method: string) => void;
  onFailed?: (job: Job, reason: string) => void;
}

const MAX_BACKOFF_MS = 60_000;

export class Outbox {
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private pumping: Promise<void> | null = null;
  private again = false;
  private readonly callIds = new Map<string, string>();
  private readonly attaching = new Set<number>();
  private readonly uploads = new Set<Promise<void>>();
  private readonly idleWaiters: Array<() => void> = [];
  private readonly now: () => number;
  readonly events: OutboxEvents = {};
  /** Figures for health and metrics. */
  stats = { requests: 0, delivered: 0, failed: 0, retried: 0 };

  constructor(private readonly o: OutboxOptions) {
    this.now = o.now ?? Date.now;
    this.commands = { directory: o.directory, defaultUserId: o.defaultUserId, setCallId: (call, id, userId) => this.setCallId(call, id, userId) };
  }

  /** Durable first: effects are committed before this returns. */
  submit(effects: readonly Effect[]): void {
    if (effects.length === 0) return;
    this.o.store.enqueue(effects, this.now());
    this.wake();
  }

  start(): void {
    this.running = true;
    this.wake();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.pumping;
    await Promise.allSettled([...this.uploads]);
    for (const w of this.idleWaiters.splice(0)) w();
  }

  wake(): void {
    if (!this.running) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = this.pump().finally(() => {
      this.pumping = null;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  /** Resolves once nothing is due: every job is delivered, failed, or waiting for a later retry. */
  idle(): Promise<void> {
    const p = new Promise<void>((r) => this.idleWaiters.push(r));
    // a pump decides: it resolves the waiters once it finds nothing to send and no upload running
    if (this.running) this.wake();
    else for (const w of this.idleWaiters.splice(0)) w();
    return p;
  }

  private callId(call: string): string | null {
    const cached = this.callIds.get(call);
    if (cached) return cached;
    const stored = this.o.store.callId(call);
    if (stored) this.callIds.set(call, stored);
    return stored;
  }

  private setCallId(call: string, id: string, userId: number | null): void {
    this.callIds.set(call, id);
    this.o.store.setCallId(call, id, userId, this.now());
    for (const w of this.callIdWaiters.get(call) ?? []) w(id);
    this.callIdWaiters.delete(call);
  }

  private readonly callIdWaiters = new Map<string, Array<(id: string) => void>>();

  /** Resolves with the CALL_ID of a call once its register (or adopt) landed; null at the deadline. */
  awaitCallId(call: string, timeoutMs: number): Promise<string | null> {
    const known = this.callId(call);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      timer.unref();
      const list = this.callIdWaiters.get(call) ?? [];
      list.push((id) => {
        clearTimeout(timer);
        resolve(id);
      });
      this.callIdWaiters.set(call, list);
    });
  }

  private async pump(): Promise<void> {
    for (let round = 0; this.running && round < 1000; round++) {
      // wait for the rate limiter first, so the batch takes everything that arrived meanwhile
      await this.o.client.ready();
      const { commands, nextWake } = this.plan();
      if (commands.length === 0) {
        this.schedule(nextWake);
        if (this.attaching.size === 0) for (const w of this.idleWaiters.splice(0)) w();
        return;
      }
      await this.send(commands);
    }
  }

  private schedule(at: number | null): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (at === null || !this.running) return;
    this.timer = setTimeout(() => this.wake(), Math.max(1, at - this.now()));
    this.timer.unref();
  }

  private readonly commands: CommandContext;

  /** Pick what can go now, per call in order, up to one batch. */
  private plan(): { commands: Command[]; nextWake: number | null } {
    const now = this.now();
    const byCall = new Map<string, Job[]>();
    for (const j of this.o.store.pending()) {
      const list = byCall.get(j.call) ?? [];
      list.push(j);
      byCall.set(j.call, list);
    }
    const commands: Command[] = [];
    const max = this.o.maxBatch ?? 50;
    let nextWake: number | null = null;
    const later = (t: number): void => {
      nextWake = nextWake === null ? t : Math.min(nextWake, t);
    };
    for (const [call, jobs] of byCall) {
      if (commands.length >= max) {
        later(now);
        break;
      }
      let callId = this.callId(call);
      let registerKey: string | null = null;
      const hasFinish = jobs.some((j) => j.effect.kind === 'finish');
      for (let i = 0; i < jobs.length && commands.length < max; i++) {
        const job = jobs[i]!;
        if (this.attaching.has(job.id)) break;
        if (job.nextAt > now) {
          later(job.nextAt);
          break;
        }
        const e = job.effect;
        if (e.kind === 'connected') {
          this.o.store.markDone(job.id); // bookkeeping only: read back by orphans()
          continue;
        }
        if (e.kind === 'adopt') {
          this.setCallId(call, e.b24CallId, null);
          callId = e.b24CallId;
          this.o.store.markDone(job.id);
          continue;
        }
        if (e.kind === 'register') {
          if (callId) {
            this.o.store.markDone(job.id); // registered already (before a restart)
            continue;
          }
          registerKey = `r${job.id}`;
          commands.push(registerCommand(this.commands, registerKey, job, e));
          continue;
        }
        if (!callId && !registerKey) {
          const failure = this.o.store.registerFailure(call);
          if (failure) {
            // the register failed for good: nothing of this call can land
            const reason = `its register failed: ${failure}`;
            this.o.store.markFailed(job.id, reason);
            this.stats.failed++;
            this.events.onFailed?.(job, reason);
            continue;
          }
          break; // waits for a register that has not landed
        }
        if (e.kind === 'show' || e.kind === 'hide') {
          if (hasFinish) {
            // finish hides the card: pending show/hide of a finished call are dropped
            this.o.store.markDone(job.id);
            continue;
          }
          const group: Job[] = [];
          let k = i;
          while (k < jobs.length && (jobs[k]!.effect.kind === 'show' || jobs[k]!.effect.kind === 'hide') && jobs[k]!.nextAt <= now) group.push(jobs[k++]!);
          const newest = Math.max(...group.map((g) => g.createdAt));
          if (now - newest < this.o.cardWindowMs && k >= jobs.length) {
            later(newest + this.o.cardWindowMs); // more may come within the window
            break;
          }
          const cards = cardCommands(this.commands, group, callId ?? `$result[${registerKey}][CALL_ID]`, callId ? null : registerKey);
          if (cards.length === 0) for (const j of group) this.o.store.markDone(j.id);
          commands.push(...cards);
          i = k - 1;
          continue;
        }
        if (e.kind === 'finish') {
          commands.push(finishCommand(this.commands, `f${job.id}`, job, e, callId ?? `$result[${registerKey}][CALL_ID]`, callId ? null : registerKey));
          continue;
        }
        if (e.kind === 'attach') {
          if (!callId || i > 0) break; // after finish landed, alone
          this.startAttach(job, callId);
          break;
        }
      }
    }
    return { commands, nextWake };
  }

  private async send(commands: Command[]): Promise<void> {
    this.stats.requests++;
    if (commands.length === 1 && !commands[0]!.dependsOn) {
      const c = commands[0]!;
      try {
        const result = await this.o.client.call(c.method, c.params);
        this.landed(c, result);
      } catch (err) {
        this.failedCommand(c, err);
      }
      return;
    }
    const cmd: Record<string, string> = {};
    for (const c of commands) cmd[c.key] = batchCommand(c);
    let res;
    try {
      res = await this.o.client.batch(cmd);
    } catch (err) {
      for (const c of commands) this.retry(c.jobs, err);
      return;
    }
    const failedRegisters = new Set<string>();
    for (const c of commands) {
      const error = res.errors[c.key];
      if (c.dependsOn && failedRegisters.has(c.dependsOn)) {
        // its register did not land: not this command's fault, try again after it
        for (const j of c.jobs) this.o.store.markRetry(j.id, this.now(), `waiting for ${c.dependsOn}`, false);
        continue;
      }
      if (error) {
        if (c.method === 'telephony.externalcall.register') failedRegisters.add(c.key);
        this.failedCommand(c, new B24Error('B24_ERR_REST', `${c.method}: ${error.error}: ${error.error_description}`, { error: error.error, description: error.error_description, method: c.method, status: 400 }));
        continue;
      }
      try {
        this.landed(c, res.result[c.key]);
      } catch (err) {
        if (c.method === 'telephony.externalcall.register') failedRegisters.add(c.key);
        this.failedCommand(c, err);
      }
    }
  }

  private landed(c: Command, result: unknown): void {
    c.onResult(result);
    for (const j of c.jobs) {
      this.o.log.debug({ callUuid: j.call, b24CallId: this.callIds.get(j.call), method: c.method }, 'delivered to bitrix24');
      this.o.store.markDone(j.id);
      this.stats.delivered++;
      this.events.onDelivered?.(j, c.method);
    }
  }

  private failedCommand(c: Command, err: unknown): void {
    const e = err instanceof B24Error ? err : new B24Error('B24_ERR_BAD_REPLY', String((err as Error)?.message ?? err));
    const desc = e.detail.description ?? '';
    if (e.code === 'B24_ERR_REST' && !e.retryable) {
      if (c.method === 'telephony.externalcall.finish' && isCallNotFound(e)) {
        // finished already (a reply lost before a restart), or by someone else: nothing left to do
        this.o.log.warn({ callUuid: c.jobs[0]?.call, b24CallId: this.callIds.get(c.jobs[0]?.call ?? '') }, 'finish: Bitrix24 no longer knows the call; treating it as finished');
        for (const j of c.jobs) this.o.store.markDone(j.id);
        return;
      }
      if (c.method === 'telephony.externalcall.register' && isUserNotFound(e)) {
        const job = c.jobs[0]!;
        const eff = job.effect as RegisterEffect & { forceDefault?: boolean };
        if (!eff.forceDefault) {
          this.o.log.warn({ callUuid: job.call, extension: eff.extension }, 'register refused the employee; registering for the default user');
          this.o.store.updateEffect(job.id, { ...eff, forceDefault: true } as Effect);
          this.o.store.markRetry(job.id, this.now(), desc);
          return;
        }
      }
      const doomed = [...c.jobs];
      if (c.method === 'telephony.externalcall.register') {
        // without a CALL_ID nothing else of this call can land: say so on each of them
        const call = c.jobs[0]!.call;
        for (const j of this.o.store.pending()) if (j.call === call && !doomed.some((d) => d.id === j.id)) doomed.push(j);
      }
      for (const j of doomed) {
        const reason = c.jobs.includes(j) ? e.message : `its register failed: ${e.message}`;
        this.o.store.markFailed(j.id, reason);
        this.stats.failed++;
        this.events.onFailed?.(j, reason);
        this.o.log.error({ callUuid: j.call, b24CallId: this.callIds.get(j.call), kind: j.effect.kind, reason }, 'outbox job failed for good');
      }
      return;
    }
    this.retry(c.jobs, e);
  }

  private retry(jobs: Job[], err: unknown): void {
    const msg = (err as Error)?.message ?? String(err);
    for (const j of jobs) {
      const delay = Math.min(MAX_BACKOFF_MS, (this.o.retryBaseMs ?? 500) * 2 ** Math.min(j.attempts, 7)) * (0.8 + Math.random() * 0.4);
      this.o.store.markRetry(j.id, this.now() + Math.round(delay), msg);
      this.stats.retried++;
    }
  }

  private startAttach(job: Job, callId: string): void {
    this.attaching.add(job.id);
    const promise: Promise<void> = this.o
      .attach(callId, (job.effect as Extract<Effect, { kind: 'attach' }>).path, job)
      .then((r) => {
        if (!this.running) return; // stopping: the job stays pending for the next start
        if (r === 'done') {
          this.o.store.markDone(job.id);
          this.stats.delivered++;
          this.events.onDelivered?.(job, 'telephony.externalcall.attachrecord');
        } else if ('retryInMs' in r) this.o.store.markRetry(job.id, this.now() + r.retryInMs, r.why, false);
        else {
          this.o.store.markFailed(job.id, r.failed);
          this.stats.failed++;
          this.events.onFailed?.(job, r.failed);
        }
      })
      .catch((err) => {
        if (this.running) this.retry([job], err);
      })
      .finally(() => {
        this.attaching.delete(job.id);
        this.uploads.delete(promise);
        this.wake();
      });
    this.uploads.add(promise);
  }
}
