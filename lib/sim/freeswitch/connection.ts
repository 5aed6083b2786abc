/** One event-socket connection of the simulator: auth, subscriptions, filters, api/bgapi, exit, disconnect notices. */
import type net from 'node:net';
import { randomUUID } from 'node:crypto';
import { FrameParser, encodeFrame, type Frame } from '../../esl/frame.js';
import { encodeJsonEvent, encodePlainEvent, type HeaderValue } from '../../esl/codec.js';
import type { SimEvent, SimSwitch } from './switch.js';
import { runApi } from './api.js';
import type { Journal } from '../journal.js';

const GOODBYE = 'Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n';
const KNOWN_EVENTS = new Set([
  'CUSTOM',
  'CLONE',
  'CHANNEL_CREATE',
  'CHANNEL_DESTROY',
  'CHANNEL_STATE',
  'CHANNEL_CALLSTATE',
  'CHANNEL_ANSWER',
  'CHANNEL_HANGUP',
  'CHANNEL_HANGUP_COMPLETE',
  'CHANNEL_EXECUTE',
  'CHANNEL_EXECUTE_COMPLETE',
  'CHANNEL_HOLD',
  'CHANNEL_UNHOLD',
  'CHANNEL_BRIDGE',
  'CHANNEL_UNBRIDGE',
  'CHANNEL_PROGRESS',
  'CHANNEL_PROGRESS_MEDIA',
  'CHANNEL_OUTGOING',
  'CHANNEL_PARK',
  'CHANNEL_UNPARK',
  'CHANNEL_APPLICATION',
  'CHANNEL_ORIGINATE',
  'CHANNEL_UUID',
  'API',
  'LOG',
  'INBOUND_CHAN',
  'OUTBOUND_CHAN',
  'STARTUP',
  'SHUTDOWN',
  'PUBLISH',
  'UNPUBLISH',
  'TALK',
  'NOTALK',
  'SESSION_CRASH',
  'MODULE_LOAD',
  'MODULE_UNLOAD',
  'DTMF',
  'MESSAGE',
  'PRESENCE_IN',
  'NOTIFY_IN',
  'PRESENCE_OUT',
  'PRESENCE_PROBE',
  'MESSAGE_WAITING',
  'MESSAGE_QUERY',
  'ROSTER',
  'CODEC',
  'BACKGROUND_JOB',
  'DETECTED_SPEECH',
  'DETECTED_TONE',
  'PRIVATE_COMMAND',
  'HEARTBEAT',
  'TRAP',
  'ADD_SCHEDULE',
  'DEL_SCHEDULE',
  'EXE_SCHEDULE',
  'RE_SCHEDULE',
  'RELOADXML',
  'NOTIFY',
  'PHONE_FEATURE',
  'PHONE_FEATURE_SUBSCRIBE',
  'SEND_MESSAGE',
  'RECV_MESSAGE',
  'REQUEST_PARAMS',
  'CHANNEL_DATA',
  'GENERAL',
  'COMMAND',
  'SESSION_HEARTBEAT',
  'CLIENT_DISCONNECTED',
  'SERVER_DISCONNECTED',
  'SEND_INFO',
  'RECV_INFO',
  'RECV_RTCP_MESSAGE',
  'CALL_SECURE',
  'NAT',
  'RECORD_START',
  'RECORD_STOP',
  'PLAYBACK_START',
  'PLAYBACK_STOP',
  'CALL_UPDATE',
  'FAILURE',
  'SOCKET_DATA',
  'MEDIA_BUG_START',
  'MEDIA_BUG_STOP',
  'CONFERENCE_DATA_QUERY',
  'CONFERENCE_DATA',
  'CALL_SETUP_REQ',
  'CALL_SETUP_RESULT',
  'CALL_DETAIL',
  'DEVICE_STATE',
  'TEXT',
  'SHUTDOWN_REQUESTED',
  'ALL',
]);

export interface ReceivedCommand {
  /** The command line as the client sent it, e.g. `bgapi originate {...}user/1001 ...`. */
  line: string;
  headers: Array<[string, string]>;
  at: number;
}

/** What a connection needs of the simulator (an interface, so no import cycle with server.ts). */
export interface ConnectionHost {
  readonly sw: SimSwitch;
  readonly password: string;
  readonly commands: Journal<ReceivedCommand>;
  readonly originates: Journal<string>;
  readonly connections: Set<Connection>;
  readonly stalled: Promise<void>;
}

interface Filter {
  header: string;
  value: string;
}

export class Connection {
  authed = false;
  format: 'plain' | 'json' | null = null;
  readonly events = new Set<string>();
  readonly subclasses = new Set<string>();
  readonly filters: Filter[] = [];
  private readonly parser = new FrameParser('commands');
  private unsubscribe: (() => void) | null = null;
  /** Replies are written in command order even when an api command takes (virtual) time. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly socket: net.Socket,
    private readonly sim: ConnectionHost,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
    this.write(encodeFrame([['Content-Type', 'auth/request']]));
  }

  write(buf: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(buf);
  }

  private onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.parser.push(chunk);
    } catch {
      this.socket.destroy();
      return;
    }
    for (const f of frames) {
      const line = f.command ?? '';
      this.chain = this.chain.then(() => this.sim.stalled).then(() => this.handle(line, f));
    }
  }

  private reply(text: string, extra: Array<[string, string]> = []): void {
    this.write(encodeFrame([['Content-Type', 'command/reply'], ['Reply-Text', text], ...extra]));
  }

  private async handle(line: string, frame: Frame): Promise<void> {
    const headers = frame.headers.map(([k, v]) => [k, v] as [string, string]);
    this.sim.commands.push({ line, headers, at: Date.now() });
    const sp = line.indexOf(' ');
    const cmd = (sp < 0 ? line : line.slice(0, sp)).toLowerCase();
    const rest = sp < 0 ? '' : line.slice(sp + 1);
    if (!this.authed) {
      if (cmd === 'auth') {
        if (rest === this.sim.password) {
          this.authed = true;
          this.reply('+OK accepted');
        } else {
          this.reply('-ERR invalid');
          this.goodbye();
        }
        return;
      }
      if (cmd === 'exit') return this.exit();
      this.reply('-ERR command not found');
      return;
    }
    switch (cmd) {
      case 'event':
        return this.subscribe(rest);
      case 'nixevent': {
        const names = rest.split(/\s+/).filter(Boolean);
        if (names.length === 0) return this.reply('-ERR no keywords supplied');
        for (const n of names) {
          if (n.toUpperCase() === 'ALL') this.events.clear();
          this.events.delete(n.toUpperCase());
        }
        return this.reply('+OK events nixed');
      }
      case 'noevents':
        if (this.events.size === 0) return this.reply('-ERR not listening for events');
        this.events.clear();
        this.subclasses.clear();
        return this.reply('+OK no longer listening for events');
      case 'filter':
        return this.filter(rest);
      case 'api': {
        const body = await runApi({ sw: this.sim.sw, onOriginate: (a) => this.sim.originates.push(a) }, rest);
        this.write(encodeFrame([['Content-Type', 'api/response']], body));
        return;
      }
      case 'bgapi': {
        const jobUuid = headers.find(([k]) => k === 'Job-UUID')?.[1] ?? randomUUID();
        this.reply(`+OK Job-UUID: ${jobUuid}`, [['Job-UUID', jobUuid]]);
        const sp2 = rest.indexOf(' ');
        const jobCmd = sp2 < 0 ? rest : rest.slice(0, sp2);
        const jobArg = sp2 < 0 ? '' : rest.slice(sp2 + 1);
        void runApi({ sw: this.sim.sw, onOriginate: (a) => this.sim.originates.push(a) }, rest).then((body) => {
          const h: Array<[string, string]> = [
            ['Job-UUID', jobUuid],
            ['Job-Command', jobCmd],
          ];
          if (jobArg) h.push(['Job-Command-Arg', jobArg]);
          this.sim.sw.emitSystem('BACKGROUND_JOB', ['mod_event_socket.c', 'api_exec', '1569'], h, body);
        });
        return;
      }
      case 'exit':
      case '...':
        return this.exit();
      case 'log':
        return this.reply(`+OK log level ${rest} [7]`);
      case 'nolog':
        return this.reply('+OK no longer logging');
      case 'linger':
      case 'nolinger':
        return this.reply('-ERR not controlling a session');
      case 'myevents':
        return this.reply('-ERR invalid uuid');
      default:
        return this.reply('-ERR command not found');
    }
  }

  private subscribe(rest: string): void {
    const words = rest.split(/\s+/).filter(Boolean);
    let format: 'plain' | 'json' = 'plain';
    if (words[0] && ['plain', 'json', 'xml'].includes(words[0].toLowerCase())) {
      format = words.shift()!.toLowerCase() === 'json' ? 'json' : 'plain';
    }
    let added = 0;
    let custom = false;
    for (const w of words) {
      const up = w.toUpperCase();
      if (custom) {
        this.subclasses.add(w);
        added++;
        continue;
      }
      if (up === 'CUSTOM') {
        custom = true;
        continue;
      }
      if (KNOWN_EVENTS.has(up)) {
        this.events.add(up);
        added++;
      }
    }
    if (added === 0 && !custom) return this.reply('-ERR no keywords supplied');
    this.format = format;
    if (!this.unsubscribe) this.unsubscribe = this.sim.sw.subscribe((e) => this.deliver(e));
    this.reply(`+OK event listener enabled ${format}`);
  }

  private filter(rest: string): void {
    const parts = rest.split(/\s+/);
    if (parts[0] === 'delete') {
      const [, header, value] = parts;
      if (header === 'all') this.filters.length = 0;
      for (let i = this.filters.length - 1; i >= 0; i--) {
        const f = this.filters[i]!;
        if (f.header === header && (value === undefined || f.value === value)) this.filters.splice(i, 1);
      }
      return this.reply(`+OK filter deleted. [${header ?? ''}][${value ?? ''}]`);
    }
    const [header, ...v] = parts;
    const value = v.join(' ');
    if (!header || !value) return this.reply('-ERR invalid syntax');
    this.filters.push({ header, value });
    this.reply(`+OK filter added. [${header}]=[${value}]`);
  }

  private wants(e: SimEvent): boolean {
    const name = String(e.headers[0]?.[1] ?? '');
    if (name === 'CUSTOM') {
      const sub = e.headers.find(([k]) => k === 'Event-Subclass')?.[1];
      if (!(typeof sub === 'string' && (this.subclasses.has(sub) || this.events.has('ALL')))) return false;
    } else if (!this.events.has(name) && !this.events.has('ALL')) return false;
    if (this.filters.length === 0) return true;
    const get = (h: string): HeaderValue | undefined => e.headers.find(([k]) => k === h)?.[1];
    let include = false;
    for (const f of this.filters) {
      const exclude = f.value.startsWith('-');
      const want = exclude ? f.value.slice(1) : f.value;
      const have = get(f.header);
      const hit =
        typeof have === 'string' &&
        (want.startsWith('/')
          ? new RegExp(want.slice(1).replace(/\/$/, '')).test(have)
          : have.toLowerCase() === want.toLowerCase());
      if (hit && exclude) return false;
      if (hit && !exclude) include = true;
    }
    return include || this.filters.every((f) => f.value.startsWith('-'));
  }

  private deliver(e: SimEvent): void {
    if (!this.format || !this.wants(e)) return;
    const body = this.format === 'json' ? encodeJsonEvent(e.headers, e.body) : encodePlainEvent(e.headers, e.body);
    this.write(encodeFrame([['Content-Type', this.format === 'json' ? 'text/event-json' : 'text/event-plain']], body));
  }

  private exit(): void {
    this.reply('+OK bye');
    this.goodbye();
  }

  goodbye(text = GOODBYE): void {
    this.write(encodeFrame([['Content-Type', 'text/disconnect-notice']], text));
    this.socket.end();
    this.close();
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.sim.connections.delete(this);
  }
}
