/**
 * The event socket in inbound mode, as mod_event_socket answers it (freeswitch-esl.md
 * §1.2-§1.4 and the replies in fixtures/esl): greeting, auth, additive `event`
 * subscriptions in plain or json, filters, api/bgapi, exit, disconnect notices, plus
 * fault injection for tests.
 */
import net from 'node:net';
import { encodeFrame } from '../../esl/frame.js';
import { SimSwitch, type SimSwitchOptions } from './switch.js';
import { Journal } from '../journal.js';
import { Connection, type ReceivedCommand } from './connection.js';

export type { ReceivedCommand } from './connection.js';

export interface FreeswitchSimOptions extends SimSwitchOptions {
  port?: number;
  host?: string;
  password?: string;
  /** HEARTBEAT interval (event-heartbeat-interval, 20 s in FreeSWITCH); 0 = none. */
  heartbeatMs?: number;
}

/** Outer frames put Content-Length first for events, Content-Type first for replies. */
export class FreeswitchSim {
  readonly sw: SimSwitch;
  readonly password: string;
  readonly commands = new Journal<ReceivedCommand>();
  readonly originates = new Journal<string>();
  readonly connections = new Set<Connection>();
  private server: net.Server | null = null;
  private stallRelease: (() => void) | null = null;
  /** New connections are reset at once (`refuse(true)`): FreeSWITCH restarting, a firewall, mod_event_socket down. */
  private refusing = false;
  stalled: Promise<void> = Promise.resolve();
  port = 0;
  host = '127.0.0.1';

  constructor(private readonly opts: FreeswitchSimOptions = {}) {
    this.sw = new SimSwitch(opts);
    this.password = opts.password ?? 'ClueCon';
  }

  private heartbeat: NodeJS.Timeout | null = null;

  async listen(port = this.opts.port ?? 0, host = this.opts.host ?? '127.0.0.1'): Promise<void> {
    const every = this.opts.heartbeatMs ?? 20_000;
    if (every > 0) {
      this.heartbeat = setInterval(
        () =>
          this.sw.emitSystem(
            'HEARTBEAT',
            ['switch_core.c', 'send_heartbeat', '81'],
            [
              ['Event-Info', 'System Ready'],
              ['Up-Time', `0 years, 0 days, 0 hours, 0 minutes, ${Math.floor(this.sw.uptimeUs / 1e6)} seconds`],
              ['FreeSWITCH-Version', '1.11.1-release~64bit'],
              ['Session-Count', String(this.sw.legs.size)],
              ['Max-Sessions', '200'],
            ],
          ),
        every,
      );
      this.heartbeat.unref();
    }
    this.host = host;
    const server = net.createServer((socket) => {
      if (this.refusing) socket.resetAndDestroy();
      else this.connections.add(new Connection(socket, this));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : port;
  }

  /** Await the next command a client sent whose line starts with `prefix`. */
  nextCommand(prefix = '', timeoutMs = 5000): Promise<ReceivedCommand> {
    return this.commands.next((c) => c.line.startsWith(prefix), timeoutMs);
  }

  // ---- faults ---------------------------------------------------------------------------

  /** Close every client connection abruptly (TCP RST, no notice). */
  dropConnections(): void {
    for (const c of this.connections) c.socket.resetAndDestroy();
    this.connections.clear();
  }

  /** While on, every new connection is reset before the greeting (existing ones stay: `dropConnections`). */
  refuse(on: boolean): void {
    this.refusing = on;
  }

  /** Hold every reply until `resume()`. */
  stall(): void {
    if (this.stallRelease) return;
    this.stalled = new Promise((r) => (this.stallRelease = r));
  }

  resume(): void {
    this.stallRelease?.();
    this.stallRelease = null;
    this.stalled = Promise.resolve();
  }

  /** Send bytes that are not a valid frame (a Content-Length that is not a number). */
  sendMalformed(): void {
    for (const c of this.connections) c.write(Buffer.from('Content-Length: banana\nContent-Type: text/event-json\n\n'));
  }

  /** Send a syntactically valid frame whose event body does not parse. */
  sendGarbageEvent(): void {
    for (const c of this.connections)
      c.write(encodeFrame([['Content-Type', 'text/event-json']], '{"Event-Name": "CHANNEL_CREATE", broken'));
  }

  /** A switch restart: connections get the shutdown notice; live calls are gone. */
  restart(): void {
    for (const c of [...this.connections]) c.goodbye('The system is being shut down.\n');
    this.sw.legs.clear();
  }

  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.resume();
    for (const c of this.connections) c.socket.destroy();
    this.connections.clear();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/** `start({ port: 0 }) -> { port, close() }` (design.md convention 5). */
export async function startFreeswitchSim(opts: FreeswitchSimOptions = {}): Promise<FreeswitchSim> {
  const sim = new FreeswitchSim(opts);
  await sim.listen();
  return sim;
}
