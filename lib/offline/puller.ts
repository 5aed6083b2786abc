/**
 * Pulling Bitrix24's offline event queue (FSB24_EVENTS_MODE=offline; b24restdocs
 * api-reference/events/offline-events.md, event-offline-{get,clear,error,list}.md):
 *
 *   event.offline.get clear=0  → records reserved under a process_id
 *   write them to the inbox     → durable (Store.inbox)
 *   event.offline.clear         → process_id + the IDs of exactly the accepted records
 *   event.offline.error         → MESSAGE_IDs of records that cannot be handled
 *
 * Reserved records stay hidden from every later read until their process_id is used
 * again, so after a start or a failed read the puller first recovers reserved batches
 * (event.offline.list ordered by PROCESS_ID DESC shows them first, plus the process_ids
 * it wrote down itself) and reads each again with that process_id. Without the plan
 * feature rest_offline_extended (WRONG_LICENSE) it falls back to clear=1 and writes the
 * records at once; a crash in that window can lose a click, and health says so.
 *
 * The pull rides in a batch that goes out anyway (piggyback/onPiggybackResult, called by
 * the outbox); when none does, it polls on its own every pollMs.
 */
import { B24Error } from '../bitrix24/errors.js';
import { BadEvent, type ParsedEvent } from '../bitrix24/event-body.js';
import type { Logger } from '../log.js';
import { realClock, type Clock, type Timer } from '../clock.js';
import type { InboxItem, InboxStore, Store } from '../store/store.js';
import { parseBatch, recordToEvent, type OfflineRecord } from './record.js';

/** A command the outbox may put into the batch it is about to send. */
export interface PiggybackCommand {
  key: string;
  method: string;
  params: Record<string, unknown>;
}

/** What became of a piggybacked command: its result, its own error in the batch, or the whole batch failed. */
export type PiggybackOutcome = { result: unknown } | { error: string; description: string } | { failed: unknown };

export interface PullerOptions {
  client: { call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T> };
  store: Store;
  log: Logger;
  /** The connected portal (null until the application is connected: nothing is pulled). */
  portal: () => Promise<{ domain: string; memberId: string } | null>;
  /** The same checks a POSTed event gets before its 200 (throws BadEvent). */
  validate: (ev: ParsedEvent) => unknown;
  /** The same handling a POSTed event gets after its 200. */
  handle: (ev: ParsedEvent) => Promise<void>;
  pollMs: number;
  clock?: Clock;
  limit?: number;
  /** Each pull's outcome and duration (metrics). */
  onPull?: (ms: number, ok: boolean) => void;
}

const OPEN_KEY = 'offline.open';
const STATE_KEY = 'offline.state';
const FAILING_DEGRADED_MS = 60_000;

export class OfflinePuller {
  /** reserve: clear=0 + clear; clear: the WRONG_LICENSE fallback (clear=1). */
  mode: 'reserve' | 'clear' = 'reserve';
  readonly counters = { pulled: 0, handled: 0, errored: 0, requests: 0 };
  lastSuccessAt: number | null = null;
  failingSince: number | null = null;
  lastError: string | null = null;
  /** Age of the oldest record the last pull returned (TIMESTAMP_X), seconds. */
  lastOldestAgeSec: number | null = null;
  private readonly inbox: InboxStore;
  private readonly clock: Clock;
  private readonly limit: number;
  private needRecovery = true;
  private busy = false;
  private running = false;
  private timer: Timer | null = null;
  private lastPullAt = 0;
  private fails = 0;
  private readonly handling = new Set<Promise<void>>();
  /** The connected portal as the last pull found it (a batch may carry a pull only then). */
  private connected: { domain: string; memberId: string } | null = null;

  constructor(private readonly o: PullerOptions) {
    this.inbox = o.store.inbox;
    this.clock = o.clock ?? realClock;
    this.limit = o.limit ?? 50;
  }

  async start(): Promise<void> {
    this.running = true;
    // records a previous run accepted but never got to handle
    for (const item of await this.inbox.untaken()) this.dispatch(item);
    await this.inbox.purge(this.clock.now() - 7 * 86_400_000);
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.clock.clearTimeout(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.handling]);
  }

  /** Pull now (a new connection, a test). */
  kick(): void {
    this.schedule(0);
  }

  /** Resolves once no pull is in flight (tests). */
  idle(): Promise<void> {
    return this.busy ? new Promise((r) => this.idleWaiters.push(r)) : Promise.resolve();
  }

  private readonly idleWaiters: Array<() => void> = [];

  private notBusy(): void {
    this.busy = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves when every handling started so far has finished (tests). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.handling]);
  }

  // ---- riding in the outbox's batch -------------------------------------------------------

  /**
   * The outbox asks before sending a batch: the pull to add, or null (not due, one in
   * flight, a recovery to run first, not connected). A non-null answer must be followed
   * by exactly one onPiggybackResult.
   */
  piggyback(): PiggybackCommand | null {
    if (!this.running || this.busy || (this.mode === 'reserve' && this.needRecovery) || !this.connected) return null;
    if (this.clock.now() - this.lastPullAt < this.o.pollMs / 2) return null;
    this.busy = true;
    this.lastPullAt = this.clock.now();
    return { key: 'offline_get', method: 'event.offline.get', params: this.getParams() };
  }

  async onPiggybackResult(outcome: PiggybackOutcome): Promise<void> {
    const started = this.lastPullAt;
    let more = false;
    try {
      if ('result' in outcome) more = await this.process(outcome.result, started);
      else if ('error' in outcome)
        throw new B24Error('B24_ERR_REST', `event.offline.get: ${outcome.error}: ${outcome.description}`, {
          error: outcome.error,
          description: outcome.description,
          method: 'event.offline.get',
        });
      else throw outcome.failed;
    } catch (err) {
      this.failed(err);
    } finally {
      this.notBusy();
      this.schedule(more ? 0 : this.nextDelay());
    }
  }

  // ---- polling on its own ------------------------------------------------------------------

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = null;
        void this.tick();
      },
      Math.max(0, delayMs),
    );
  }

  private nextDelay(): number {
    if (this.fails === 0) return Math.max(0, this.lastPullAt + this.o.pollMs - this.clock.now());
    return Math.min(30_000, this.o.pollMs * 2 ** Math.min(this.fails - 1, 5));
  }

  private async tick(): Promise<void> {
    if (!this.running || this.busy) return;
    this.busy = true;
    let next: number | null = null;
    try {
      this.connected = await this.o.portal();
      if (!this.connected) next = this.o.pollMs;
      else {
        if (this.mode === 'reserve' && this.needRecovery) await this.recover();
        if (await this.pull()) next = 0;
      }
    } catch (err) {
      this.failed(err);
    } finally {
      this.notBusy();
      this.schedule(next ?? this.nextDelay());
    }
  }

  private getParams(processId?: string): Record<string, unknown> {
    return {
      clear: this.mode === 'reserve' ? 0 : 1,
      limit: this.limit,
      ...(processId ? { process_id: processId } : {}),
    };
  }

  private async call<T>(method: string, params: Record<string, unknown>): Promise<T> {
    this.counters.requests++;
    return this.o.client.call<T>(method, params);
  }

  /** One new read; true when the queue may hold more (a full page). */
  private async pull(): Promise<boolean> {
    const started = this.clock.now();
    this.lastPullAt = started;
    let result: unknown;
    try {
      result = await this.call('event.offline.get', this.getParams());
    } catch (err) {
      if (this.mode === 'reserve' && err instanceof B24Error && err.detail.error === 'WRONG_LICENSE') {
        this.mode = 'clear';
        await this.o.store.set(STATE_KEY, { mode: 'clear', since: this.clock.now() });
        this.o.log.warn(
          'the plan has no rest_offline_extended: pulling with clear=1, records are written at once; ' +
            'a crash in that window can lose a click',
        );
        return true;
      }
      this.o.onPull?.(this.clock.now() - started, false);
      throw err;
    }
    return this.process(result, started);
  }

  /** Reserved batches a crash or a lost reply left behind: read each again by its process_id. */
  private async recover(): Promise<void> {
    const pids = new Set((await this.o.store.get<string[]>(OPEN_KEY)) ?? []);
    for (let start = 0, page = 0; page < 10; page++) {
      // reserved records sort first by PROCESS_ID DESC; stop at the first unreserved one
      const rows = await this.call<Array<{ PROCESS_ID?: unknown }>>('event.offline.list', {
        filter: { ERROR: 0 },
        order: { PROCESS_ID: 'DESC', ID: 'ASC' },
        start,
      });
      if (!Array.isArray(rows)) break;
      let unreserved = false;
      for (const r of rows) {
        if (typeof r.PROCESS_ID === 'string' && r.PROCESS_ID !== '') pids.add(r.PROCESS_ID);
        else unreserved = true;
      }
      if (unreserved || rows.length < 50) break;
      start += 50;
    }
    for (const pid of pids) {
      this.o.log.info({ processId: pid }, 'recovering a reserved offline batch');
      const result = await this.call('event.offline.get', this.getParams(pid));
      await this.process(result, this.clock.now(), pid);
    }
    await this.o.store.set(OPEN_KEY, []);
    this.needRecovery = false;
  }

  /** Accept durably, confirm exactly what was accepted, then handle. True when a full page came. */
  private async process(result: unknown, started: number, recovering?: string): Promise<boolean> {
    const batch = parseBatch(result);
    const now = this.clock.now();
    this.o.onPull?.(now - started, true);
    this.lastSuccessAt = now;
    this.failingSince = null;
    this.lastError = null;
    this.fails = 0;
    if (!recovering) {
      const oldest = batch.records.reduce<number | null>((m, r) => {
        const t = Date.parse(r.at);
        return Number.isFinite(t) && (m === null || t < m) ? t : m;
      }, null);
      this.lastOldestAgeSec = oldest === null ? 0 : Math.max(0, Math.round((now - oldest) / 1000));
      await this.o.store.set(STATE_KEY, { mode: this.mode, lastPullAt: now, oldestAgeSec: this.lastOldestAgeSec });
    }
    if (batch.records.length === 0) return false;
    this.counters.pulled += batch.records.length;
    const pid = batch.processId;
    if (this.mode === 'reserve' && pid)
      await this.o.store.set(OPEN_KEY, [...new Set([...((await this.o.store.get<string[]>(OPEN_KEY)) ?? []), pid])]);
    const accepted: InboxItem[] = [];
    const refused: Array<{ rec: OfflineRecord; why: string }> = [];
    const portal = (await this.o.portal()) ?? { domain: '', memberId: '' };
    for (const rec of batch.records) {
      try {
        const ev = recordToEvent(rec, portal);
        this.o.validate(ev);
        accepted.push({ recordId: rec.id, messageId: rec.messageId, event: ev });
      } catch (err) {
        if (!(err instanceof BadEvent)) throw err;
        refused.push({ rec, why: err.message });
      }
    }
    await this.inbox.accept(accepted, now);
    for (const item of accepted) this.dispatch(item);
    for (const r of refused) {
      this.counters.errored++;
      this.o.log.warn({ recordId: r.rec.id, event: r.rec.name, reason: r.why }, 'offline event cannot be handled');
    }
    if (this.mode === 'reserve' && pid)
      await this.confirm(
        pid,
        accepted,
        refused.map((r) => r.rec),
      );
    return batch.records.length >= this.limit;
  }

  /** event.offline.clear for exactly the accepted records, event.offline.error for the refused. */
  private async confirm(pid: string, accepted: InboxItem[], refused: OfflineRecord[]): Promise<void> {
    try {
      if (refused.length)
        await this.call('event.offline.error', { process_id: pid, message_id: refused.map((r) => r.messageId) });
      if (accepted.length)
        await this.call('event.offline.clear', { process_id: pid, id: accepted.map((a) => a.recordId) });
    } catch (err) {
      // accepted already: a recovery reads the batch again, recognises the records and clears them
      this.needRecovery = true;
      throw err;
    }
    const open = (await this.o.store.get<string[]>(OPEN_KEY)) ?? [];
    await this.o.store.set(
      OPEN_KEY,
      open.filter((p) => p !== pid),
    );
  }

  private dispatch(item: InboxItem): void {
    const p: Promise<void> = this.inbox
      .take(item.recordId)
      .then(async (mine) => {
        if (!mine) return; // handled already (a batch read again)
        await this.o.handle(item.event);
        this.counters.handled++;
      })
      .catch((err: Error) => {
        this.counters.errored++;
        this.o.log.error(
          { recordId: item.recordId, event: item.event.event, err: err.message },
          'offline event handling failed',
        );
      })
      .finally(() => this.handling.delete(p));
    this.handling.add(p);
  }

  private failed(err: unknown): void {
    const e = err as B24Error;
    const now = this.clock.now();
    this.fails++;
    this.failingSince ??= now;
    this.needRecovery = true;
    this.lastError =
      e.detail?.error === 'ACCESS_DENIED'
        ? "ACCESS_DENIED: the offline queue needs an administrator's token; " +
          'open /bitrix24/connect as a portal administrator'
        : (e.message ?? String(err));
    this.o.log.warn(
      { err: this.lastError, failingForSec: Math.round((now - this.failingSince) / 1000) },
      'offline pull failed',
    );
  }

  /** For /healthz: degraded once pulls have failed for more than a minute. */
  health(): { ok: boolean; body: Record<string, unknown> } {
    const now = this.clock.now();
    const failingMs = this.failingSince === null ? 0 : now - this.failingSince;
    return {
      ok: failingMs <= FAILING_DEGRADED_MS,
      body: {
        mode: this.mode === 'reserve' ? 'offline (clear=0, then clear)' : 'offline (clear=1 fallback)',
        ...(this.mode === 'clear'
          ? { warning: 'the plan has no rest_offline_extended: a crash between a pull and its write can lose a click' }
          : {}),
        lastPullAt: this.lastSuccessAt ? new Date(this.lastSuccessAt).toISOString() : null,
        failingForSec: Math.round(failingMs / 1000),
        lastError: this.lastError,
        oldestUnreadAgeSec: this.lastOldestAgeSec,
        pulled: this.counters.pulled,
        handled: this.counters.handled,
        errored: this.counters.errored,
      },
    };
  }
}
