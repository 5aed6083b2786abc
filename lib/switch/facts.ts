/**
 * What each leg says about the tenant its call belongs to: the domain variables
 * FreeSWITCH sets (fixtures/esl/tenants/README.md: `domain_name`, else `dialed_domain`,
 * else the SIP request or to host) and the gateway it went through. Kept per leg, since
 * a trunk leg learns its domain only after the transfer into the tenant's context and a
 * `user/` leg knows `dialed_domain` from its CREATE; the call's facts are its legs' union.
 */
import type { ChannelEvent } from '../events/channel-event.js';

/** Domain variables, best first. */
const DOMAIN_VARS = ['domain_name', 'dialed_domain', 'sip_req_host', 'sip_to_host'] as const;
/** Legs remembered at most (the oldest are forgotten first; a call is decided long before). */
const MAX_LEGS = 20_000;

export interface CallFacts {
  /** Domains named by the call's legs, best source first, host part only, lower case. */
  domains: string[];
  /** A leg named its directory domain (`domain_name` or `dialed_domain`), not only a SIP host. */
  named: boolean;
  line: string | null;
  gateway: string | null;
}

interface LegFacts {
  /** rank (index in DOMAIN_VARS) → domain */
  domains: Map<number, string>;
  gateway: string | null;
}

export class LegFactsTracker {
  private readonly legs = new Map<string, LegFacts>();

  note(ev: ChannelEvent): void {
    let f = this.legs.get(ev.uuid);
    if (!f) {
      f = { domains: new Map(), gateway: null };
      this.legs.set(ev.uuid, f);
      if (this.legs.size > MAX_LEGS) this.legs.delete(this.legs.keys().next().value as string);
    }
    DOMAIN_VARS.forEach((name, rank) => {
      const v = ev.vars.get(name);
      if (v) f.domains.set(rank, hostOf(v));
    });
    f.gateway = ev.vars.get('sip_gateway_name') ?? ev.vars.get('sip_gateway') ?? f.gateway;
  }

  /** The union of the legs' facts, domains ordered by their best source. */
  facts(legs: readonly string[], line: string | null): CallFacts {
    const ranked: Array<[number, string]> = [];
    let gateway: string | null = null;
    for (const uuid of legs) {
      const f = this.legs.get(uuid);
      if (!f) continue;
      for (const [rank, d] of f.domains) ranked.push([rank, d]);
      gateway = gateway ?? f.gateway;
    }
    ranked.sort((a, b) => a[0] - b[0]);
    const named = ranked.some(([rank]) => rank <= 1);
    return { domains: [...new Set(ranked.map(([, d]) => d))], named, line, gateway };
  }
}

/** `127.0.0.1:5201` → `127.0.0.1`; domains compare in lower case. */
function hostOf(v: string): string {
  return v.replace(/:\d+$/, '').toLowerCase();
}
