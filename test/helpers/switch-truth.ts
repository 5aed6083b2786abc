/**
 * What the simulated switch really did, for tests that take the event socket away: every event
 * it emitted (to a listener or to nobody), per leg, on its own clock. A test compares what the
 * portal received with this — never with what the service happened to see.
 */
import type { SimSwitch } from '../../lib/sim/freeswitch/index.js';
import type { Stack } from '../../lib/demo/stack.js';
import type { ManualClock } from '../../lib/clock.js';

export interface LegTruth {
  /** Event times, µs on the switch's clock. */
  firstUs: number;
  lastUs: number;
  bridgedUs: number;
  billsec: number | null;
  recording: string | null;
}

export class SwitchTruth {
  readonly legs = new Map<string, LegTruth>();
  /** Spans of the switch's clock (µs, start exclusive, end inclusive) in which nobody listened. */
  readonly gaps: Array<[number, number]> = [];

  constructor(private readonly sw: SimSwitch) {
    sw.subscribe((e) => {
      const h = new Map(e.headers.map(([k, v]) => [k, typeof v === 'string' ? v : v.join(',')]));
      const uuid = h.get('Unique-ID');
      const name = h.get('Event-Name');
      if (!uuid || !name?.match(/^(CHANNEL_|RECORD_)/)) return;
      const at = Number(h.get('Event-Date-Timestamp'));
      const leg = this.legs.get(uuid) ?? { firstUs: at, lastUs: at, bridgedUs: 0, billsec: null, recording: null };
      leg.lastUs = at;
      if (name === 'CHANNEL_BRIDGE' && !leg.bridgedUs) leg.bridgedUs = at;
      const b = name === 'CHANNEL_BRIDGE' ? this.legs.get(h.get('Bridge-B-Unique-ID') ?? '') : undefined;
      if (b && !b.bridgedUs) b.bridgedUs = at;
      if (name === 'CHANNEL_HANGUP_COMPLETE') leg.billsec = Number(h.get('variable_billsec'));
      if (name === 'RECORD_START') leg.recording = h.get('Record-File-Path') ?? null;
      this.legs.set(uuid, leg);
    });
  }

  /** The gap (index) a switch time falls in, or -1. */
  gapOf(us: number): number {
    return this.gaps.findIndex(([from, to]) => us > from && us <= to);
  }

  /** The calls's legs' first and last events, and whether any fell outside every gap. */
  span(legs: readonly string[]): { firstUs: number; lastUs: number } {
    const known = legs.map((l) => this.legs.get(l)).filter((l): l is LegTruth => l !== undefined);
    return { firstUs: Math.min(...known.map((l) => l.firstUs)), lastUs: Math.max(...known.map((l) => l.lastUs)) };
  }

  /** Take the event socket away for `ms` of the switch's time (refused meanwhile), then let the service back. */
  async gap(s: Stack, clock: ManualClock, ms: number, during?: () => void): Promise<void> {
    await flush(s);
    const from = this.sw.nowUs();
    const down = new Promise<void>((r) => s.service.switch.listener.once('down', () => r()));
    s.sim.refuse(true);
    s.sim.dropConnections();
    await down;
    during?.();
    await run(clock, ms);
    this.gaps.push([from, this.sw.nowUs()]);
    s.sim.refuse(false);
    await s.eslReady();
  }

  /** The service is killed (no shutdown) and a new one starts on the same data after `ms` of the switch's time. */
  async restart(s: Stack, clock: ManualClock, ms: number, during?: () => void): Promise<void> {
    await flush(s);
    const from = this.sw.nowUs();
    s.crashService();
    during?.();
    await run(clock, ms);
    this.gaps.push([from, this.sw.nowUs()]);
    await s.restartService();
  }
}

/**
 * Everything the switch sent so far has been handled by the service: an api reply comes after
 * every event written before it on the same connection, and events are handled as they arrive.
 */
export async function flush(s: Stack): Promise<void> {
  await s.service.switch.listener.api('status');
}

/** Move the switch's clock by `ms` in steps, letting the service read what each step emitted. */
export async function run(clock: ManualClock, ms: number, step = 100): Promise<void> {
  for (let t = 0; t < ms; t += step) await clock.advance(Math.min(step, ms - t));
}
