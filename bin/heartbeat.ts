/**
 * The service's heartbeat (part of the composition root, bin/compose.ts): every 5 s it stamps `alive`
 * (a restart finishes orphans up to it) and each switch's time of the newest event seen (`alive.switchUs:<name>`,
 * by the switch's holder only when several instances share the store); hourly, finished calls older than a week
 * are purged from every store. It also reads back what the previous run (or holder) stamped for a switch.
 */
import type { Clock, Timer } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import type { Store } from '../lib/store/store.js';

const ALIVE_EVERY_MS = 5_000;
/** Finished calls (and handled click-to-call ids) are forgotten after a week, looked at hourly. */
const PURGE_EVERY_MS = 3_600_000;
const KEEP_FINISHED_MS = 7 * 86_400_000;

export interface HeartbeatDeps {
  store: Pick<Store, 'get' | 'set'>;
  /** Every store finished calls are purged from (the service's and each portal's). */
  stores: () => ReadonlyArray<Pick<Store, 'purgeFinished'>>;
  switches: () => ReadonlyArray<{ name: string; lastSwitchUs: number }>;
  /** Does this instance stamp this switch's time (alone: always; several: its holder)? */
  stamps: (name: string) => boolean;
  clock: Clock;
  log: Logger;
}

export class Heartbeat {
  private timer: Timer | null = null;
  private sincePurgeMs = 0;
  /** Each switch's time of the last event the previous run saw (µs; 0: unknown). */
  private readonly previous = new Map<string, number>();

  constructor(private readonly d: HeartbeatDeps) {}

  /** Read what was stamped for a switch (at start, and when its lease is taken over). */
  async readPrevious(name: string): Promise<void> {
    this.previous.set(name, (await this.d.store.get<number>(`alive.switchUs:${name}`)) ?? 0);
  }

  previousSwitchUs(name: string): number {
    return this.previous.get(name) ?? 0;
  }

  /** Alive now, and each switch's time of the newest event seen (a restart's orphans ended after it). */
  async stamp(): Promise<void> {
    await this.d.store.set('alive', this.d.clock.now());
    for (const x of this.d.switches())
      if (x.lastSwitchUs > 0 && this.d.stamps(x.name))
        await this.d.store.set(`alive.switchUs:${x.name}`, x.lastSwitchUs);
  }

  /** The first stamp now, then every 5 s. */
  async start(): Promise<void> {
    await this.stamp();
    this.timer = this.d.clock.setTimeout(() => this.beat(), ALIVE_EVERY_MS);
  }

  stop(): void {
    this.d.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private beat(): void {
    const purge = (this.sincePurgeMs += ALIVE_EVERY_MS) >= PURGE_EVERY_MS;
    if (purge) this.sincePurgeMs = 0;
    const before = this.d.clock.now() - KEEP_FINISHED_MS;
    this.stamp()
      .then(async () => {
        if (purge) await Promise.all(this.d.stores().map((s) => s.purgeFinished(before)));
      })
      .catch((err: unknown) => this.d.log.error({ err }, 'the store refused the alive stamp or the purge'));
    this.timer = this.d.clock.setTimeout(() => this.beat(), ALIVE_EVERY_MS);
  }
}
