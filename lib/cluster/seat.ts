/**
 * A seat: one role (a switch's event socket, a portal's delivery) run by whichever instance
 * holds its lease. The loop: wait for the lease (a PostgreSQL advisory lock blocks on its own
 * connection: no polling), take the role, hold it until the lease is lost, the role goes deaf
 * (the switch's socket down for longer than `deafAfterMs`) or the seat stops; leave the role,
 * release the lease, and after deafness wait a little before asking again, so another
 * instance (one that can still hear the switch) gets it first.
 */
import type { Clock, Timer } from '../clock.js';
import type { Logger } from '../log.js';

/** A lease this instance holds. */
export interface Lease {
  /** Resolves when the lease is gone without a release (its connection dropped). */
  readonly lost: Promise<void>;
  /** Give it back (idempotent). */
  release(): Promise<void>;
}

export interface Leases {
  /** Resolves once this instance holds `name` (waits for as long as another holds it); rejects on `signal`. */
  acquire(name: string, signal: AbortSignal): Promise<Lease>;
  /** The lease now if it is free, else null at once (no wait). */
  tryAcquire?(name: string): Promise<Lease | null>;
}

/** What a seat runs while it holds the lease. */
export interface Role {
  /** Start the work; call `deaf` when it can no longer be done from here. */
  take(deaf: (why: string) => void): Promise<void> | void;
  /** Stop the work (after a lost lease too: another instance may be doing it already). */
  leave(): Promise<void> | void;
}

export interface SeatOptions {
  name: string;
  leases: Leases;
  role: Role;
  clock: Clock;
  log: Logger;
  /** After the role went deaf, wait this long before asking for the lease again (default 2 s). */
  backOffMs?: number;
  /** After the lease could not be asked for (the database is down), wait this long (default 1 s). */
  retryMs?: number;
  /** Told on every take (true) and leave (false). */
  onChange?: (holding: boolean) => void;
}

type Why = 'lost' | 'deaf' | 'stop';

export class Seat {
  readonly name: string;
  private holdingSince: number | null = null;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private stopNow: (() => void) | null = null;
  private readonly stopped: Promise<void>;
  /** Times the role was taken, and left for each reason (tests, /healthz). */
  readonly counts = { takes: 0, lost: 0, deaf: 0, errors: 0 };
  private readonly watchers = new Set<() => void>();

  constructor(private readonly o: SeatOptions) {
    this.name = o.name;
    this.stopped = new Promise((r) => (this.stopNow = r));
  }

  get holding(): boolean {
    return this.holdingSince !== null;
  }

  /** Since when this instance holds the seat (ms), or null. */
  get since(): number | null {
    return this.holdingSince;
  }

  /**
   * Start the loop. Resolves once the role is taken when the lease is free now (a lone instance
   * starts as it always did: its switch and portal running when `start` returns), else at once.
   */
  async start(): Promise<void> {
    if (this.loop) return;
    let first: Lease | null = null;
    try {
      first = (await this.o.leases.tryAcquire?.(this.name)) ?? null;
    } catch (err) {
      this.o.log.warn({ err, lease: this.name }, 'lease could not be asked for; trying again');
    }
    if (!first) {
      this.loop = this.run();
      return;
    }
    const held = first;
    let taken!: () => void;
    const ready = new Promise<void>((r) => (taken = r));
    this.loop = this.run(held, taken);
    await ready;
  }

  /** Leave the role and release the lease; a wait for the lease is given up. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopNow?.();
    this.abort.abort();
    await this.loop;
  }

  /** Resolves once `holding` is `want` (tests and the composition wait on it, no sleeps). */
  until(want: boolean): Promise<void> {
    if (this.holding === want) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.holding !== want) return;
        this.watchers.delete(check);
        resolve();
      };
      this.watchers.add(check);
    });
  }

  private changed(holding: boolean): void {
    this.holdingSince = holding ? this.o.clock.now() : null;
    this.o.onChange?.(holding);
    for (const w of [...this.watchers]) w();
  }

  private async run(first?: Lease, taken?: () => void): Promise<void> {
    const { log } = this.o;
    let given = first;
    while (!this.stopping) {
      let lease: Lease;
      try {
        lease = given ?? (await this.o.leases.acquire(this.name, this.abort.signal));
        given = undefined;
      } catch (err) {
        if (this.stopping) return;
        this.counts.errors++;
        log.warn({ err, lease: this.name }, 'lease could not be asked for; trying again');
        await this.pause(this.o.retryMs ?? 1000);
        continue;
      }
      if (this.stopping) {
        await lease.release().catch(() => undefined);
        return;
      }
      const why = await this.hold(lease, taken);
      taken = undefined;
      if (why === 'deaf') await this.pause(this.o.backOffMs ?? 2000);
    }
  }

  /** Take the role, hold it until something ends the tenure, leave it, release the lease. */
  private async hold(lease: Lease, taken?: () => void): Promise<Why> {
    const { log, role } = this.o;
    let deafNow: ((why: string) => void) | null = null;
    const deaf = new Promise<string>((r) => (deafNow = r));
    let why: Why;
    try {
      this.counts.takes++;
      this.changed(true);
      log.info({ lease: this.name }, 'lease taken');
      await role.take((reason) => deafNow?.(reason));
      taken?.();
      why = await Promise.race([
        lease.lost.then(() => 'lost' as const),
        deaf.then((reason) => {
          log.warn({ lease: this.name, reason }, 'role deaf; giving the lease up');
          return 'deaf' as const;
        }),
        this.stopped.then(() => 'stop' as const),
      ]);
    } catch (err) {
      this.counts.errors++;
      log.error({ err, lease: this.name }, 'role could not be taken; giving the lease up');
      why = 'deaf';
    }
    if (why === 'lost') {
      this.counts.lost++;
      log.warn({ lease: this.name }, 'lease lost (its database connection dropped); leaving the role');
    }
    if (why === 'deaf') this.counts.deaf++;
    try {
      await role.leave();
    } catch (err) {
      log.error({ err, lease: this.name }, 'role did not leave cleanly');
    }
    await lease.release().catch((err: unknown) => log.warn({ err, lease: this.name }, 'lease release failed'));
    this.changed(false);
    log.info({ lease: this.name, why }, 'lease left');
    return why;
  }

  /** Wait `ms` on the clock, or until the seat stops. */
  private async pause(ms: number): Promise<void> {
    let timer: Timer | null = null;
    await Promise.race([new Promise<void>((r) => (timer = this.o.clock.setTimeout(r, ms))), this.stopped]);
    this.o.clock.clearTimeout(timer);
  }
}

/** Run `fn` while holding `name` (a lock across instances: waits for the holder to release it). */
export async function withLease<T>(leases: Leases, name: string, fn: () => Promise<T>): Promise<T> {
  const lease = await leases.acquire(name, new AbortController().signal);
  try {
    return await fn();
  } finally {
    await lease.release();
  }
}

/**
 * Deafness of a role: `down()` starts a countdown that `up()` cancels; when it runs out,
 * `deaf` is called once per countdown (the switch's socket down for longer than `afterMs`).
 */
export class DeafTimer {
  private timer: Timer | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly afterMs: number,
    private readonly deaf: (why: string) => void,
  ) {}

  down(why: string): void {
    if (this.timer) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.deaf(`${why} for more than ${this.afterMs} ms`);
    }, this.afterMs);
  }

  up(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
