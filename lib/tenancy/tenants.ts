/**
 * The tenant map (FSB24_TENANTS, issue 14): which portal a domain, a line (DID) or a
 * gateway of the switch belongs to. Without it, FSB24_B24_PORTAL_URL alone is a
 * one-portal map that every call belongs to.
 */
import { join } from 'node:path';
import type { ConfigShape } from '../config.js';

export interface Tenant {
  /** The portal's address as configured (the map's key), without a trailing slash. */
  readonly url: string;
  /** Its host (what Bitrix24 sends as auth.domain). */
  readonly host: string;
  readonly domains: readonly string[];
  readonly lines: readonly string[];
  readonly gateways: readonly string[];
}

export class Tenants {
  readonly list: readonly Tenant[];
  /** FSB24_B24_PORTAL_URL alone: every call belongs to the one portal. */
  readonly single: boolean;
  private readonly domains = new Map<string, Tenant>();
  private readonly lines = new Map<string, Tenant>();
  private readonly gateways = new Map<string, Tenant>();

  constructor(c: Pick<ConfigShape, 'tenants' | 'b24' | 'calls'>) {
    const entries = Object.entries(c.tenants);
    this.single = entries.length === 0;
    if (this.single) {
      const url = c.b24.portalUrl.replace(/\/+$/, '');
      this.list = [{ url, host: url ? new URL(url).host : '', domains: [], lines: [], gateways: [] }];
      return;
    }
    this.list = entries.map(([portal, t]) => {
      const url = portal.replace(/\/+$/, '');
      return {
        url,
        host: new URL(url).host,
        domains: (t.domains ?? []).map((d) => d.toLowerCase()),
        lines: t.lines ?? [],
        gateways: t.gateways ?? [],
      };
    });
    for (const t of this.list) {
      for (const d of t.domains) this.domains.set(d, t);
      // a DID, and the LINE_NUMBER FSB24_LINES names for it (the call model reports the latter)
      for (const l of t.lines) for (const name of [l, c.calls.lines[l]]) if (name) this.lines.set(name, t);
      for (const g of t.gateways) this.gateways.set(g, t);
    }
  }

  /** Does any portal name domains (else nothing waits for one)? */
  get byDomains(): boolean {
    return this.domains.size > 0;
  }

  ofDomain(domain: string): Tenant | undefined {
    return this.single ? this.list[0] : this.domains.get(domain.toLowerCase());
  }

  ofLine(line: string): Tenant | undefined {
    return this.single ? this.list[0] : this.lines.get(line);
  }

  ofGateway(gateway: string): Tenant | undefined {
    return this.single ? this.list[0] : this.gateways.get(gateway);
  }

  /** The portal Bitrix24 names in an event's auth.domain (a host, as sent). */
  ofHost(host: string): Tenant | undefined {
    const h = host.toLowerCase();
    return this.list.find((t) => t.host.toLowerCase() === h);
  }

  ofUrl(url: string): Tenant | undefined {
    const u = url.replace(/\/+$/, '');
    return this.list.find((t) => t.url === u);
  }
}

/**
 * The configuration one portal's unit runs with: its address, and of the switch only what
 * belongs to it: calls ring `user/<ext>@<its first domain>` and leave through its gateways,
 * its lines are provisioned. FSB24_B24_PORTAL_URL alone: the configuration as it is.
 */
export function portalConfig(c: Readonly<ConfigShape>, t: Tenant, single: boolean): Readonly<ConfigShape> {
  if (single) return c;
  const ownGw = (gw: string): boolean => t.gateways.length === 0 || t.gateways.includes(gw);
  const ownLine = (line: string): boolean => t.lines.length === 0 || t.lines.includes(line);
  const pick = (m: Record<string, string>, keep: (k: string, v: string) => boolean): Record<string, string> =>
    Object.fromEntries(Object.entries(m).filter(([k, v]) => keep(k, v)));
  const lines = pick(c.calls.lines, (did) => t.lines.includes(did));
  for (const did of t.lines) lines[did] ??= did;
  return {
    ...c,
    b24: { ...c.b24, portalUrl: t.url },
    calls: {
      ...c.calls,
      domain: t.domains[0] ?? c.calls.domain,
      gateway: t.gateways[0] ?? c.calls.gateway,
      lines,
      lineGateways: pick(c.calls.lineGateways, (line, gw) => ownGw(gw) && ownLine(line)),
      gatewayLines: t.gateways.length > 0 ? pick(c.calls.gatewayLines, (gw) => ownGw(gw)) : {},
    },
  };
}

/** Does this LINE_NUMBER belong to another portal of the map (a click-to-call must not use it)? */
export function foreignLine(tenants: Tenants, t: Tenant, line: string): boolean {
  if (tenants.single) return false;
  const owner = tenants.ofLine(line);
  return owner !== undefined && owner !== t;
}

/** Where a portal keeps its state: FSB24_DATA_DIR alone, or one folder per portal of the map. */
export function portalDataDir(c: Pick<ConfigShape, 'dataDir'>, t: Tenant, single: boolean): string {
  return single ? c.dataDir : join(c.dataDir, 'portals', t.host.replace(/[^A-Za-z0-9.-]/g, '_'));
}

/** Where a portal's store is: its folder (SQLite), and its namespace in a shared database ('' alone, else its host). */
export function portalStoreAt(
  c: Pick<ConfigShape, 'dataDir'>,
  t: Tenant,
  single: boolean,
): { dir: string; namespace: string } {
  return { dir: portalDataDir(c, t, single), namespace: single ? '' : t.host };
}
