/**
 * Offline mode wired into a running Service: the puller fed by the service's client and
 * store, each record handled exactly as a POSTed event (CallEvents.validate before,
 * CallEvents.handle after), its figures on the service's /metrics.
 */
import { Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { CallEvents } from '../originate/handler.js';
import type { Clock } from '../clock.js';
import { OfflinePuller, type PullerOptions } from './puller.js';

export { bindOffline } from './bind.js';
export type { OfflinePuller } from './puller.js';

export interface OfflinePorts {
  client: PullerOptions['client'] & { tokens(): Promise<{ domain: string; memberId: string } | null> };
  store: PullerOptions['store'];
  log: Logger;
  pollMs: number;
  registry: Registry;
  callEvents: Pick<CallEvents, 'validate' | 'handle'>;
}

export function attachOffline(svc: OfflinePorts, clock?: Clock): OfflinePuller {
  const registers = [svc.registry];
  const latency = new Histogram({
    name: 'fsb24_offline_pull_seconds',
    help: 'Offline event pulls (event.offline.get), by outcome',
    labelNames: ['result'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15],
    registers,
  });
  const puller: OfflinePuller = new OfflinePuller({
    client: svc.client,
    store: svc.store,
    log: svc.log.child({ mod: 'offline' }),
    portal: async () => {
      const t = await svc.client.tokens();
      return t ? { domain: t.domain, memberId: t.memberId } : null;
    },
    validate: (ev) => svc.callEvents.validate(ev),
    handle: (ev) => svc.callEvents.handle(ev),
    pollMs: svc.pollMs,
    onPull: (ms, ok) => latency.observe({ result: ok ? 'ok' : 'failed' }, ms / 1000),
    ...(clock ? { clock } : {}),
  });
  const figure = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  };
  figure(
    'fsb24_offline_records_pulled_total',
    'Offline event records pulled from the portal',
    () => puller.counters.pulled,
  );
  figure('fsb24_offline_records_handled_total', 'Offline event records handled', () => puller.counters.handled);
  figure(
    'fsb24_offline_records_errored_total',
    'Offline event records that could not be handled',
    () => puller.counters.errored,
  );
  return puller;
}
