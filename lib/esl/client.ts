/**
 * One inbound event-socket connection (freeswitch-esl.md §1, §8).
 *
 * Why not modesl's Connection: modesl 1.2.1 URL-decodes with decodeURIComponent and
 * throws inside the socket handler on a stray `%` (#59), rescans its whole buffer per
 * chunk (quadratic on large bodies), matches replies without deadlines, and answers
 * commands sent before `esl::ready` with a fake auth failure (§9). This client keeps
 * the same wire behaviour with our own parser, a deadline on every wait, and our own
 * Job-UUIDs. modesl stays in the test suite as the stock client the simulator must fool.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { FrameParser, frameHeader, type Frame } from './frame.js';
import { decodeJsonEvent, decodePlainEvent, type EslEvent } from './codec.js';
import { EslError, EslJobLost } from './errors.js';
import { realClock, type Clock, type Timer } from '../clock.js';

export interface EslClientOptions {
  host: string;
  port: number;
  password: string;
  /** Deadline for connect + auth, and for each api/bgapi reply. */
  timeoutMs?: number;
  /** Deadline for a BACKGROUND_JOB after its bgapi was accepted. */
  jobTimeoutMs?: number;
  /** Deadlines and the lastDataAt stamp. */
  clock?: Clock;
}

/** A bgapi job's outcome: FreeSWITCH's answer (`+OK …` or `-ERR <cause>`), or `lost` when none came. */
export type BackgroundJob =
  | { jobUuid: string; ok: boolean; body: string; lost?: undefined }
  | { jobUuid: string; ok: false; body?: undefined; lost: EslJobLost };

interface PendingReply {
  resolve: (f: Frame) => void;
  reject: (e: Error) => void;
  timer: Timer;
}

interface PendingJob {
  resolve: (j: BackgroundJob) => void;
  timer: Timer;
}

export interface EslClientEvents {
  event: [EslEvent];
  /** A frame or event that did not parse: counted and logged by the owner, never fatal. */
  bad: [Error, Frame | null];
  close: [Error | null];
}

/** Reject anything that would end the command line early (§1.1, §4). */
export function assertSafeCommand(cmd: string): void {
  if (/[\r\n]/.test(cmd)) throw new EslError('ESL_ERR_UNSAFE_COMMAND', 'a command must not contain CR or LF');
}

export class EslClient extends EventEmitter<EslClientEvents> {
  private socket: net.Socket | null = null;
  private readonly parser = new FrameParser('replies');
  private readonly replies: PendingReply[] = [];
  private readonly jobs = new Map<string, PendingJob>();
  private closed = false;
  lastDataAt = 0;
  private readonly clock: Clock;

  constructor(private readonly opts: EslClientOptions) {
    super();
    this.clock = opts.clock ?? realClock;
  }

  get connected(): boolean {
    return this.socket !== null && !this.closed;
  }

  /** Connect and authenticate. Rejects with ESL_ERR_AUTH on a wrong password. */
  async connect(): Promise<void> {
    const timeoutMs = this.opts.timeoutMs ?? 5000;
    const socket = net.connect({ host: this.opts.host, port: this.opts.port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    this.socket = socket;
    // the greeting arrives unrequested: register a waiter for it before any data can come
    const greeting = this.waitReply(timeoutMs);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', (err) => this.shutdown(err));
    socket.on('close', () => this.shutdown(null));
    const banner = await greeting;
    if (frameHeader(banner, 'Content-Type') !== 'auth/request') {
      this.shutdown(new EslError('ESL_ERR_AUTH', 'no auth/request greeting'));
      throw new EslError('ESL_ERR_AUTH', 'the peer did not greet with auth/request');
    }
    const reply = await this.send(`auth ${this.opts.password}`);
    const text = frameHeader(reply, 'Reply-Text') ?? '';
    if (!text.startsWith('+OK')) {
      const err = new EslError('ESL_ERR_AUTH', `event socket refused the password (${text || 'no reply'})`);
      this.shutdown(err);
      throw err;
    }
  }

  /** Send one command block and wait for its reply frame (command/reply or api/response). */
  send(command: string, headers: ReadonlyArray<readonly [string, string]> = []): Promise<Frame> {
    assertSafeCommand(command);
    for (const [k, v] of headers) assertSafeCommand(`${k}: ${v}`);
    const socket = this.socket;
    if (!socket || this.closed)
      return Promise.reject(new EslError('ESL_ERR_NOT_CONNECTED', 'event socket is not connected'));
    const wait = this.waitReply(this.opts.timeoutMs ?? 5000);
    let block = command + '\n';
    for (const [k, v] of headers) block += `${k}: ${v}\n`;
    socket.write(block + '\n');
    return wait;
  }

  /** `api <cmd>`: resolves with the body; FreeSWITCH reports failures in the body (`-ERR`, `-USAGE`). */
  async api(command: string): Promise<string> {
    const reply = await this.send(`api ${command}`);
    return reply.body ? reply.body.toString('utf8') : '';
  }

  /**
   * `bgapi <cmd>` with our own Job-UUID (design.md convention 3). Resolves with the
   * BACKGROUND_JOB result, or `lost` (ESL_ERR_JOB_TIMEOUT) at the job deadline.
   */
  async bgapi(command: string, jobUuid: string = randomUUID()): Promise<BackgroundJob> {
    const jobTimeout = this.opts.jobTimeoutMs ?? 120_000;
    const result = new Promise<BackgroundJob>((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.jobs.delete(jobUuid);
        const lost = new EslJobLost('ESL_ERR_JOB_TIMEOUT', jobUuid, `no result within ${jobTimeout} ms`);
        resolve({ jobUuid, ok: false, lost });
      }, jobTimeout);
      this.jobs.set(jobUuid, { resolve, timer });
    });
    let reply: Frame;
    try {
      reply = await this.send(`bgapi ${command}`, [['Job-UUID', jobUuid]]);
    } catch (err) {
      const lost = new EslJobLost('ESL_ERR_CONNECTION_LOST', jobUuid, 'not sent', { cause: err });
      this.settleJob(jobUuid, { jobUuid, ok: false, lost });
      throw err;
    }
    const text = frameHeader(reply, 'Reply-Text') ?? '';
    if (!text.startsWith('+OK')) {
      this.settleJob(jobUuid, { jobUuid, ok: false, body: text });
      throw new EslError('ESL_ERR_COMMAND', `bgapi refused: ${text}`);
    }
    return result;
  }

  /** Subscribe in json (values stay arrays; no percent-decoding of event values is needed). */
  async subscribe(names: readonly string[]): Promise<void> {
    const reply = await this.send(`event json ${names.join(' ')}`);
    const text = frameHeader(reply, 'Reply-Text') ?? '';
    if (!text.startsWith('+OK')) throw new EslError('ESL_ERR_COMMAND', `subscription refused: ${text}`);
  }

  close(): void {
    if (this.socket && !this.closed) {
      this.socket.end('exit\n\n');
      this.socket.destroy();
    }
    this.shutdown(null);
  }

  private waitReply(timeoutMs: number): Promise<Frame> {
    return new Promise<Frame>((resolve, reject) => {
      const entry: PendingReply = {
        resolve,
        reject,
        timer: this.clock.setTimeout(() => {
          const i = this.replies.indexOf(entry);
          if (i >= 0) this.replies.splice(i, 1);
          const err = new EslError('ESL_ERR_TIMEOUT', `no reply within ${timeoutMs} ms`);
          reject(err);
          // replies are matched in order: a lost one desynchronises the connection
          this.shutdown(err);
        }, timeoutMs),
      };
      this.replies.push(entry);
    });
  }

  private onData(chunk: Buffer): void {
    this.lastDataAt = this.clock.now();
    let frames: Frame[];
    try {
      frames = this.parser.push(chunk);
    } catch (err) {
      // the byte stream is unreadable from here on: drop the connection, the owner reconnects
      this.emit('bad', err as Error, null);
      this.shutdown(err as Error);
      return;
    }
    for (const frame of frames) this.onFrame(frame);
  }

  private onFrame(frame: Frame): void {
    const type = frameHeader(frame, 'Content-Type');
    switch (type) {
      case 'auth/request':
      case 'command/reply':
      case 'api/response': {
        const waiter = this.replies.shift();
        if (waiter) {
          this.clock.clearTimeout(waiter.timer);
          waiter.resolve(frame);
        }
        return;
      }
      case 'text/event-json':
      case 'text/event-plain': {
        if (!frame.body) return;
        let event: EslEvent;
        try {
          event = type === 'text/event-json' ? decodeJsonEvent(frame.body) : decodePlainEvent(frame.body);
        } catch (err) {
          this.emit('bad', err as Error, frame);
          return;
        }
        if (event.name === 'BACKGROUND_JOB') {
          const jobUuid = event.get('Job-UUID');
          const body = event.body ?? '';
          if (jobUuid) this.settleJob(jobUuid, { jobUuid, ok: body.startsWith('+OK'), body: body.trimEnd() });
        }
        this.emit('event', event);
        return;
      }
      case 'text/disconnect-notice':
      case 'text/rude-rejection':
        this.shutdown(new EslError('ESL_ERR_CLOSED', (frame.body?.toString('utf8') ?? type).trim()));
        return;
      default:
        return; // log/data and others: not subscribed
    }
  }

  private settleJob(jobUuid: string, job: BackgroundJob): void {
    const pending = this.jobs.get(jobUuid);
    if (!pending) return;
    this.jobs.delete(jobUuid);
    this.clock.clearTimeout(pending.timer);
    pending.resolve(job);
  }

  private shutdown(err: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    this.socket?.destroy();
    const reason = err ?? new EslError('ESL_ERR_CLOSED', 'event socket closed');
    for (const r of this.replies.splice(0)) {
      this.clock.clearTimeout(r.timer);
      r.reject(reason);
    }
    // jobs keep running on FreeSWITCH; their events arrive (if at all) on the next connection
    for (const [id, job] of this.jobs) {
      this.clock.clearTimeout(job.timer);
      const lost = new EslJobLost('ESL_ERR_CONNECTION_LOST', id, 'the connection closed first', { cause: reason });
      job.resolve({ jobUuid: id, ok: false, lost });
    }
    this.jobs.clear();
    this.emit('close', err);
  }
}
