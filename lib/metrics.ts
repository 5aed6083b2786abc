/**
 * Prometheus metrics (prom-client) on a registry of the service's own, so several
 * services in one process (tests) never share counters. Gauges read their value at
 * scrape time from the parts that own it.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { realClock, type Clock } from './clock.js';
import type { OperatingTotal } from './bitrix24/limiter.js';

export interface MetricSources {
  /** Read from the store at scrape time. */
  outbox: () => Promise<{ pending: number; failed: number; oldestPendingAt: number | null }>;
  limiterWaitMs: () => number;
  uploads: () => { count: number; bytes: number };
  /** Per switch of FSB24_SWITCHES (the `switch` label: its name). */
  switches: () => Array<{ switch: string; connected: boolean; liveCalls: number; reconnects: number }>;
  /** Per portal of the tenant map (the `portal` label: its host). */
  portals?: () => Promise<
    Array<{ portal: string; pending: number; failed: number; limiterWaitMs: number; installed: boolean }>
  >;
  /** Calls that matched no portal of the tenant map. */
  unmatchedCalls?: () => number;
  /** Bitrix24 server time per method (operating-time limit), per portal. */
  operating?: () => Array<OperatingTotal & { portal: string }>;
}

export class Metrics {
  readonly registry = new Registry();
  readonly events = new Counter({
    name: 'fsb24_esl_events_total',
    help: 'Events received from the event socket, by switch and name',
    labelNames: ['switch', 'name'],
    registers: [this.registry],
  });
  readonly badEvents = new Counter({
    name: 'fsb24_esl_bad_events_total',
    help: 'Frames or events that did not parse, by switch',
    labelNames: ['switch'],
    registers: [this.registry],
  });
  readonly calls = new Counter({
    name: 'fsb24_calls_total',
    help: 'Calls finished, by switch, direction and outcome (STATUS_CODE)',
    labelNames: ['switch', 'direction', 'outcome'],
    registers: [this.registry],
  });
  readonly rest = new Counter({
    name: 'fsb24_rest_requests_total',
    help: 'Bitrix24 REST requests, by portal (its host), method and result',
    labelNames: ['portal', 'method', 'result'],
    registers: [this.registry],
  });

  constructor(src: MetricSources, clock: Pick<Clock, 'now'> = realClock) {
    collectDefaultMetrics({ register: this.registry, prefix: 'fsb24_' });
    const r = [this.registry];
    new Gauge({
      name: 'fsb24_outbox_pending',
      help: 'Outbox jobs waiting to reach Bitrix24',
      registers: r,
      async collect() {
        this.set((await src.outbox()).pending);
      },
    });
    new Gauge({
      name: 'fsb24_outbox_failed',
      help: 'Outbox jobs kept as failed (see /healthz)',
      registers: r,
      async collect() {
        this.set((await src.outbox()).failed);
      },
    });
    new Gauge({
      name: 'fsb24_outbox_oldest_pending_seconds',
      help: 'Age of the oldest pending outbox job',
      registers: r,
      async collect() {
        const at = (await src.outbox()).oldestPendingAt;
        this.set(at ? (clock.now() - at) / 1000 : 0);
      },
    });
    new Gauge({
      name: 'fsb24_rate_limiter_wait_seconds_total',
      help: 'Time requests waited for the Bitrix24 rate limit',
      registers: r,
      collect() {
        this.set(src.limiterWaitMs() / 1000);
      },
    });
    new Gauge({
      name: 'fsb24_recording_uploads_total',
      help: 'Recordings attached',
      registers: r,
      collect() {
        this.set(src.uploads().count);
      },
    });
    new Gauge({
      name: 'fsb24_recording_upload_bytes_total',
      help: 'Bytes of recordings attached',
      registers: r,
      collect() {
        this.set(src.uploads().bytes);
      },
    });
    type SwitchFigures = ReturnType<MetricSources['switches']>[number];
    const perSwitch = (name: string, help: string, pick: (s: SwitchFigures) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['switch'],
        registers: r,
        collect() {
          this.reset();
          for (const s of src.switches()) this.set({ switch: s.switch }, pick(s));
        },
      });
    };
    perSwitch('fsb24_esl_reconnects_total', 'Event socket reconnects, by switch', (s) => s.reconnects);
    perSwitch('fsb24_esl_connected', "1 while the switch's event socket is up", (s) => (s.connected ? 1 : 0));
    perSwitch('fsb24_live_calls', 'Calls in progress, by switch', (s) => s.liveCalls);
    type PortalFigures = Awaited<ReturnType<NonNullable<MetricSources['portals']>>>[number];
    const per = (name: string, help: string, pick: (p: PortalFigures) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['portal'],
        registers: r,
        async collect() {
          const all = (await src.portals?.()) ?? [];
          this.reset();
          for (const p of all) this.set({ portal: p.portal }, pick(p));
        },
      });
    };
    per('fsb24_portal_outbox_pending', 'Outbox jobs waiting to reach the portal', (p) => p.pending);
    per('fsb24_portal_outbox_failed', 'Outbox jobs of the portal kept as failed', (p) => p.failed);
    per(
      'fsb24_portal_rate_limiter_wait_seconds_total',
      "Time requests waited for the portal's rate limit",
      (p) => p.limiterWaitMs / 1000,
    );
    per('fsb24_portal_installed', '1 when the portal is installed and healthy', (p) => (p.installed ? 1 : 0));
    const unmatched = 'Calls that matched no portal of FSB24_TENANTS (not sent)';
    new Gauge({
      name: 'fsb24_calls_unmatched_total',
      help: unmatched,
      registers: r,
      collect() {
        this.set(src.unmatchedCalls?.() ?? 0);
      },
    });
    const op = (fn: (t: OperatingTotal) => number) =>
      function (this: Gauge) {
        this.reset();
        for (const t of src.operating?.() ?? []) this.set({ portal: t.portal, method: t.method }, fn(t));
      };
    new Gauge({
      name: 'fsb24_b24_operating_seconds',
      help: "Server time a method used in the portal's sliding 10 minutes, as it last reported (limit 480)",
      labelNames: ['portal', 'method'],
      registers: r,
      collect: op((t) => t.operatingSec),
    });
    new Gauge({
      name: 'fsb24_b24_server_seconds_total',
      help: 'Server time of Bitrix24 calls by method (the `time.duration` of each reply)',
      labelNames: ['portal', 'method'],
      registers: r,
      collect: op((t) => t.spentSec),
    });
    new Gauge({
      name: 'fsb24_b24_method_held_seconds',
      help: 'How long the next call of a method waits for its operating-time limit (pacing or a block)',
      labelNames: ['portal', 'method'],
      registers: r,
      collect: op((t) => t.heldMs / 1000),
    });
  }
}
