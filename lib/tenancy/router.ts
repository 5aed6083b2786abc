/**
 * Which portal each call's effects go to (issue 14): the portal whose domain matches the
 * call's legs, else whose line matches the DID, else whose gateway carried it. The trunk
 * leg of an inbound call learns its domain only after the transfer into the tenant's
 * context (fixtures/esl/tenants/README.md), so while no leg names a domain of the map,
 * a call's effects wait (in order) — until one does, a leg names a domain of no portal
 * (then the line or gateway decides), or the call finishes. A call that
 * matches no portal is sent nowhere: counted, and logged once per domain.
 */
import type { Effect } from '../calls/effects.js';
import type { Logger } from '../log.js';
import type { Tenant, Tenants } from './tenants.js';

export interface CallFactsView {
  domains: readonly string[];
  /** A leg named its directory domain: no later event will name a better one. */
  named: boolean;
  line: string | null;
  gateway: string | null;
}

/** Decisions remembered at most (the oldest are forgotten first). */
const MAX_DECIDED = 20_000;

export class TenantRouter {
  private readonly decided = new Map<string, Tenant | null>();
  private readonly waiting = new Map<string, Effect[]>();
  private readonly loggedUnmatched = new Set<string>();
  /** Calls that matched no portal. */
  unmatched = 0;

  constructor(
    private readonly tenants: Tenants,
    private readonly factsOf: (call: string) => CallFactsView | null,
    private readonly log: Logger,
  ) {}

  /** Group effects by portal (in order); effects of undecided calls wait. Call after every event. */
  route(effects: readonly Effect[]): Array<[Tenant, Effect[]]> {
    const out = new Map<Tenant, Effect[]>();
    const give = (t: Tenant, e: Effect[]): void => {
      const list = out.get(t);
      if (list) list.push(...e);
      else out.set(t, [...e]);
    };
    // calls that were waiting may have learnt their domain from this event
    for (const [call, held] of [...this.waiting]) {
      const t = this.decide(call, false);
      if (t === undefined) continue;
      this.waiting.delete(call);
      if (t) give(t, held);
    }
    for (const e of effects) {
      const held = this.waiting.get(e.call);
      if (held) {
        held.push(e);
        if (e.kind !== 'finish') continue;
        this.waiting.delete(e.call);
        const t = this.decide(e.call, true);
        if (t) give(t, held);
        continue;
      }
      const t = this.decide(e.call, e.kind === 'finish');
      if (t === undefined) this.waiting.set(e.call, [e]);
      else if (t) give(t, [e]);
    }
    return [...out];
  }

  /** Effects of a call whose portal is known from elsewhere (a lookup, a click-to-call). */
  assign(call: string, t: Tenant): void {
    if (!this.decided.has(call)) this.remember(call, t);
  }

  /** The portal of a call decided now, with what is known of it (a back-filled call: its CDR's legs). */
  portalOf(call: string): Tenant | null {
    return this.decide(call, true) ?? null;
  }

  /** The portal a call goes to as far as is known now, deciding nothing (a hint: open a connection to it). */
  peek(call: string): Tenant | null {
    const ts = this.tenants;
    if (ts.single) return ts.list[0] ?? null;
    if (this.decided.has(call)) return this.decided.get(call) ?? null;
    const f = this.factsOf(call);
    for (const d of f?.domains ?? []) {
      const t = ts.ofDomain(d);
      if (t) return t;
    }
    return (f?.line ? ts.ofLine(f.line) : undefined) ?? (f?.gateway ? ts.ofGateway(f.gateway) : undefined) ?? null;
  }

  /** Effects still waiting for their call's domain. */
  get waitingCalls(): number {
    return this.waiting.size;
  }

  /** The portal, null for none (decided), undefined while the call may still name its domain. */
  private decide(call: string, final: boolean): Tenant | null | undefined {
    if (this.decided.has(call)) return this.decided.get(call) ?? null;
    const ts = this.tenants;
    if (ts.single) return this.remember(call, ts.list[0] ?? null);
    const f = this.factsOf(call);
    for (const d of f?.domains ?? []) {
      const t = ts.ofDomain(d);
      if (t) return this.remember(call, t);
    }
    if (ts.byDomains && !final && f !== null && !f.named) return undefined;
    const t = (f?.line ? ts.ofLine(f.line) : undefined) ?? (f?.gateway ? ts.ofGateway(f.gateway) : undefined);
    if (t) return this.remember(call, t);
    this.unmatched++;
    const key = f?.domains[0] ?? f?.line ?? '(none)';
    if (!this.loggedUnmatched.has(key)) {
      this.loggedUnmatched.add(key);
      this.log.warn(
        { callUuid: call, domain: f?.domains[0], line: f?.line, gateway: f?.gateway },
        'call matches no portal; not sent',
      );
    }
    return this.remember(call, null);
  }

  private remember(call: string, t: Tenant | null): Tenant | null {
    this.decided.set(call, t);
    if (this.decided.size > MAX_DECIDED) this.decided.delete(this.decided.keys().next().value as string);
    return t;
  }
}
