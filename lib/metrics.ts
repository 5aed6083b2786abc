/**
 * Prometheus metrics (prom-client) on a registry of the service's own, so several
 * services in one process (tests) never share counters. Gauges read their value at
 * scrape time from the parts that own it.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { realClock, type Clock } from './clock.js';
import type { OperatingTotal } from './bitrix24/limiter.js';

export interface MetricSources {
  outbox: () => { pending: number; failed: number; oldestPendingAt: number | null };
  limiterWaitMs: () => number;
  uploads: () => { count: number; bytes: number };
  reconnects: () => number;
  liveCalls: () => number;
  /** Bitrix24 server time per method (operating-time limit). */
  operating?: () => OperatingTotal[];
}

export class Metrics {
  readonly registry = new Registry();
  readonly events = new Counter({ name: 'fsb24_esl_events_total', help: 'Events received from the event socket, by name', labelNames: ['name'], registers: [this.registry] });
  readonly badEvents = new Counter({ name: 'fsb24_esl_bad_events_total', help: 'Frames or events that did not parse', registers: [this.registry] });
  readonly calls = new Counter({ name: 'fsb24_calls_total', help: 'Calls finished, by direction and outcome (STATUS_CODE)', labelNames: ['direction', 'outcome'], registers: [this.registry] });
  readonly rest = new Counter({ name: 'fsb24_rest_requests_total', help: 'Bitrix24 REST requests, by method and result', labelNames: ['method', 'result'], registers: [this.registry] });

  constructor(src: MetricSources, clock: Pick<Clock, 'now'> = realClock) {
    collectDefaultMetrics({ register: this.registry, prefix: 'fsb24_' });
    const r = [this.registry];
    new Gauge({ name: 'fsb24_outbox_pending', help: 'Outbox jobs waiting to reach Bitrix24', registers: r, collect() { this.set(src.outbox().pending); } });
    new Gauge({ name: 'fsb24_outbox_failed', help: 'Outbox jobs kept as failed (see /healthz)', registers: r, collect() { this.set(src.outbox().failed); } });
    new Gauge({ name: 'fsb24_outbox_oldest_pending_seconds', help: 'Age of the oldest pending outbox job', registers: r, collect() {
      const at = src.outbox().oldestPendingAt;
      this.set(at ? (clock.now() - at) / 1000 : 0);
    } });
    new Gauge({ name: 'fsb24_rate_limiter_wait_seconds_total', help: 'Time requests waited for the Bitrix24 rate limit', registers: r, collect() { this.set(src.limiterWaitMs() / 1000); } });
    new Gauge({ name: 'fsb24_recording_uploads_total', help: 'Recordings attached', registers: r, collect() { this.set(src.uploads().count); } });
    new Gauge({ name: 'fsb24_recording_upload_bytes_total', help: 'Bytes of recordings attached', registers: r, collect() { this.set(src.uploads().bytes); } });
    new Gauge({ name: 'fsb24_esl_reconnects_total', help: 'Event socket reconnects', registers: r, collect() { this.set(src.reconnects()); } });
    const op = (fn: (t: OperatingTotal) => number) => function (this: Gauge) {
      this.reset();
      for (const t of src.operating?.() ?? []) this.set({ method: t.method }, fn(t));
    };
    new Gauge({ name: 'fsb24_b24_operating_seconds', help: 'Server time a method used in the portal\'s sliding 10 minutes, as it last reported (limit 480)', labelNames: ['method'], registers: r, collect: op((t) => t.operatingSec) });
    new Gauge({ name: 'fsb24_b24_server_seconds_total', help: 'Server time of Bitrix24 calls by method (the `time.duration` of each reply)', labelNames: ['method'], registers: r, collect: op((t) => t.spentSec) });
    new Gauge({ name: 'fsb24_b24_method_held_seconds', help: 'How long the next call of a method waits for its operating-time limit (pacing or a block)', labelNames: ['method'], registers: r, collect: op((t) => t.heldMs / 1000) });
    new Gauge({ name: 'fsb24_live_calls', help: 'Calls in progress on the switch', registers: r, collect() { this.set(src.liveCalls()); } });
  }
}
