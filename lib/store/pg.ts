/**
 * The PostgreSQL implementation of the `Store` (FSB24_DATABASE_URL): every row in one
 * database, under this store's namespace (a portal), so several instances of the service
 * share the state. Nothing is kept in memory (another instance may have written since):
 * each method is one round trip on the pool (the purge: one transaction), on indexes
 * made for it (./pg-schema.ts). Leases and signals: ./pg-db.ts.
 */
import type { Effect } from '../calls/effects.js';
import { PgDatabase, type PgOptions } from './pg-db.js';
import { PgInbox } from './pg-inbox.js';
import { PgConnectStates } from './pg-connect.js';
import { leaseKey } from './pg-lease.js';
import {
  idempotencyKey,
  type FailedJob,
  type Job,
  type JobState,
  type Lease,
  type LearntCallId,
  type LeaseOptions,
  type OutboxStats,
  type Store,
  type StoredCardHistory,
  type StoredTokens,
  type Submitted,
  type UnfinishedCall,
} from './store.js';

const TOKENS_KEY = 'oauth.tokens';
const RECORDING_SECRET_KEY = 'recordings.secret';
const JOB_COLUMNS = 'id, call, payload, attempts, next_at, created_at, last_error';
/**
 * Jobs by id (the primary key) in this namespace, the namespace compared outside any index (`ns || ''`):
 * while the statistics do not know a namespace yet (a new database before its first analyze, a new
 * portal), the planner takes any index beginning with `ns` for a one-row scan, and reads every job of the
 * namespace for each statement. Likewise the rows of several calls are read one call at a time (a
 * lateral subquery the planner cannot flatten: `OFFSET 0`), each on `(ns, call)`.
 */
const IN_NS = "ns || '' = $1";

interface JobRow {
  id: string;
  call: string;
  payload: string;
  attempts: number;
  next_at: string;
  created_at: string;
  last_error: string | null;
}

export class PgStore implements Store {
  readonly inbox: PgInbox;
  readonly connectStates: PgConnectStates;
  private readonly db: PgDatabase;
  private closed = false;

  /** `namespace`: whose rows these are ('' for the service and its one portal, a portal's host with tenants). */
  constructor(
    url: string,
    readonly namespace: string,
    options: PgOptions = {},
  ) {
    this.db = PgDatabase.acquire(url, options);
    this.inbox = new PgInbox(this.db, namespace);
    this.connectStates = new PgConnectStates(this.db, namespace);
  }

  /** The schema is current (migrated by this call if it may): a start fails here, with the database's reason. */
  migrated(): Promise<void> {
    return this.db.migrated();
  }

  private q<R extends object>(name: string, text: string, values: unknown[] = []): Promise<R[]> {
    return this.db.query<R>(`fsb24_${name}`, text, [this.namespace, ...values]).then((r) => r.rows);
  }

  /** Write effects durably and atomically (one statement); an effect with a known idempotency key is ignored. */
  enqueue(effects: readonly Effect[], now: number): Promise<number> {
    return this.enqueueAll([{ effects, now }]);
  }

  /** Several submits in one statement (all or none), in order, each effect with its submit's time. */
  async enqueueAll(submits: readonly Submitted[]): Promise<number> {
    const effects = submits.flatMap((s) => s.effects);
    if (effects.length === 0) return 0;
    const payloads = effects.map((e) => JSON.stringify(e)); // before anything is written: a bad one writes nothing
    const times = submits.flatMap((s) => s.effects.map(() => s.now));
    const rows = await this.q<{ id: string }>(
      'enqueue_all',
      `INSERT INTO fsb24_jobs (ns, call, kind, payload, idem, created_at, next_at)
       SELECT $1, e.call, e.kind, e.payload, e.idem, e.at, e.at
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
         WITH ORDINALITY AS e(call, kind, payload, idem, at, n)
       ORDER BY e.n
       ON CONFLICT (ns, idem) DO NOTHING RETURNING id`,
      [effects.map((e) => e.call), effects.map((e) => e.kind), payloads, effects.map(idempotencyKey), times],
    );
    return rows.length;
  }

  /** Pending jobs, oldest first (so in submission order within each call). */
  async pending(): Promise<Job[]> {
    const rows = await this.q<JobRow>(
      'pending',
      `SELECT ${JOB_COLUMNS} FROM fsb24_jobs WHERE ns = $1 AND state = 'pending' ORDER BY id`,
    );
    return rows.map(rowJob);
  }

  async markDone(id: number): Promise<void> {
    await this.q(
      'done',
      `UPDATE fsb24_jobs SET state = 'done', attempts = attempts + 1, last_error = NULL WHERE id = $2 AND ${IN_NS}`,
      [id],
    );
  }

  /** One statement: the CALL_IDs upserted and the jobs marked done in the same commit. */
  async markDoneAll(ids: readonly number[], callIds: readonly LearntCallId[], now: number): Promise<void> {
    if (ids.length === 0 && callIds.length === 0) return;
    const learnt = [...new Map(callIds.map((c) => [c.call, c])).values()]; // the last of a call wins
    await this.q(
      'done_all',
      `WITH ids AS (
         INSERT INTO fsb24_calls (ns, call, b24_call_id, user_id, updated_at)
         SELECT $1, c.call, c.id, c.user_id, $5
         FROM unnest($2::text[], $3::text[], $4::bigint[]) AS c(call, id, user_id)
         ON CONFLICT (ns, call) DO UPDATE
         SET b24_call_id = excluded.b24_call_id, user_id = excluded.user_id, updated_at = excluded.updated_at
       )
       UPDATE fsb24_jobs SET state = 'done', attempts = attempts + 1, last_error = NULL
       WHERE id = ANY($6::bigint[]) AND ${IN_NS}`,
      [learnt.map((c) => c.call), learnt.map((c) => c.b24CallId), learnt.map((c) => c.userId), now, [...new Set(ids)]],
    );
  }

  async markRetry(id: number, nextAt: number, error: string, counted = true): Promise<void> {
    await this.q(
      'retry',
      `UPDATE fsb24_jobs SET attempts = attempts + $3, next_at = $4, last_error = $5 WHERE id = $2 AND ${IN_NS}`,
      [id, counted ? 1 : 0, nextAt, error],
    );
  }

  async markFailed(id: number, error: string): Promise<void> {
    await this.q(
      'fail',
      `UPDATE fsb24_jobs SET state = 'failed', attempts = attempts + 1, last_error = $3 WHERE id = $2 AND ${IN_NS}`,
      [id, error],
    );
  }

  /** The card effects of a call that landed, in order, and the user its register named. */
  async cardHistory(call: string): Promise<StoredCardHistory> {
    return (await this.cardHistories([call])).get(call)!;
  }

  /** The card histories of these calls in one statement. */
  async cardHistories(calls: readonly string[]): Promise<Map<string, StoredCardHistory>> {
    const out = new Map<string, StoredCardHistory>();
    if (calls.length === 0) return out;
    const rows = await this.q<{ call: string; user_id: string | null; payload: string | null }>(
      'cards_all',
      `SELECT q.call, (SELECT user_id FROM fsb24_calls c WHERE c.ns = $1 AND c.call = q.call) AS user_id, j.payload
       FROM unnest($2::text[]) AS q(call)
       LEFT JOIN LATERAL (
         SELECT id, payload FROM fsb24_jobs
         WHERE ns = $1 AND call = q.call AND state = 'done' AND kind IN ('register', 'show', 'hide') OFFSET 0
       ) j ON true
       ORDER BY q.call, j.id`,
      [[...new Set(calls)]],
    );
    for (const r of rows) {
      let h = out.get(r.call);
      if (!h) out.set(r.call, (h = { registerUser: r.user_id === null ? null : Number(r.user_id), effects: [] }));
      if (r.payload !== null) h.effects.push(JSON.parse(r.payload) as Effect);
    }
    return out;
  }

  /** Calls registered (or adopted) that never got a finish, with the recordings their recorders started. */
  async unfinishedCalls(): Promise<UnfinishedCall[]> {
    type Row = { call: string; register: string | null; connected: string | null; recordings: string[] | null };
    const rows = await this.q<Row>(
      'unfinished',
      `SELECT s.call,
         (SELECT payload FROM fsb24_jobs r WHERE r.ns = $1 AND r.call = s.call AND r.kind = 'register' LIMIT 1)
           AS register,
         (SELECT payload FROM fsb24_jobs c WHERE c.ns = $1 AND c.call = s.call AND c.kind = 'connected'
          ORDER BY c.id DESC LIMIT 1) AS connected,
         (SELECT array_agg(x.payload::jsonb ->> 'path' ORDER BY x.id) FROM fsb24_jobs x
          WHERE x.ns = $1 AND x.call = s.call AND x.kind = 'recording') AS recordings
       FROM (SELECT DISTINCT call FROM fsb24_jobs WHERE ns = $1 AND kind IN ('register', 'adopt')) s
       WHERE NOT EXISTS (SELECT 1 FROM fsb24_jobs f WHERE f.ns = $1 AND f.call = s.call AND f.kind = 'finish')
       ORDER BY s.call`,
    );
    return rows.map((r) => ({
      call: r.call,
      register: r.register ? (JSON.parse(r.register) as Effect) : null,
      connected: r.connected ? (JSON.parse(r.connected) as Effect) : null,
      recordings: (r.recordings ?? []).filter((p): p is string => typeof p === 'string'),
    }));
  }

  /** An effect with this idempotency key was enqueued (a CDR's call recognised by `finish:<call>`). */
  async hasEffect(key: string): Promise<boolean> {
    const rows = await this.q('has_idem', 'SELECT 1 FROM fsb24_jobs WHERE ns = $1 AND idem = $2', [key]);
    return rows.length > 0;
  }

  async registerFailure(call: string): Promise<string | null> {
    const rows = await this.q<{ last_error: string | null }>(
      'register_failed',
      `SELECT last_error FROM fsb24_jobs
       WHERE ns = $1 AND call = $2 AND kind = 'register' AND state = 'failed' LIMIT 1`,
      [call],
    );
    return rows[0] ? (rows[0].last_error ?? 'failed') : null;
  }

  async stats(): Promise<OutboxStats> {
    const out: OutboxStats = { pending: 0, failed: 0, done: 0, oldestPendingAt: null };
    const rows = await this.q<{ state: JobState; n: number; oldest: string }>(
      'counts',
      `SELECT state, count(*)::int AS n, min(created_at) AS oldest FROM fsb24_jobs WHERE ns = $1 GROUP BY state`,
    );
    for (const r of rows) {
      out[r.state] = r.n;
      if (r.state === 'pending') out.oldestPendingAt = Number(r.oldest);
    }
    return out;
  }

  async failedJobs(limit = 20): Promise<FailedJob[]> {
    const rows = await this.q<{ id: string; call: string; kind: string; attempts: number; last_error: string | null }>(
      'failed',
      `SELECT id, call, kind, attempts, last_error FROM fsb24_jobs
       WHERE ns = $1 AND state = 'failed' ORDER BY id DESC LIMIT $2`,
      [limit],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      call: r.call,
      kind: r.kind,
      attempts: r.attempts,
      lastError: r.last_error,
    }));
  }

  async callId(call: string): Promise<string | null> {
    return (await this.callIds([call])).get(call) ?? null;
  }

  async callIds(calls: readonly string[]): Promise<Map<string, string>> {
    if (calls.length === 0) return new Map();
    const rows = await this.q<{ call: string; b24_call_id: string }>(
      'call_ids',
      `SELECT q.call, c.b24_call_id FROM unnest($2::text[]) AS q(call)
       JOIN LATERAL (
         SELECT b24_call_id FROM fsb24_calls WHERE ns = $1 AND call = q.call AND b24_call_id IS NOT NULL OFFSET 0
       ) c ON true`,
      [[...new Set(calls)]],
    );
    return new Map(rows.map((r) => [r.call, r.b24_call_id]));
  }

  async setCallId(call: string, b24CallId: string, userId: number | null, now: number): Promise<void> {
    await this.q(
      'set_call_id',
      `INSERT INTO fsb24_calls (ns, call, b24_call_id, user_id, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (ns, call) DO UPDATE
       SET b24_call_id = excluded.b24_call_id, user_id = excluded.user_id, updated_at = excluded.updated_at`,
      [call, b24CallId, userId, now],
    );
  }

  async get<T>(key: string): Promise<T | null> {
    const rows = await this.q<{ value: string }>('kv_get', 'SELECT value FROM fsb24_kv WHERE ns = $1 AND key = $2', [
      key,
    ]);
    return rows[0] ? (JSON.parse(rows[0].value) as T) : null;
  }

  /** null forgets the key. */
  async set(key: string, value: unknown): Promise<void> {
    if (value === null) {
      await this.q('kv_delete', 'DELETE FROM fsb24_kv WHERE ns = $1 AND key = $2', [key]);
      return;
    }
    await this.q(
      'kv_set',
      `INSERT INTO fsb24_kv (ns, key, value) VALUES ($1, $2, $3)
       ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value`,
      [key, JSON.stringify(value)],
    );
  }

  /** One statement: of those inserting the key at once, exactly one gets the row back. */
  async claim(key: string, value: unknown): Promise<boolean> {
    const rows = await this.q<{ key: string }>(
      'kv_claim',
      'INSERT INTO fsb24_kv (ns, key, value) VALUES ($1, $2, $3) ON CONFLICT (ns, key) DO NOTHING RETURNING key',
      [key, JSON.stringify(value)],
    );
    return rows.length > 0;
  }

  tokens(): Promise<StoredTokens | null> {
    return this.get<StoredTokens>(TOKENS_KEY);
  }

  setTokens(tokens: StoredTokens | null): Promise<void> {
    return this.set(TOKENS_KEY, tokens);
  }

  /** Made once whoever asks first (two instances at once: one secret wins, both get it). */
  async recordingSecret(create: () => string): Promise<string> {
    const known = await this.get<string>(RECORDING_SECRET_KEY);
    if (known) return known;
    const made = JSON.stringify(create());
    const write = (): Promise<Array<{ value: string }>> =>
      this.q<{ value: string }>(
        'secret',
        `WITH made AS (
           INSERT INTO fsb24_kv (ns, key, value) VALUES ($1, $2, $3) ON CONFLICT (ns, key) DO NOTHING RETURNING value
         )
         SELECT value FROM made UNION ALL SELECT value FROM fsb24_kv WHERE ns = $1 AND key = $2`,
        [RECORDING_SECRET_KEY, made],
      );
    let rows = await write();
    // empty: another instance committed its secret while this statement ran; the next one sees it
    if (!rows[0]) rows = await write();
    return JSON.parse(rows[0]!.value) as string;
  }

  /**
   * Forget calls finished before `before` (ms): their delivered jobs and CALL_ID, and the
   * click-to-call requests placed before it. Pending and failed jobs stay.
   */
  purgeFinished(before: number): Promise<number> {
    const ns = this.namespace;
    return this.db.tx(async (c) => {
      const gone = await c.query(
        `DELETE FROM fsb24_jobs WHERE ns = $1 AND state = 'done' AND call IN
           (SELECT call FROM fsb24_jobs WHERE ns = $1 AND kind = 'finish' AND state = 'done' AND created_at < $2)`,
        [ns, before],
      );
      await c.query(
        `DELETE FROM fsb24_calls c WHERE ns = $1
         AND NOT EXISTS (SELECT 1 FROM fsb24_jobs j WHERE j.ns = $1 AND j.call = c.call)`,
        [ns],
      );
      await c.query(
        `DELETE FROM fsb24_kv WHERE ns = $1 AND (key LIKE 'c2c:%' OR key LIKE 'mail:%')
         AND (value::jsonb ->> 'at')::float8 < $2`,
        [ns, before],
      );
      return gone.rowCount ?? 0;
    });
  }

  lease(name: string, options?: LeaseOptions): Promise<Lease | null> {
    return this.db.lease(leaseKey(this.namespace, name), name, options);
  }

  notify(channel: string, payload: string): Promise<void> {
    return this.db.notify(this.namespace, channel, payload);
  }

  listen(channel: string, fn: (payload: string | null) => void): Promise<() => Promise<void>> {
    return this.db.listen((ns, ch, payload) => {
      if (payload === null || (ns === this.namespace && ch === channel)) fn(payload);
    });
  }

  /** Gives its share of the database back (the last store of a URL closes the pool). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.release();
  }
}

function rowJob(r: JobRow): Job {
  return {
    id: Number(r.id),
    call: r.call,
    effect: JSON.parse(r.payload) as Effect,
    attempts: r.attempts,
    nextAt: Number(r.next_at),
    createdAt: Number(r.created_at),
    lastError: r.last_error,
  };
}
