/**
 * Recordings reach Bitrix24 (telephony.externalCall.attachRecord, reference §6): only
 * files under the configured directories (symlinks and `..` resolved first), only
 * .wav/.mp3, only once the file stopped growing. The outbox sends small files as
 * base64 FILE_CONTENT inside its batches, links (url mode) likewise; large files take
 * the two-step uploadUrl, the file streamed as multipart.
 */
import { createReadStream } from 'node:fs';
import { readFile, realpath, stat, unlink } from 'node:fs/promises';
import { basename, extname, isAbsolute, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import type { Bitrix24Client } from '../bitrix24/client.js';
import type { Job } from '../store/store.js';
import type { AttachPayload } from '../outbox/commands.js';
import type { Logger } from '../log.js';
import { realClock, type Clock } from '../clock.js';

const METHOD = 'telephony.externalcall.attachrecord';

export interface UploaderOptions {
  client: Bitrix24Client;
  dirs: readonly string[];
  log: Logger;
  /** Files up to this size go as FILE_CONTENT; larger ones through uploadUrl. */
  inlineMaxBytes?: number;
  /** A file must be unchanged for this long before it is sent. */
  stableMs?: number;
  /** Give up on a file still missing after this long. */
  giveUpMs?: number;
  /** Delete the local file once Bitrix24 confirmed the upload. */
  deleteAfterUpload?: boolean;
  /** url mode: Bitrix24 fetches the file from this signed link instead (RECORD_URL). */
  linkFor?: (realPath: string, name: string) => string;
  clock?: Clock;
}

export type AttachOutcome = 'done' | { retryInMs: number; why: string } | { failed: string };

export class RecordingUploader {
  private readonly seen = new Map<string, { size: number; mtimeMs: number; since: number }>();
  uploads = 0;
  bytes = 0;

  private readonly clock: Clock;

  constructor(private readonly o: UploaderOptions) {
    this.clock = o.clock ?? realClock;
  }

  /**
   * Resolve a path inside an allowed directory, or say why not: first as written
   * (`..` resolved), then the real file (a symlink may not lead out).
   */
  async confine(path: string): Promise<string | 'missing' | { failed: string }> {
    const refused = { failed: `recording ${path} is outside the recordings directories (FSB24_RECORDINGS_DIRS)` };
    if (!isAbsolute(path) || path.includes('\0')) return refused;
    const inside = (p: string, root: string): boolean =>
      p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
    const lexical = resolve(path);
    if (!this.o.dirs.some((d) => inside(lexical, resolve(d)))) return refused;
    let real: string;
    try {
      real = await realpath(lexical);
    } catch {
      return 'missing';
    }
    for (const dir of this.o.dirs) {
      const root = await realpath(dir).catch(() => null);
      if (root && inside(real, root)) return real;
    }
    return refused;
  }

  /**
   * Is the recording ready to go, and how: by link (url mode), inline (FILE_CONTENT,
   * up to `inlineMaxBytes`) or two-step (uploadUrl)? Missing, growing and empty files
   * are tried again later, until `giveUpMs` after the call ended.
   */
  async check(
    path: string,
    job: Job,
  ): Promise<AttachPayload | { retryInMs: number; why: string } | { failed: string }> {
    const now = this.clock.now();
    const ext = extname(path).toLowerCase();
    if (ext !== '.wav' && ext !== '.mp3') {
      this.o.log.warn({ path, callUuid: job.call }, 'recording is neither .wav nor .mp3; Bitrix24 accepts only those');
      return { failed: `recording ${basename(path)}: only .wav and .mp3 are accepted` };
    }
    const real = await this.confine(path);
    if (typeof real === 'object') {
      this.o.log.error({ path, callUuid: job.call }, 'recording refused: outside the recordings directories');
      return real;
    }
    const stableMs = this.o.stableMs ?? 2000;
    const poll = Math.max(50, Math.min(stableMs, 1000));
    const giveUp = now - job.createdAt > (this.o.giveUpMs ?? 10 * 60_000);
    if (real === 'missing')
      return giveUp
        ? { failed: `recording ${path} never appeared` }
        : { retryInMs: poll, why: 'recording not there yet' };
    const st = await stat(real);
    const before = this.seen.get(real);
    const changed = !before || before.size !== st.size || before.mtimeMs !== st.mtimeMs;
    const since = changed ? now : before.since;
    this.seen.set(real, { size: st.size, mtimeMs: st.mtimeMs, since });
    // complete = the recorder closed it (RECORD_STOP or hang-up came first) and it stopped changing
    const quiet = now - st.mtimeMs >= stableMs || now - since >= stableMs;
    if (!quiet) return { retryInMs: poll, why: 'recording still growing' };
    if (st.size === 0)
      return giveUp ? { failed: `recording ${path} is empty` } : { retryInMs: poll, why: 'recording empty' };
    this.seen.delete(real);
    const name = basename(real);
    if (this.o.linkFor) return { mode: 'url', path: real, name, size: st.size, url: this.o.linkFor(real, name) };
    return {
      mode: st.size <= (this.o.inlineMaxBytes ?? 4 * 1024 * 1024) ? 'inline' : 'upload',
      path: real,
      name,
      size: st.size,
    };
  }

  /** The file as base64, for FILE_CONTENT inside a batch (inline files are small: at most `inlineMaxBytes`). */
  async base64(a: AttachPayload): Promise<string> {
    return (await readFile(a.path)).toString('base64');
  }

  /** The file's bytes piece by piece (a request body encodes them as it goes): memory stays flat. */
  chunks(a: AttachPayload): AsyncIterable<Buffer> {
    return createReadStream(a.path, { highWaterMark: 192 * 1024 });
  }

  /** The second step of the two-step form: the file streamed as multipart to the uploadUrl. */
  async upload(url: string, field: string, a: AttachPayload): Promise<void> {
    await this.o.client.acquireSlot(); // whether the portal meters uploads is undocumented: assume it does
    await this.multipart(url, field, a.path, a.name, a.size);
  }

  /** Bitrix24 confirmed the recording: count it; delete the local file when configured. */
  async landed(a: AttachPayload, callId: string): Promise<void> {
    this.uploads++;
    this.bytes += a.size;
    this.o.log.info({ callId, file: a.name, bytes: a.size, mode: a.mode }, 'recording attached');
    if (this.o.deleteAfterUpload)
      await unlink(a.path).catch((err: unknown) =>
        this.o.log.warn({ file: a.name, err }, 'could not delete the uploaded recording'),
      );
  }

  /** One recording on its own, outside the outbox (bench:upload): FILE_CONTENT streamed, or two-step. */
  async attach(callId: string, path: string, job: Job): Promise<AttachOutcome> {
    const a = await this.check(path, job);
    if (!('mode' in a)) return a;
    const params = { CALL_ID: callId, FILENAME: a.name };
    if (a.mode === 'url') await this.o.client.call(METHOD, { ...params, RECORD_URL: a.url });
    else if (a.mode === 'inline') await this.o.client.callWithFile(METHOD, params, 'FILE_CONTENT', a.path, a.size);
    else {
      const step = await this.o.client.call<{ uploadUrl?: string; fieldName?: string }>(METHOD, params);
      if (!step?.uploadUrl) return { failed: 'attachRecord gave no uploadUrl' };
      await this.upload(step.uploadUrl, step.fieldName ?? 'file', a);
    }
    await this.landed(a, callId);
    return 'done';
  }

  /** POST multipart/form-data with the file streamed from disk: memory does not grow with it. */
  private async multipart(url: string, field: string, path: string, name: string, size: number): Promise<void> {
    const boundary = `----fsb24${Math.random().toString(16).slice(2)}`;
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; ` +
        `filename="${name.replace(/"/g, '')}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const log = this.o.log;
    async function* body(): AsyncGenerator<Buffer> {
      yield head;
      let sent = 0;
      let nextReport = 50 * 1024 * 1024;
      for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 })) {
        sent += (chunk as Buffer).length;
        if (sent >= nextReport) {
          log.info({ file: name, sent, size }, 'recording upload progress');
          nextReport += 50 * 1024 * 1024;
        }
        yield chunk as Buffer;
      }
      yield tail;
    }
    const res = await request(url, {
      method: 'POST',
      headers: {
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + size + tail.length),
      },
      body: Readable.from(body()),
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`upload: HTTP ${res.statusCode} ${text.slice(0, 200)}`);
  }
}
