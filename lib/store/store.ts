/**
 * Durable state behind one interface: the outbox of effects, the CALL_ID of each call,
 * the OAuth tokens, the offline event inbox, the browser connect's one-time states and a small
 * key-value table. Everything that must reach Bitrix24 is committed here before it is
 * acknowledged anywhere else.
 * Nothing outside `lib/store/` speaks SQL; `SqliteStore` (./sqlite.ts) is the embedded
 * implementation, `PgStore` (./pg.ts) the shared one (several instances on one database).
 *
 * Promise-based: a write is durable when its promise resolves (better-sqlite3 resolves at
 * once, a database server after its commit), so callers await it before they acknowledge
 * anything. What must be atomic is one method (an enqueue of several effects, an inbox
 * accept, the recording secret made once): no caller holds a transaction open.
 */
import type { Effect } from '../calls/effects.js';
import type { ParsedEvent } from '../bitrix24/event-body.js';

export type JobState = 'pending' | 'done' | 'failed';

/** One effect waiting to reach Bitrix24 (or already delivered or given up, for bookkeeping). */
export interface Job {
  id: number;
  call: string;
  effect: Effect;
  attempts: number;
  nextAt: number;
  createdAt: number;
  lastError: string | null;
}

/** A call registered (or adopted) but never finished, with what a restart needs to finish it. */
export interface UnfinishedCall {
  call: string;
  register: Effect | null;
  connected: Effect | null;
  /** The paths of its `recording` effects (RECORD_START), in order. */
  recordings: string[];
}

export interface FailedJob {
  id: number;
  call: string;
  kind: string;
  attempts: number;
  lastError: string | null;
}

export interface OutboxStats {
  pending: number;
  failed: number;
  done: number;
  oldestPendingAt: number | null;
}

/** The OAuth tokens and install data of the portal (local application mode). */
export interface StoredTokens {
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
  clientEndpoint: string;
  memberId: string;
  domain: string;
  applicationToken: string;
  scope: string;
}

/** One record of the portal's offline event queue, keyed by its record ID. */
export interface InboxItem {
  recordId: number;
  messageId: string;
  event: ParsedEvent;
}

/** Effects submitted together at `now` (one submit of the outbox). */
export interface Submitted {
  effects: readonly Effect[];
  now: number;
}

/** A CALL_ID Bitrix24 gave a call (its register landed, or an adopt), and the user the register named. */
export interface LearntCallId {
  call: string;
  b24CallId: string;
  userId: number | null;
}

/** What the portal was told of a call's card so far: who it was registered for, its shows/hides that landed. */
export interface StoredCardHistory {
  registerUser: number | null;
  effects: Effect[];
}

/** The outbox: effects in the order they were submitted, per call. */
export interface JobStore {
  /** Write effects durably and atomically (all or none); an effect with a known idempotency key is ignored. */
  enqueue(effects: readonly Effect[], now: number): Promise<number>;
  /**
   * Several submits in one atomic write (all or none), in this order, each effect with the time of its
   * submit: as `enqueue` of each in turn, in one round trip. Returns how many jobs were new.
   */
  enqueueAll(submits: readonly Submitted[]): Promise<number>;
  /** Pending jobs, oldest first (so in submission order within each call). */
  pending(): Promise<Job[]>;
  markDone(id: number): Promise<void>;
  /**
   * Jobs that landed and the CALL_IDs they brought, in one atomic write: each CALL_ID is stored in the
   * same commit as the jobs marked done (a restart finds the CALL_ID of every register done). As
   * `setCallId` of each (the last of a call wins) then `markDone` of each, in one round trip.
   */
  markDoneAll(ids: readonly number[], callIds: readonly LearntCallId[], now: number): Promise<void>;
  /** Try again at `nextAt`; `counted` false: not a failed attempt (a file not ready yet, a register ahead). */
  markRetry(id: number, nextAt: number, error: string, counted?: boolean): Promise<void>;
  markFailed(id: number, error: string): Promise<void>;
  /** What the portal was told of a call's card so far: who it was registered for, its shows/hides done. */
  cardHistory(call: string): Promise<StoredCardHistory>;
  /** The card history of each of these calls (one round trip), every call asked for in the map. */
  cardHistories(calls: readonly string[]): Promise<Map<string, StoredCardHistory>>;
  /**
   * Calls that were registered (or adopted) but never got a finish: after a restart,
   * those no longer on the switch ended while the service was down.
   */
  unfinishedCalls(): Promise<UnfinishedCall[]>;
  /** The reason a call's register failed for good, if it did. */
  registerFailure(call: string): Promise<string | null>;
  /** An effect with this idempotency key was enqueued (`finish:<call>`): a CDR's call was sent already. */
  hasEffect(key: string): Promise<boolean>;
  stats(): Promise<OutboxStats>;
  /** The most recent failed jobs, newest first. */
  failedJobs(limit?: number): Promise<FailedJob[]>;
}

/** The CALL_ID Bitrix24 gave each call (and the user its register named). */
export interface CallIdStore {
  callId(call: string): Promise<string | null>;
  /** The known CALL_IDs of these calls (one round trip), by call. */
  callIds(calls: readonly string[]): Promise<Map<string, string>>;
  setCallId(call: string, b24CallId: string, userId: number | null, now: number): Promise<void>;
}

/** Small JSON values by key (`alive`, `alive.switchUs`, `c2c:<CALL_ID>`, `offline.*`). */
export interface KeyValueStore {
  /** The stored value, as the caller says it was written (JSON), or null. */
  get<T>(key: string): Promise<T | null>;
  /** null forgets the key. */
  set(key: string, value: unknown): Promise<void>;
  /**
   * Write `value` under `key` unless the key exists: atomic, so exactly one caller gets true
   * (a click-to-call placed once, a message between instances done once). Keys `c2c:*` and
   * `mail:*` carry `at` (ms) and are purged with finished calls.
   */
  claim(key: string, value: unknown): Promise<boolean>;
}

/** Typed homes for the secrets the service keeps. */
export interface SecretStore {
  tokens(): Promise<StoredTokens | null>;
  /** Persist the tokens (before a rotated refresh token is used); null forgets them (uninstall). */
  setTokens(tokens: StoredTokens | null): Promise<void>;
  /** The recording-link signing secret (hex); made once with `create` and kept. */
  recordingSecret(create: () => string): Promise<string>;
}

/**
 * The durable side of an offline pull: records are accepted (one transaction) before the
 * portal is told to forget them, and taken (also durably) before they are handled, so a
 * crash anywhere loses no click and places no call twice. A record read again (recovery
 * of a reserved batch) is recognised by its record ID.
 */
export interface InboxStore {
  /** Durable when it resolves: what the portal may now forget. */
  accept(items: readonly InboxItem[], now: number): Promise<void>;
  /** True once: the caller owns the handling of this record. */
  take(recordId: number): Promise<boolean>;
  /** Accepted but never taken (a previous run stopped in between), in record order. */
  untaken(): Promise<InboxItem[]>;
  /** Forget records taken before `before` (ms). */
  purge(before: number): Promise<void>;
}

/** How a one-time state of the browser connect flow was found when it was used. */
export type ConnectStateUse = 'ok' | 'unknown' | 'expired' | 'used';

/**
 * The one-time states of the browser connect flow (`GET /bitrix24/connect` → the portal → its
 * callback), kept where every instance sharing the store finds them: any instance may serve
 * either request. The caller keeps only a digest of each state here (the state is a secret).
 */
export interface ConnectStateStore {
  /** Remember `state` until `expiresAt` (ms); states expired by `now` are forgotten. */
  create(state: string, expiresAt: number, now: number): Promise<void>;
  /**
   * Use `state` at `now`: 'ok' once, to exactly one of those using it at the same time (atomic),
   * 'used' after; 'expired' from `expiresAt` on; 'unknown' if never created (or already forgotten).
   */
  consume(state: string, now: number): Promise<ConnectStateUse>;
}

/**
 * A named lease held by at most one holder among everyone sharing the store (the cluster:
 * which instance holds a switch's event socket or sends for a portal). PostgreSQL: a
 * session advisory lock on a connection of its own; SQLite: one process owns the file, so
 * the lease is exclusive within the process only.
 */
export interface Lease {
  readonly name: string;
  /** Aborted (its reason: the error) when the lease is lost: its connection died or was killed. */
  readonly lost: AbortSignal;
  /** Give the lease up; the next waiter gets it. Never aborts `lost`. */
  release(): Promise<void>;
}

export interface LeaseOptions {
  /** true (default): wait until the lease is free; false: null at once if someone holds it. */
  wait?: boolean;
  /** Stop waiting: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Who holds it (the instance): PostgreSQL shows it as the lease connection's application_name (`check`). */
  holder?: string;
}

/** Signals between everyone sharing the store (PostgreSQL LISTEN/NOTIFY; in-process with SQLite). */
export interface Signals {
  /**
   * Send `payload` (at most 7,000 bytes) to every listener of `channel`, this process's too.
   * Fire-and-forget: only listeners connected when it is sent get it.
   */
  notify(channel: string, payload: string): Promise<void>;
  /**
   * Call `fn` with each payload sent on `channel` from the moment this resolves; `fn(null)`:
   * signals may have been missed (the listening connection was lost and is back): read the
   * state again. Resolves with what stops listening.
   */
  listen(channel: string, fn: (payload: string | null) => void): Promise<() => Promise<void>>;
}

export interface Store extends JobStore, CallIdStore, KeyValueStore, SecretStore, Signals {
  readonly inbox: InboxStore;
  readonly connectStates: ConnectStateStore;
  /** Hold the lease `name` (see `Lease`); null only with `wait: false` when someone else holds it. */
  lease(name: string, options?: LeaseOptions): Promise<Lease | null>;
  /**
   * Forget calls finished before `before` (ms): their delivered jobs and CALL_ID, and the
   * click-to-call requests placed before it. Pending and failed jobs stay, and so does
   * everything of a call not finished yet (a restart must still find it). Returns the
   * number of jobs forgotten.
   */
  purgeFinished(before: number): Promise<number>;
  /**
   * Several instances on one database: read back what others changed (pending jobs, card
   * history) before this one delivers for the portal again. A store that keeps nothing in
   * memory need not have it.
   */
  reload?(): Promise<void>;
  close(): Promise<void>;
}

/** One register, finish, adopt per call and one attach and recording per file: repeated effects are no-ops. */
export function idempotencyKey(e: Effect): string | null {
  switch (e.kind) {
    case 'register':
    case 'finish':
    case 'adopt':
      return `${e.kind}:${e.call}`;
    case 'attach':
      return `attach:${e.call}:${e.path}`;
    case 'recording':
      return `recording:${e.call}:${e.path}`;
    default:
      return null;
  }
}
