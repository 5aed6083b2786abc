/**
 * Keeps one event-socket connection alive (freeswitch-esl.md §8): connect, auth,
 * subscribe, resync from `show channels as json` before trusting new events, reconnect
 * with capped exponential back-off (first retry within 1 s), a HEARTBEAT watchdog for
 * half-open sockets. Frames that do not parse are counted and logged, never fatal.
 */
import { EventEmitter } from 'node:events';
import { EslClient, type BackgroundJob } from './client.js';
import type { EslEvent } from './codec.js';
import { EslError } from './errors.js';
import { realClock, type Clock, type Timer } from '../clock.js';
import type { Logger } from '../log.js';

export interface ListenerOptions {
  host: string;
  port: number;
  password: string;
  events: readonly string[];
  log: Logger;
  /** Back-off: first delay, cap. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** No data for this long → the connection is dead (HEARTBEAT fires every 20 s). */
  silenceMs?: number;
  /** Stamps, the watchdog and the back-off (tests move a ManualClock). */
  clock?: Clock;
  /** Where the password is configured, named when the switch refuses it (default FSB24_ESL_PASSWORD). */
  passwordSource?: string;
}

export interface ChannelRow {
  uuid: string;
  direction: string;
  name: string;
  cid_num: string;
  dest: string;
  callstate: string;
  call_uuid: string;
  created_epoch: string;
  presence_id: string;
}

export interface CallRow {
  uuid: string;
  b_uuid: string;
  call_created_epoch: string;
}

export interface Snapshot {
  channels: ChannelRow[];
  calls: CallRow[];
}

export interface ListenerEvents {
  event: [EslEvent];
  /** Connected, subscribed, and the live channels and bridges as FreeSWITCH sees them now. */
  ready: [Snapshot];
  down: [Error | null];
  /** A connection attempt failed (refused, wrong password, no reply); a retry is scheduled. */
  failed: [Error];
  bad: [Error];
}

export class EslListener extends EventEmitter<ListenerEvents> {
  private client: EslClient | null = null;
  private stopped = false;
  private attempt = 0;
  private retryTimer: Timer | null = null;
  private watchdog: Timer | null = null;
  private readonly clock: Clock;
  state: 'connecting' | 'up' | 'down' = 'down';
  lastEventAt = 0;
  reconnects = 0;
  badFrames = 0;
  /** Why the socket is not up (shown on /healthz); null while it is. */
  lastError: { at: number; message: string } | null = null;

  constructor(private readonly o: ListenerOptions) {
    super();
    this.clock = o.clock ?? realClock;
  }

  start(): void {
    this.stopped = false;
    this.attempt = 0; // a new start (a cluster's new tenure) retries quickly again
    void this.connect();
  }

  get connected(): boolean {
    return this.state === 'up';
  }

  async api(command: string): Promise<string> {
    if (!this.client || this.state !== 'up')
      throw new EslError('ESL_ERR_NOT_CONNECTED', 'event socket is not connected');
    return this.client.api(command);
  }

  async bgapi(command: string, jobUuid: string): Promise<BackgroundJob> {
    if (!this.client || this.state !== 'up')
      throw new EslError('ESL_ERR_NOT_CONNECTED', 'event socket is not connected');
    return this.client.bgapi(command, jobUuid);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.state = 'connecting';
    const { host, port, password } = this.o;
    const client = new EslClient({ host, port, password, timeoutMs: 5000, clock: this.clock });
    this.client = client;
    let subscribedOk = false;
    // events sent between the subscription and the snapshot are older than the snapshot: they
    // are handed over first, then the snapshot (a hang-up in that window keeps its billsec)
    let early: EslEvent[] | null = [];
    client.on('event', (e) => {
      this.lastEventAt = this.clock.now();
      if (subscribedOk) this.emit('event', e);
      else early?.push(e);
    });
    client.on('bad', (err, frame) => {
      this.badFrames++;
      this.o.log.warn(
        { err, contentType: frame?.headers.find(([k]) => k === 'Content-Type')?.[1] },
        'unparseable frame from the event socket',
      );
      this.emit('bad', err);
    });
    client.on('close', (err) => this.onClose(client, err));
    try {
      await client.connect();
      await client.subscribe(this.o.events);
      // resync before trusting new events: what is live right now
      const rows = parseRows<ChannelRow>(await client.api('show channels as json'));
      const calls = parseRows<CallRow>(await client.api('show calls as json'));
      subscribedOk = true;
      this.state = 'up';
      this.attempt = 0;
      this.lastError = null;
      this.lastEventAt = this.clock.now();
      this.armWatchdog(client);
      this.o.log.info({ host: this.o.host, port: this.o.port, liveChannels: rows.length }, 'event socket connected');
      const before = early;
      early = null;
      for (const e of before) this.emit('event', e);
      this.emit('ready', { channels: rows, calls });
    } catch (err) {
      const e = err as Error;
      const auth = e instanceof EslError && e.code === 'ESL_ERR_AUTH';
      const where = { host: this.o.host, port: this.o.port };
      const source = this.o.passwordSource ?? 'FSB24_ESL_PASSWORD';
      if (auth) this.o.log.error({ ...where, source }, 'event socket refused the password');
      else this.o.log.warn({ err: e, ...where }, 'event socket connect failed');
      const message = auth ? `${e.message}: check ${source} against event_socket.conf.xml` : e.message;
      this.lastError = { at: this.clock.now(), message: `${this.o.host}:${this.o.port}: ${message}` };
      early = null;
      client.close();
      this.emit('failed', e);
    }
  }

  /** A re-armed timer: every min(silence, 10 s) it looks at how long the socket has been quiet. */
  private armWatchdog(client: EslClient): void {
    const silence = this.o.silenceMs ?? 60_000;
    this.clock.clearTimeout(this.watchdog);
    this.watchdog = this.clock.setTimeout(
      () => {
        this.watchdog = null;
        if (client !== this.client || this.state !== 'up') return;
        if (this.clock.now() - client.lastDataAt > silence) {
          this.o.log.warn({ silenceMs: silence }, 'event socket silent; reconnecting');
          const message = `no data (not even HEARTBEAT) for ${Math.round(silence / 1000)} s`;
          this.lastError = { at: this.clock.now(), message };
          client.close();
          return;
        }
        this.armWatchdog(client);
      },
      Math.min(silence, 10_000),
    );
  }

  private onClose(client: EslClient, err: Error | null): void {
    if (client !== this.client) return;
    this.clock.clearTimeout(this.watchdog);
    this.watchdog = null;
    const wasUp = this.state === 'up';
    this.state = 'down';
    const why = err?.message ?? this.lastError?.message ?? 'the event socket closed the connection';
    this.lastError = { at: this.clock.now(), message: why };
    if (wasUp) {
      this.o.log.warn({ err }, 'event socket lost');
      this.emit('down', err);
    }
    if (this.stopped) return;
    const min = this.o.minDelayMs ?? 250;
    const max = this.o.maxDelayMs ?? 30_000;
    const delay = Math.min(max, min * 2 ** this.attempt++);
    this.reconnects++;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.retryTimer);
    this.clock.clearTimeout(this.watchdog);
    this.retryTimer = this.watchdog = null;
    this.client?.close();
    this.state = 'down';
  }
}

/** `show ... as json`: `{"row_count": 0}` has no rows key (§8). */
export function parseRows<T extends { uuid: string }>(body: string): T[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new EslError('ESL_ERR_COMMAND', `show channels: not JSON (${body.slice(0, 60)})`);
  }
  const rows = (parsed as { rows?: unknown }).rows;
  if (rows === undefined) return [];
  if (!Array.isArray(rows)) throw new EslError('ESL_ERR_COMMAND', 'show channels: rows is not a list');
  return rows.filter((r): r is T => !!r && typeof r === 'object' && typeof (r as T).uuid === 'string');
}
