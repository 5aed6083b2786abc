/**
 * The outbox: effects are written to the store first, then delivered to Bitrix24. It waits for the rate limiter
 * (a request takes all that arrived meanwhile, up to 50 commands), asks the planner what goes, sends it, and applies
 * the classifier's verdict to each job. While the portal is unreachable it probes at most every `probeMs`; the
 * first success releases the backlog. Recordings are checked on disk before planned; large ones posted here.
 */
import { realClock, type Clock, type Timer } from '../clock.js';
import type { Effect } from '../calls/effects.js';
import type { Job } from '../store/store.js';
import type { AttachPayload, Command } from './commands.js';
import { plan } from './plan.js';
import type { Verdict } from './classify.js';
import { contentOf, deliver, type RiderOutcome } from './deliver.js';
import type { OutboxEvents, OutboxOptions } from './options.js';
import { CallIds } from './callids.js';
import { landings } from './landings.js';
import { planInputs, readView } from './view.js';
import { RequestSlot } from './slot.js';
import { OrderedWrites } from './writes.js';
import { Reachability } from './reach.js';

export type { OutboxEvents, OutboxOptions, RecordingsPort } from './options.js';

const MAX_BACKOFF_MS = 60_000;

export class Outbox {
  private running = false;
  private timer: Timer | null = null;
  private pumping: Promise<void> | null = null;
  private again = false;
  private readonly clock: Clock;
  private readonly callIds: CallIds;
  /** Jobs being worked on outside a request: a file check, an upload. */
  private readonly busy = new Set<number>();
  private readonly work = new Set<Promise<void>>();
  private readonly attachments = new Map<number, AttachPayload>();
  private readonly forDefaultUser = new Set<number>();
  private readonly hidden = new Set<number>();
  private readonly idleWaiters: Array<() => void> = [];
  private inFlight = 0;
  /** Jobs of requests in flight. */
  private readonly sending = new Set<number>();
  private requests = 0;
  /** A request of the card lane is in flight. */
  private laneBusy = false;
  /** Jobs were submitted since the last plan (only then may the card lane have something to carry). */
  private fresh = false;
  private readonly slot: RequestSlot;
  private readonly quietWaiters: Array<() => void> = [];
  private readonly writes: OrderedWrites; // in submission order, retried (./writes.ts)
  private readonly reach: Reachability;
  readonly events: OutboxEvents = {};

  constructor(private readonly o: OutboxOptions) {
    this.clock = o.clock ?? realClock;
    this.callIds = new CallIds(o.store, this.clock);
    this.reach = new Reachability(this.clock, o.log, o.probeMs ?? 5000);
    this.slot = new RequestSlot(o.client);
    this.writes = new OrderedWrites(o.store, this.clock, o.log, () => this.running);
  }

  /** Durable first: resolves once the effects are committed (in submission order); rejects if the store refused. */
  submit(effects: readonly Effect[]): Promise<void> {
    if (effects.length === 0) return Promise.resolve();
    this.enter();
    return this.writes
      .add(effects)
      .then(() => {
        this.fresh = true;
        this.wake();
      })
      .finally(() => this.leave());
  }

  start(): void {
    this.running = true;
    this.callIds.forget(); // a new tenure: another instance may have landed jobs meanwhile
    this.wake();
  }

  async stop(): Promise<void> {
    this.halt();
    await this.writes.stop();
    await this.pumping;
    await Promise.allSettled([...this.work]);
    for (const w of this.idleWaiters.splice(0)) w();
    for (const w of this.quietWaiters.splice(0)) w();
  }

  /** Stop at once, as a killed process would: nothing more sent or waited for (pending jobs stay for the next run). */
  halt(): void {
    this.running = false;
    this.clock.clearTimeout(this.timer);
    this.slot.cancel();
  }

  wake(): void {
    if (!this.running) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.enter();
    this.pumping = this.pump()
      .catch((err: unknown) => this.stalled(err))
      .finally(() => {
        this.pumping = null;
        this.leave();
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Resolves once nothing is due: every job is delivered, failed, or waiting for a later time. */
  async idle(): Promise<void> {
    await this.writes.settled();
    const p = new Promise<void>((r) => this.idleWaiters.push(r));
    if (this.running) this.wake();
    else for (const w of this.idleWaiters.splice(0)) w();
    return p;
  }

  /** Resolves once no request, file check or upload is under way (all that is left waits for the clock). */
  quiet(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((r) => this.quietWaiters.push(r));
  }

  /** The portal has been unreachable since this time (ms), or null. */
  get downSince(): number | null {
    return this.reach.down?.since ?? null;
  }

  /** Resolves with the CALL_ID of a call once its register (or adopt) landed; null at the deadline. */
  awaitCallId(call: string, timeoutMs: number): Promise<string | null> {
    return this.callIds.wait(call, timeoutMs);
  }

  private enter(): void {
    this.inFlight++;
  }

  private leave(): void {
    this.inFlight--;
    if (this.inFlight === 0) for (const w of this.quietWaiters.splice(0)) w();
  }

  private async pump(): Promise<void> {
    for (let round = 0; this.running && round < 1000; round++) {
      const down = this.reach.down;
      // the next one to finish wakes the pump; while the portal is down, one probe at a time
      const full = this.requests - (this.laneBusy ? 1 : 0) >= (down ? 1 : (this.o.concurrency ?? 2));
      if (full && (down || this.laneBusy)) return;
      const lane = full; // the card lane: registers and shows only, beside the requests in flight
      if (lane && !this.fresh) return; // no new job, no new card: a backlog of thousands is not planned in vain
      if (down && down.probeAt > this.clock.now()) {
        this.schedule(down.probeAt);
        this.resolveIdle();
        return;
      }
      // the request's slot of the rate limit first (./slot.ts), then its plan
      if (!(await this.slot.take((waiting) => (waiting ? this.leave() : this.enter())))) return;
      let sent = false;
      try {
        if (!this.running) return;
        // jobs in flight when the store is read may be settled by the time it answers: not planned now
        const inFlight = new Set([...this.busy, ...this.sending]);
        this.fresh = false;
        const jobs = await this.o.store.pending();
        const view = await readView(this.o.store, this.callIds, jobs);
        if (!this.running) return;
        const now = this.clock.now();
        const { budget, ctx } = planInputs(this.o, view, lane, {
          forDefaultUser: this.forDefaultUser,
          attachments: this.attachments,
          hidden: this.hidden,
          busy: (id) => inFlight.has(id) || this.busy.has(id) || this.sending.has(id),
        });
        const p = plan(jobs, (c) => view.callId(c), budget, now, ctx);
        // a CALL_ID is stored with the job that brought it, in one write (a restart must find it)
        const done = new Set(p.done);
        const learnt = p.adopted.map((a) => ({ call: a.call, b24CallId: a.b24CallId, userId: null }));
        const settled = jobs.filter((j) => done.has(j.id));
        await this.callIds.settle(learnt, settled);
        for (const f of p.failed) await this.fail(f.job, f.reason);
        for (const job of p.prepare) this.prepare(job);
        if (p.commands.length === 0) {
          if (lane) return; // no card waits: a request finishing, or a new job, wakes the pump
          this.schedule(p.nextWake);
          this.resolveIdle();
          return;
        }
        this.dispatch(p.commands, lane);
        sent = true;
      } finally {
        if (!sent) this.slot.refund(); // nothing went: the slot is not used up
      }
    }
  }

  /** Send a request without waiting for it; its jobs are left out of plans until it is answered. */
  private dispatch(commands: Command[], lane: boolean): void {
    const ids = commands.flatMap((c) => c.jobs.map((j) => j.id));
    for (const id of ids) this.sending.add(id);
    this.requests++;
    if (lane) this.laneBusy = true;
    this.enter();
    const p: Promise<void> = this.send(commands)
      .catch((err: Error) => this.o.log.error({ err: err.message }, 'outbox request failed unexpectedly'))
      .finally(() => {
        for (const id of ids) this.sending.delete(id);
        this.requests--;
        if (lane) this.laneBusy = false;
        this.work.delete(p);
        this.leave();
        this.wake();
      });
    this.work.add(p);
  }

  private resolveIdle(): void {
    if (this.busy.size === 0 && this.sending.size === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private schedule(at: number | null): void {
    this.clock.clearTimeout(this.timer);
    this.timer = null;
    if (at === null || !this.running) return;
    this.timer = this.clock.setTimeout(() => this.wake(), Math.max(1, at - this.clock.now()));
  }

  private async send(commands: Command[]): Promise<void> {
    const pb = this.o.piggyback;
    let outcome: RiderOutcome | null = null;
    let taken = false;
    try {
      const d = await deliver(
        this.o.client,
        (a) => contentOf(this.o.recordings, a),
        commands,
        (c) => this.forDefaultUser.has(c.jobs[0]?.id ?? -1),
        () => {
          const r = pb?.take() ?? null;
          taken = r !== null;
          return r;
        },
        (o) => (outcome = o),
        true, // the pump took its slot
      );
      if (!this.running) return; // halted meanwhile: the reply is lost, as with a killed process
      if (d.kind === 'answered') this.reach.answered();
      else this.reach.failed(d.kind, d.reason);
      const landed = landings(d.verdicts); // written in one round trip first (./landings.ts)
      await this.callIds.settle(landed.learnt, landed.jobs);
      for (const [c, v] of d.verdicts) await this.apply(c, v);
    } catch (err) {
      outcome ??= { failed: err };
      throw err;
    } finally {
      // exactly once for a rider taken, whatever became of the request
      // not awaited: handling what the rider brought may wait on this outbox (a click waits for its register)
      if (taken && pb)
        void pb
          .done(outcome ?? { failed: new Error('the batch was not sent') })
          .catch((err: unknown) => this.o.log.warn({ err }, 'offline pull result not handled'));
    }
  }

  /** The store failed under the pump (a database restarting): nothing was lost; the pump tries again. */
  private stalled(err: unknown): void {
    this.o.log.error({ err }, 'the outbox cannot read or write its store; trying again in a few seconds');
    this.schedule(this.clock.now() + (this.o.probeMs ?? 5000));
  }

  private async apply(c: Command, v: Verdict): Promise<void> {
    const now = this.clock.now();
    switch (v.kind) {
      case 'done': // its CALL_ID and its jobs are stored already (`landings`)
        if (c.hidesFor !== undefined) this.hidden.add(c.hidesFor);
        for (const j of c.jobs) {
          this.forDefaultUser.delete(j.id);
          this.hidden.delete(j.id);
        }
        if (c.attach) this.attached(c, c.attach);
        this.o.log.debug({ callUuid: c.call, method: c.method }, 'delivered to bitrix24');
        return;
      case 'upload':
        this.uploadLater(c, v.url, v.field);
        return;
      case 'default-user':
        this.o.log.warn({ callUuid: c.call }, 'register refused the employee; registering for the default user');
        for (const j of c.jobs) {
          this.forDefaultUser.add(j.id);
          await this.o.store.markRetry(j.id, now, v.reason);
        }
        return;
      case 'gone':
        // finished already (a reply lost before a restart), or by someone else: nothing left to do
        this.o.log.warn({ callUuid: c.call }, 'finish: Bitrix24 no longer knows the call; treating it as finished');
        return; // done already (`landings`)
      case 'fail': {
        const doomed = [...c.jobs];
        // without a CALL_ID nothing else of this call can land: say so on each of them
        if (v.cascade)
          for (const j of await this.o.store.pending())
            if (j.call === c.call && !doomed.some((d) => d.id === j.id)) doomed.push(j);
        for (const j of doomed) await this.fail(j, c.jobs.includes(j) ? v.reason : `its register failed: ${v.reason}`);
        if (c.attach) this.attachments.delete(c.jobs[0]!.id);
        return;
      }
      case 'retry':
        for (const j of c.jobs) {
          const delay = Math.min(MAX_BACKOFF_MS, (this.o.retryBaseMs ?? 500) * 2 ** Math.min(j.attempts, 7));
          await this.o.store.markRetry(j.id, now + Math.round(delay * (0.8 + Math.random() * 0.4)), v.reason);
        }
        if (c.attach) this.attachments.delete(c.jobs[0]!.id);
        return;
      case 'held':
        this.o.log.warn({ method: c.method }, 'Bitrix24 blocked the method for its operating-time limit; holding it');
        return; // the planner holds the method until the portal's window moves
      case 'waiting':
        return; // pending and due: goes with the next request after its register
    }
  }

  private async fail(job: Job, reason: string): Promise<void> {
    await this.o.store.markFailed(job.id, reason);
    this.events.onFailed?.(job, reason);
    this.o.log.error({ callUuid: job.call, kind: job.effect.kind, reason }, 'outbox job failed for good');
  }

  private attached(c: Command, a: AttachPayload): void {
    this.attachments.delete(c.jobs[0]!.id);
    const callId = typeof c.params.CALL_ID === 'string' ? c.params.CALL_ID : '';
    this.track(c.jobs[0]!.id, this.o.recordings.landed(a, callId));
  }

  /** Run `work` for a job outside any request; the job is not planned meanwhile. */
  private track(jobId: number, work: Promise<void>): void {
    this.busy.add(jobId);
    this.enter();
    const p: Promise<void> = work
      .catch((err: Error) => this.o.log.error({ err: err.message }, 'outbox background work failed'))
      .finally(() => {
        this.busy.delete(jobId);
        this.work.delete(p);
        this.leave();
        this.wake();
      });
    this.work.add(p);
  }

  /** Is the recording there, complete, inside the directories? Then it is planned with the next request. */
  private prepare(job: Job): void {
    if (this.busy.has(job.id) || job.effect.kind !== 'attach') return;
    const path = job.effect.path;
    this.track(
      job.id,
      this.o.recordings.check(path, job).then(
        async (r) => {
          if (!this.running) return;
          if ('mode' in r) this.attachments.set(job.id, r);
          else if ('retryInMs' in r) await this.o.store.markRetry(job.id, this.clock.now() + r.retryInMs, r.why, false);
          else await this.fail(job, r.failed);
        },
        async (err: Error) => {
          const at = this.clock.now() + (this.o.retryBaseMs ?? 500);
          if (this.running) await this.o.store.markRetry(job.id, at, `recording: ${err.message}`);
        },
      ),
    );
  }

  /** The two-step form: attachRecord gave an uploadUrl; the file goes there (not in a batch). */
  private uploadLater(c: Command, url: string, field: string): void {
    const job = c.jobs[0]!;
    const a = c.attach!;
    this.track(
      job.id,
      this.o.recordings.upload(url, field, a).then(
        async () => {
          await this.callIds.landed(job);
          this.attachments.delete(job.id);
          return this.o.recordings.landed(a, String(c.params.CALL_ID));
        },
        async (err: Error) => {
          if (this.running) await this.apply({ ...c, attach: a }, { kind: 'retry', reason: `upload: ${err.message}` });
        },
      ),
    );
  }
}
