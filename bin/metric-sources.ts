/**
 * What /metrics reads at scrape time from the running parts (bin/compose.ts wires it): the
 * outbox and limiter of every portal, each switch, the tenant router, the operating-time figures.
 */
import type { MetricSources } from '../lib/metrics.js';
import type { PortalUnit } from '../lib/portal/unit.js';
import type { Switches } from '../lib/switch/fleet.js';
import type { Tenant } from '../lib/tenancy/tenants.js';
import type { TenantRouter } from '../lib/tenancy/router.js';

export function metricSources(
  units: ReadonlyMap<Tenant, PortalUnit>,
  switches: () => Switches,
  router: () => TenantRouter,
  labelOf: (t: Tenant) => string,
): MetricSources {
  const list = (): PortalUnit[] => [...units.values()];
  return {
    outbox: async () => {
      const all = await Promise.all(list().map((p) => p.store.stats()));
      const oldest = all.map((s) => s.oldestPendingAt).filter((x): x is number => x !== null);
      return {
        pending: all.reduce((n, s) => n + s.pending, 0),
        failed: all.reduce((n, s) => n + s.failed, 0),
        oldestPendingAt: oldest.length > 0 ? Math.min(...oldest) : null,
      };
    },
    limiterWaitMs: () => list().reduce((n, p) => n + p.limiter.waitedMs, 0),
    uploads: () => ({
      count: list().reduce((n, p) => n + p.uploader.uploads, 0),
      bytes: list().reduce((n, p) => n + p.uploader.bytes, 0),
    }),
    switches: () => switches().figures(),
    portals: () =>
      Promise.all(
        [...units].map(async ([t, p]) => {
          const [s, h] = await Promise.all([p.store.stats(), p.health()]);
          const { pending, failed } = s;
          return { portal: t.host, pending, failed, limiterWaitMs: p.limiter.waitedMs, installed: h.ok };
        }),
      ),
    unmatchedCalls: () => router().unmatched,
    operating: () =>
      [...units].flatMap(([t, p]) => p.client.operating.totals().map((x) => ({ ...x, portal: labelOf(t) }))),
  };
}
