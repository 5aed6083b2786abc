/** What the outbox is built from: its store, client, directory, recordings and tunings. */
import type { Clock } from '../clock.js';
import type { Bitrix24Client } from '../bitrix24/client.js';
import type { UserDirectory } from '../bitrix24/directory.js';
import type { Logger } from '../log.js';
import type { Job, Store } from '../store/store.js';
import type { AttachPayload } from './commands.js';
import type { Rider, RiderOutcome } from './deliver.js';

/** What the outbox needs of the recordings: check a file, read it, upload it, say it landed. */
export interface RecordingsPort {
  check(path: string, job: Job): Promise<AttachPayload | { retryInMs: number; why: string } | { failed: string }>;
  base64(a: AttachPayload): Promise<string>;
  /** The file's bytes piece by piece, for a request body that streams it (else `base64` is read whole). */
  chunks?(a: AttachPayload): AsyncIterable<Buffer>;
  upload(url: string, field: string, a: AttachPayload): Promise<void>;
  landed(a: AttachPayload, callId: string): Promise<void>;
}

export interface OutboxOptions {
  store: Store;
  client: Bitrix24Client;
  directory: Pick<UserDirectory, 'userFor'>;
  defaultUserId: number;
  /** Under load, show/hide within this window are coalesced into one request. */
  cardWindowMs: number;
  log: Logger;
  recordings: RecordingsPort;
  clock?: Clock;
  /** Commands per request: 50 (Bitrix24's batch cap); 1 sends each command alone. */
  maxBatch?: number;
  /** Bytes of inline recordings one request may carry. */
  bodyCapBytes?: number;
  /** First retry delay of a refused command; doubles per attempt up to a minute. */
  retryBaseMs?: number;
  /** While the portal is unreachable: one request at most this often. */
  probeMs?: number;
  /** Hides, finishes and recordings waiting longer than this go with the cards. */
  starveMs?: number;
  /** Hides, finishes and recordings without a card to ride with wait up to this long to gather. */
  lazyMs?: number;
  /**
   * Requests in flight at once (their jobs are not planned again meanwhile); one more may
   * carry registers and shows alone, so a card never waits behind a request of recordings.
   */
  concurrency?: number;
  /**
   * A command to ride in each batch that goes out anyway (the offline pull): `take` is
   * asked before a batch is sent; a non-null answer gets exactly one `done` afterwards.
   */
  piggyback?: { take(): Rider | null; done(outcome: RiderOutcome): Promise<void> };
}

export interface OutboxEvents {
  onFailed?: (job: Job, reason: string) => void;
}
