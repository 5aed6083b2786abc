/**
 * The SQLite implementation of the `Store` (better-sqlite3, WAL): one file in the data
 * directory, every write committed before the method's promise resolves (at once: the
 * work is synchronous). One process owns the file, so pending jobs and card histories are
 * kept in memory, written through.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Effect } from '../calls/effects.js';
import { SqliteInbox } from './sqlite-inbox.js';
import { SqliteConnectStates } from './sqlite-connect.js';
import { localLease, localSignals } from './local.js';
import {
  idempotencyKey,
  type FailedJob,
  type Job,
  type JobState,
  type Lease,
  type LeaseOptions,
  type LearntCallId,
  type OutboxStats,
  type Signals,
  type Store,
  type StoredCardHistory,
  type StoredTokens,
  type Submitted,
  type UnfinishedCall,
} from './store.js';

const TOKENS_KEY = 'oauth.tokens';
const RECORDING_SECRET_KEY = 'recordings.secret';

let memories = 0;

interface JobRow {
  id: number;
  call: string;
  payload: string;
  attempts: number;
  next_at: number;
  created_at: number;
  last_error: string | null;
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmts;
  readonly inbox: SqliteInbox;
  readonly connectStates: SqliteConnectStates;
  /** Pending jobs by id (ascending), written through: the outbox plans from here, not from a query per request. */
  private live = new Map<number, Job>();
  /** Card effects that landed, per call (done register/show/hide), read once per call then kept current. */
  private cards = new Map<string, Effect[]>();
  /** Which database this is, for its leases and signals (a file, or this store alone in memory). */
  private readonly key: string;
  private readonly signals: Signals;

  constructor(dir: string | ':memory:') {
    if (dir !== ':memory:') mkdirSync(dir, { recursive: true });
    this.key = dir === ':memory:' ? `:memory:${++memories}` : resolve(dir, 'freeswitch-bitrix24.sqlite');
    this.signals = localSignals(this.key);
    this.db = new Database(dir === ':memory:' ? ':memory:' : join(dir, 'freeswitch-bitrix24.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        call TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        idem TEXT UNIQUE,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        last_error TEXT
      );
      CREATE INDEX IF NOT EXISTS jobs_pending ON jobs(state, call, id);
      CREATE TABLE IF NOT EXISTS calls (
        call TEXT PRIMARY KEY,
        b24_call_id TEXT,
        user_id INTEGER,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
    this.stmts = {
      insert: this.db.prepare(
        'INSERT OR IGNORE INTO jobs (call, kind, payload, idem, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      pending: this.db.prepare(
        'SELECT id, call, payload, attempts, next_at, created_at, last_error ' +
          "FROM jobs WHERE state = 'pending' ORDER BY id",
      ),
      done: this.db.prepare(`UPDATE jobs SET state = 'done', attempts = attempts + 1, last_error = NULL WHERE id = ?`),
      retry: this.db.prepare(`UPDATE jobs SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?`),
      orphans: this.db.prepare(`
        SELECT s.call AS call,
               (SELECT payload FROM jobs r WHERE r.call = s.call AND r.kind = 'register' LIMIT 1) AS register,
               (SELECT payload FROM jobs c WHERE c.call = s.call AND c.kind = 'connected'
                ORDER BY c.id DESC LIMIT 1) AS connected,
               (SELECT json_group_array(json_extract(x.payload, '$.path')) FROM
                 (SELECT payload FROM jobs WHERE call = s.call AND kind = 'recording' ORDER BY id) x) AS recordings
        FROM (SELECT DISTINCT call FROM jobs WHERE kind IN ('register', 'adopt')) s
        WHERE NOT EXISTS (SELECT 1 FROM jobs f WHERE f.call = s.call AND f.kind = 'finish')`),
      registerFailed: this.db.prepare(
        `SELECT last_error FROM jobs WHERE call = ? AND kind = 'register' AND state = 'failed' LIMIT 1`,
      ),
      hasIdem: this.db.prepare('SELECT 1 FROM jobs WHERE idem = ?'),
      wait: this.db.prepare(`UPDATE jobs SET next_at = ?, last_error = ? WHERE id = ?`),
      fail: this.db.prepare(`UPDATE jobs SET state = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?`),
      callId: this.db.prepare('SELECT b24_call_id FROM calls WHERE call = ?'),
      // many at once (the outbox asks for every call with a job: thousands after an outage), one statement
      callIds: this.db.prepare(
        'SELECT c.call AS call, c.b24_call_id AS id FROM json_each(?) j JOIN calls c ON c.call = j.value ' +
          'WHERE c.b24_call_id IS NOT NULL',
      ),
      callUser: this.db.prepare('SELECT user_id FROM calls WHERE call = ?'),
      cards: this.db.prepare(
        "SELECT payload FROM jobs WHERE state = 'done' AND call = ? " +
          "AND kind IN ('register', 'show', 'hide') ORDER BY id",
      ),
      setCallId: this.db.prepare(
        'INSERT INTO calls (call, b24_call_id, user_id, updated_at) VALUES (?, ?, ?, ?) ' +
          'ON CONFLICT(call) DO UPDATE SET b24_call_id = excluded.b24_call_id, user_id = excluded.user_id, ' +
          'updated_at = excluded.updated_at',
      ),
      kvGet: this.db.prepare('SELECT value FROM kv WHERE key = ?'),
      kvDelete: this.db.prepare('DELETE FROM kv WHERE key = ?'),
      kvSet: this.db.prepare(
        'INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      ),
      kvClaim: this.db.prepare('INSERT OR IGNORE INTO kv (key, value) VALUES (?, ?)'),
      counts: this.db.prepare(`SELECT state, COUNT(*) AS n, MIN(created_at) AS oldest FROM jobs GROUP BY state`),
      failed: this.db.prepare(
        'SELECT id, call, kind, payload, attempts, last_error ' +
          "FROM jobs WHERE state = 'failed' ORDER BY id DESC LIMIT ?",
      ),
      purge: this.db.prepare(
        "DELETE FROM jobs WHERE state = 'done' AND call IN " +
          "(SELECT call FROM jobs WHERE kind = 'finish' AND state = 'done' AND created_at < ?)",
      ),
      purgeCalls: this.db.prepare(`DELETE FROM calls WHERE call NOT IN (SELECT call FROM jobs)`),
      // click-to-call CALL_IDs already placed (`c2c:<CALL_ID>` → { at }): a repeat comes within seconds;
      // messages between instances claimed (`mail:<id>` → { at })
      purgeSeen: this.db.prepare(
        `DELETE FROM kv WHERE (key LIKE 'c2c:%' OR key LIKE 'mail:%') AND json_extract(value, '$.at') < ?`,
      ),
    };
    this.inbox = new SqliteInbox(this.db);
    this.connectStates = new SqliteConnectStates(this.db);
    this.readBack();
  }

  /** Pending jobs from the table (another connection may have written some), card history forgotten. */
  async reload(): Promise<void> {
    this.readBack();
  }

  private readBack(): void {
    this.live = new Map((this.stmts.pending.all() as JobRow[]).map((r) => [r.id, rowJob(r)]));
    this.cards.clear();
  }

  /** Write effects durably, in one transaction; an effect with a known idempotency key is ignored. */
  enqueue(effects: readonly Effect[], now: number): Promise<number> {
    return this.enqueueAll([{ effects, now }]);
  }

  /** Several submits in one transaction (all or none), in order, each effect with its submit's time. */
  async enqueueAll(submits: readonly Submitted[]): Promise<number> {
    const added: Job[] = [];
    const tx = this.db.transaction(() => {
      for (const { effects, now } of submits)
        for (const e of effects) {
          const r = this.stmts.insert.run(e.call, e.kind, JSON.stringify(e), idempotencyKey(e), now, now);
          if (r.changes > 0)
            added.push({
              id: Number(r.lastInsertRowid),
              call: e.call,
              effect: e,
              attempts: 0,
              nextAt: now,
              createdAt: now,
              lastError: null,
            });
        }
    });
    tx();
    for (const j of added) this.live.set(j.id, j); // after the commit: a rolled-back write leaves nothing behind
    return added.length;
  }

  /** The pending jobs, oldest first (from memory; the table is the durable copy, read at start). */
  async pending(): Promise<Job[]> {
    return [...this.live.values()];
  }

  async markDone(id: number): Promise<void> {
    this.stmts.done.run(id);
    this.forgetDone(id);
  }

  /** One transaction: the CALL_IDs stored and the jobs marked done in the same commit. */
  async markDoneAll(ids: readonly number[], callIds: readonly LearntCallId[], now: number): Promise<void> {
    const done = new Set(ids);
    this.db.transaction(() => {
      for (const c of callIds) this.stmts.setCallId.run(c.call, c.b24CallId, c.userId, now);
      for (const id of done) this.stmts.done.run(id);
    })();
    for (const id of done) this.forgetDone(id);
  }

  /** A job done: out of the pending ones; a card that landed joins its call's history. */
  private forgetDone(id: number): void {
    const j = this.live.get(id);
    this.live.delete(id);
    const e = j?.effect;
    if (e && (e.kind === 'register' || e.kind === 'show' || e.kind === 'hide')) this.cards.get(e.call)?.push(e);
    if (e?.kind === 'finish') this.cards.delete(e.call);
  }

  /** Try again at `nextAt`; `counted` false: not a failed attempt (a file not ready yet, a register ahead). */
  async markRetry(id: number, nextAt: number, error: string, counted = true): Promise<void> {
    (counted ? this.stmts.retry : this.stmts.wait).run(nextAt, error, id);
    const j = this.live.get(id);
    if (j) this.live.set(id, { ...j, attempts: j.attempts + (counted ? 1 : 0), nextAt, lastError: error });
  }

  async markFailed(id: number, error: string): Promise<void> {
    this.stmts.fail.run(error, id);
    this.live.delete(id);
  }

  /**
   * Calls that were registered (or adopted) but never got a finish: after a restart,
   * those no longer on the switch ended while the service was down.
   */
  async unfinishedCalls(): Promise<UnfinishedCall[]> {
    type Row = { call: string; register: string | null; connected: string | null; recordings: string };
    return (this.stmts.orphans.all() as Row[]).map((r) => ({
      call: r.call,
      register: r.register ? (JSON.parse(r.register) as Effect) : null,
      connected: r.connected ? (JSON.parse(r.connected) as Effect) : null,
      recordings: (JSON.parse(r.recordings) as unknown[]).filter((p): p is string => typeof p === 'string'),
    }));
  }

  /** The reason a call's register failed for good, if it did. */
  async registerFailure(call: string): Promise<string | null> {
    const row = this.stmts.registerFailed.get(call) as { last_error: string | null } | undefined;
    return row ? (row.last_error ?? 'failed') : null;
  }

  async hasEffect(key: string): Promise<boolean> {
    return this.stmts.hasIdem.get(key) !== undefined;
  }

  async callId(call: string): Promise<string | null> {
    const row = this.stmts.callId.get(call) as { b24_call_id: string | null } | undefined;
    return row?.b24_call_id ?? null;
  }

  async callIds(calls: readonly string[]): Promise<Map<string, string>> {
    if (calls.length === 0) return new Map();
    const rows = this.stmts.callIds.all(JSON.stringify([...new Set(calls)])) as Array<{ call: string; id: string }>;
    return new Map(rows.map((r) => [r.call, r.id]));
  }

  /** The card effects of a call that landed, in order, and the user its register named. */
  async cardHistory(call: string): Promise<StoredCardHistory> {
    const user = this.stmts.callUser.get(call) as { user_id: number | null } | undefined;
    let effects = this.cards.get(call);
    if (!effects) {
      const rows = this.stmts.cards.all(call) as Array<{ payload: string }>;
      effects = rows.map((r) => JSON.parse(r.payload) as Effect);
      this.cards.set(call, effects);
    }
    return { registerUser: user?.user_id ?? null, effects: [...effects] };
  }

  async cardHistories(calls: readonly string[]): Promise<Map<string, StoredCardHistory>> {
    return new Map(await Promise.all(calls.map(async (c) => [c, await this.cardHistory(c)] as const)));
  }

  async setCallId(call: string, b24CallId: string, userId: number | null, now: number): Promise<void> {
    this.stmts.setCallId.run(call, b24CallId, userId, now);
  }

  async get<T>(key: string): Promise<T | null> {
    return this.read<T>(key);
  }

  /** null forgets the key (get answers null either way; no row is left behind). */
  async set(key: string, value: unknown): Promise<void> {
    if (value === null) {
      this.stmts.kvDelete.run(key);
      return;
    }
    this.stmts.kvSet.run(key, JSON.stringify(value));
  }

  async claim(key: string, value: unknown): Promise<boolean> {
    return this.stmts.kvClaim.run(key, JSON.stringify(value)).changes > 0;
  }

  async tokens(): Promise<StoredTokens | null> {
    return this.read<StoredTokens>(TOKENS_KEY);
  }

  async setTokens(tokens: StoredTokens | null): Promise<void> {
    this.stmts.kvSet.run(TOKENS_KEY, JSON.stringify(tokens));
  }

  async recordingSecret(create: () => string): Promise<string> {
    return this.db.transaction(() => {
      const known = this.read<string>(RECORDING_SECRET_KEY);
      if (known) return known;
      const made = create();
      this.stmts.kvSet.run(RECORDING_SECRET_KEY, JSON.stringify(made));
      return made;
    })();
  }

  private read<T>(key: string): T | null {
    const row = this.stmts.kvGet.get(key) as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as T) : null;
  }

  async stats(): Promise<OutboxStats> {
    const out: OutboxStats = { pending: 0, failed: 0, done: 0, oldestPendingAt: null };
    for (const r of this.stmts.counts.all() as Array<{ state: JobState; n: number; oldest: number }>) {
      out[r.state] = r.n;
      if (r.state === 'pending') out.oldestPendingAt = r.oldest;
    }
    return out;
  }

  async failedJobs(limit = 20): Promise<FailedJob[]> {
    return (
      this.stmts.failed.all(limit) as Array<{
        id: number;
        call: string;
        kind: string;
        attempts: number;
        last_error: string | null;
      }>
    ).map((r) => ({
      id: r.id,
      call: r.call,
      kind: r.kind,
      attempts: r.attempts,
      lastError: r.last_error,
    }));
  }

  /**
   * Forget calls finished before `before` (ms): their delivered jobs and CALL_ID, and the
   * click-to-call requests placed before it. Pending and failed jobs stay, and so does
   * everything of a call not finished yet (a restart must still find it).
   */
  async purgeFinished(before: number): Promise<number> {
    const n = this.stmts.purge.run(before).changes;
    this.cards.clear();
    this.stmts.purgeCalls.run();
    this.stmts.purgeSeen.run(before);
    return n;
  }

  /** Exclusive within this process: one process owns the file. */
  lease(name: string, options?: LeaseOptions): Promise<Lease | null> {
    return localLease(this.key, name, options);
  }

  notify(channel: string, payload: string): Promise<void> {
    return this.signals.notify(channel, payload);
  }

  listen(channel: string, fn: (payload: string | null) => void): Promise<() => Promise<void>> {
    return this.signals.listen(channel, fn);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

function rowJob(r: JobRow): Job {
  return {
    id: r.id,
    call: r.call,
    effect: JSON.parse(r.payload) as Effect,
    attempts: r.attempts,
    nextAt: r.next_at,
    createdAt: r.created_at,
    lastError: r.last_error,
  };
}
