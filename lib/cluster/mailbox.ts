/**
 * Work for the holder of a lease, from any instance, through the shared store: a message is
 * NOTIFYed on the lease's channel, and the holder, which LISTENs there while it holds the lease,
 * claims it in the store (an insert that succeeds once: exactly one instance does the work) and
 * answers on the asker's own channel. Nothing polls. A message sent while nobody holds the lease
 * is sent again when a new holder announces itself; one nobody claimed by its pickup deadline
 * is claimed back by the asker, so it can say "nobody could do it" knowing nobody will.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Clock, Timer } from '../clock.js';
import type { Logger } from '../log.js';

/** PostgreSQL LISTEN/NOTIFY (SQLite: in-process), as the store offers it. */
export interface Bus {
  notify(channel: string, payload: string): Promise<void>;
  /**
   * Resolves once listening; the function it resolves with stops it. `fn(null)`: notifications
   * may have been missed (the listening connection was lost and is back).
   */
  listen(channel: string, fn: (payload: string | null) => void): Promise<() => Promise<void>>;
}

/** An insert into the shared store that succeeds for one caller only. */
export interface Claims {
  claim(key: string, value: unknown): Promise<boolean>;
}

export interface MailboxOptions {
  instance: string;
  bus: Bus;
  claims: Claims;
  clock: Clock;
  log: Logger;
  /** A newcomer asked who holds what: announce every lease held. */
  onWho?: () => void;
}

/** Who answered an ask, or why nobody did. */
export type Answer<T> =
  { ok: true; value: T } | { ok: false; why: 'unclaimed' | 'lost' | 'failed'; message: string; holder: string | null };

export type Handler = (kind: string, body: unknown) => Promise<unknown>;

interface Envelope {
  id: string;
  from: string;
  kind: string;
  /** An ask (claimed, answered) or a tell (neither). */
  ask: boolean;
  body: unknown;
}

interface Pending {
  box: string;
  payload: string;
  done: (a: Answer<unknown>) => void;
  claimedBack: boolean;
}

/** The channel where holders say they took a lease. */
export const ANNOUNCE = 'fsb24:leases';
/** PostgreSQL's NOTIFY payload limit is 8000 bytes; the store takes 7000. */
const MAX_PAYLOAD = 7000;

export class Mailbox {
  readonly instance: string;
  /** The holder of each lease as last announced, and since when. */
  readonly holders = new Map<string, { holder: string; at: number }>();
  private readonly pending = new Map<string, Pending>();
  private readonly unlisten: Array<() => Promise<void>> = [];

  constructor(private readonly o: MailboxOptions) {
    this.instance = o.instance;
  }

  private get replies(): string {
    return channel(`reply:${this.instance}`);
  }

  async start(): Promise<void> {
    // a missed answer: its ask ends at its deadline (an announcement sends what waits again)
    this.unlisten.push(await this.o.bus.listen(this.replies, (p) => p !== null && this.onReply(p)));
    // missed announcements: ask again who holds what
    this.unlisten.push(
      await this.o.bus.listen(ANNOUNCE, (p) =>
        p === null ? void this.askWho().catch(() => undefined) : this.onAnnounce(p),
      ),
    );
  }

  async stop(): Promise<void> {
    for (const u of this.unlisten.splice(0)) await u().catch(() => undefined);
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.done({ ok: false, why: 'lost', message: 'this instance is stopping', holder: this.holderOf(p.box) });
    }
  }

  /** This instance now holds `lease` (after it listens on the lease's box: askers send again), or left it. */
  async announce(lease: string, holding = true): Promise<void> {
    this.noteHolder(lease, holding, this.instance);
    await this.o.bus.notify(ANNOUNCE, JSON.stringify({ lease, holding, from: this.instance }));
  }

  /** Ask every instance to announce what it holds (at start: who holds what already). */
  async askWho(): Promise<void> {
    await this.o.bus.notify(ANNOUNCE, JSON.stringify({ who: this.instance }));
  }

  /** A leave is heard only from the holder on record: a late one never erases its successor. */
  private noteHolder(lease: string, holding: boolean, from: string): void {
    if (holding) this.holders.set(lease, { holder: from, at: this.o.clock.now() });
    else if (this.holders.get(lease)?.holder === from) this.holders.delete(lease);
  }

  holderOf(lease: string): string | null {
    return this.holders.get(lease)?.holder ?? null;
  }

  /** While this instance holds `box`: do what is asked there. Resolves once listening; call the result to stop. */
  async serve(box: string, handler: Handler): Promise<() => Promise<void>> {
    return this.o.bus.listen(channel(box), (payload) => {
      // messages may have been missed: announce again, and askers send what waits once more
      if (payload === null) void this.announce(box, true).catch(() => undefined);
      else void this.onMessage(box, payload, handler);
    });
  }

  /** Fire and forget: the holder of `box`, if any, does it (no claim, no answer). */
  async tell(box: string, kind: string, body: unknown): Promise<void> {
    const payload = this.envelope(kind, body, false);
    await this.o.bus.notify(channel(box), payload.text);
  }

  /**
   * Ask the holder of `box` and wait for its answer: `unclaimed` when no holder took it within
   * `pickupMs` (and now none will), `lost` when one took it but did not answer within `resultMs`.
   */
  ask<T>(box: string, kind: string, body: unknown, pickupMs: number, resultMs: number): Promise<Answer<T>> {
    const { id, text } = this.envelope(kind, body, true);
    const clock = this.o.clock;
    return new Promise<Answer<T>>((resolve) => {
      let pickup: Timer | null = null;
      let result: Timer | null = null;
      const p: Pending = {
        box,
        payload: text,
        claimedBack: false,
        done: (a) => {
          clock.clearTimeout(pickup);
          clock.clearTimeout(result);
          this.pending.delete(id);
          resolve(a as Answer<T>);
        },
      };
      this.pending.set(id, p);
      pickup = clock.setTimeout(() => {
        void this.o.claims.claim(claimKey(id), { by: this.instance, abandoned: true, at: clock.now() }).then(
          (mine) => {
            if (!this.pending.has(id)) return;
            p.claimedBack = true;
            if (mine)
              p.done({
                ok: false,
                why: 'unclaimed',
                message: `no instance holding ${box} took it within ${pickupMs} ms`,
                holder: this.holderOf(box),
              });
          },
          (err: unknown) => this.o.log.warn({ err, box }, 'cluster: could not claim an unanswered message back'),
        );
      }, pickupMs);
      result = clock.setTimeout(() => {
        p.done({
          ok: false,
          why: 'lost',
          message: `the holder of ${box} took it but gave no answer within ${resultMs} ms`,
          holder: this.holderOf(box),
        });
      }, resultMs);
      this.o.bus.notify(channel(box), text).catch((err: unknown) => {
        this.o.log.warn({ err, box }, 'cluster: a message could not be sent; sent again when a holder announces');
      });
    });
  }

  private envelope(kind: string, body: unknown, ask: boolean): { id: string; text: string } {
    const id = randomUUID();
    const env: Envelope = { id, from: this.instance, kind, ask, body };
    const text = JSON.stringify(env);
    if (Buffer.byteLength(text) > MAX_PAYLOAD)
      throw new RangeError(`cluster message ${kind} is over ${MAX_PAYLOAD} bytes`);
    return { id, text };
  }

  private async onMessage(box: string, payload: string, handler: Handler): Promise<void> {
    const env = parse<Envelope>(payload);
    if (!env || typeof env.id !== 'string' || typeof env.kind !== 'string') {
      this.o.log.warn({ box }, 'cluster: a message that does not parse was ignored');
      return;
    }
    const clock = this.o.clock;
    try {
      if (env.ask && !(await this.o.claims.claim(claimKey(env.id), { by: this.instance, at: clock.now() }))) return;
    } catch (err) {
      this.o.log.warn({ err, box, kind: env.kind }, 'cluster: a message could not be claimed');
      return;
    }
    let reply: { id: string; value?: unknown; error?: string };
    try {
      reply = { id: env.id, value: await handler(env.kind, env.body) };
    } catch (err) {
      this.o.log.error({ err, box, kind: env.kind }, 'cluster: handling a message failed');
      reply = { id: env.id, error: (err as Error).message };
    }
    if (!env.ask) return;
    await this.o.bus
      .notify(channel(`reply:${env.from}`), JSON.stringify(reply))
      .catch((err: unknown) => this.o.log.warn({ err, box, kind: env.kind }, 'cluster: an answer could not be sent'));
  }

  private onReply(payload: string): void {
    const r = parse<{ id: string; value?: unknown; error?: string }>(payload);
    const p = r ? this.pending.get(r.id) : undefined;
    if (!r || !p) return;
    if (typeof r.error === 'string')
      p.done({ ok: false, why: 'failed', message: r.error, holder: this.holderOf(p.box) });
    else p.done({ ok: true, value: r.value });
  }

  private onAnnounce(payload: string): void {
    const a = parse<{ lease?: unknown; holding?: unknown; from?: unknown; who?: unknown }>(payload);
    if (a && typeof a.who === 'string') {
      if (a.who !== this.instance) this.o.onWho?.();
      return;
    }
    if (!a || typeof a.lease !== 'string' || typeof a.holding !== 'boolean' || typeof a.from !== 'string') return;
    if (a.from === this.instance) return; // our own, noted when sent
    this.noteHolder(a.lease, a.holding, a.from);
    if (!a.holding) return;
    // what waits for that lease's holder goes again (a claim makes sure it is done once)
    const lease = a.lease;
    for (const p of this.pending.values())
      if (p.box === lease && !p.claimedBack) this.o.bus.notify(channel(p.box), p.payload).catch(() => undefined);
  }
}

/** A channel name PostgreSQL takes (identifiers stop at 63 bytes): long names are hashed. */
export function channel(name: string): string {
  const full = `fsb24:${name}`;
  return Buffer.byteLength(full) <= 63 ? full : `fsb24:${createHash('sha256').update(name).digest('hex').slice(0, 32)}`;
}

function claimKey(id: string): string {
  return `mail:${id}`;
}

function parse<T>(text: string): T | null {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' ? (v as T) : null;
  } catch {
    return null;
  }
}
