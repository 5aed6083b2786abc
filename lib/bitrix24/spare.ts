/**
 * A connection opened ahead of a request. After the office was quiet longer than the pool
 * keeps an idle connection (30 s, or what the portal's `Keep-Alive: timeout` allows), the
 * next register would first open one: TCP and a TLS handshake, 50-200 ms on the card of a
 * real portal. So when a call starts and the pool holds none, one is opened at once, while
 * the switch still routes the call; the pool's next new connection takes it instead of
 * dialling. It never sends a byte itself; unused, it is closed after `idleMs`.
 */
import { buildConnector } from 'undici';
import type { Socket } from 'node:net';

type Options = buildConnector.Options;
type Callback = buildConnector.Callback;

interface Spare {
  key: string;
  socket: Socket;
  /** Resolves with the socket once connected, or null if it could not connect. */
  ready: Promise<Socket | null>;
  /** Resolves once it is dropped: closed, failed, or handed to the pool. */
  dropped: Promise<void>;
  /** Its own listener (undici's stay: they settle a connect that fails after the hand-over). */
  lost: () => void;
  timer: NodeJS.Timeout;
  drop: (destroy: boolean) => void;
}

/** protocol, host and port: the same origin whether it came from a URL or from undici. */
function keyOf(protocol: string, hostname: string, port: string): string {
  return `${protocol}//${hostname}:${port || (protocol === 'https:' ? '443' : '80')}`;
}

export class SpareConnection {
  /** undici's own connector, as a Pool builds it by default. */
  private readonly dial = buildConnector({});
  private spare: Spare | null = null;
  /** Connections opened ahead, and how many of them a request went out on. */
  readonly counts = { opened: 0, used: 0 };

  constructor(private readonly idleMs: number) {}

  /** The Pool's connector: the spare when it goes to the same origin and is still open, else a new connection. */
  readonly connect = (opts: Options, callback: Callback): void => {
    const s = this.spare;
    if (!s || s.key !== keyOf(opts.protocol, opts.hostname, opts.port)) {
      this.dial(opts, callback);
      return;
    }
    s.drop(false);
    void s.ready.then((socket) => {
      if (socket && !socket.destroyed) {
        this.counts.used++;
        callback(null, socket);
      } else this.dial(opts, callback);
    });
  };

  /** Open a connection to `origin` now, unless one is open or opening already. */
  open(origin: string): void {
    if (this.spare) return;
    const u = new URL(origin);
    // undici dials a bracketed IPv6 literal without its brackets
    const hostname = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    let connected!: (s: Socket | null) => void;
    let dropped!: () => void;
    const ready = new Promise<Socket | null>((r) => (connected = r));
    // undici's connector returns the socket it dials (its typings say nothing)
    const socket = this.dial({ hostname, host: u.host, protocol: u.protocol, port: u.port }, (err, s) =>
      connected(err ? null : s),
    ) as unknown as Socket;
    const spare: Spare = {
      key: keyOf(u.protocol, hostname, u.port),
      socket,
      ready,
      dropped: new Promise<void>((r) => (dropped = r)),
      lost: () => spare.drop(true),
      timer: setTimeout(() => spare.drop(true), this.idleMs).unref(),
      drop: (destroy) => {
        if (this.spare === spare) this.spare = null;
        clearTimeout(spare.timer);
        socket.off('error', spare.lost).off('close', spare.lost);
        if (destroy) socket.destroy();
        dropped();
      },
    };
    // closed by the portal, refused, timed out: forgotten (the next request dials as it would have)
    socket.on('error', spare.lost).on('close', spare.lost);
    this.spare = spare;
    this.counts.opened++;
  }

  /** Resolves once the connection opened ahead (if any) is closed or taken by a request. */
  gone(): Promise<void> {
    return this.spare?.dropped ?? Promise.resolve();
  }

  /** Close the spare, if any (the client closes). */
  close(): void {
    this.spare?.drop(true);
  }
}
