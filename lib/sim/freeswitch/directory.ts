/**
 * The simulator's user directory, per domain, as FreeSWITCH keeps it: the switch's own
 * domain (`$${domain}`, what `user/<ext>` dials) and any tenant domains (FusionPBX: each
 * company its own domain, with its own users). The same extension exists in several
 * domains (fixtures/esl/tenants/README.md: 1001 in a.pbx.test and in b.pbx.test), so a
 * user is always looked up in a domain: `user/1001@b.pbx.test` is b's 1001, never a's.
 */
import { randomUUID } from 'node:crypto';

export type ExtensionMode = 'answer' | 'noanswer' | 'busy' | 'reject';

export interface ExtensionSetup {
  registered: boolean;
  mode: ExtensionMode;
  /** How long it rings before answering or refusing. */
  ringMs: number;
}

/** A tenant domain: its users, and its `domain_uuid` (FusionPBX's directory variable). */
export interface DomainSetup {
  uuid?: string;
  extensions?: Record<string, Partial<ExtensionSetup>>;
}

export interface DomainEntry {
  name: string;
  uuid: string;
  /** 0 for the switch's own domain, then 1, 2… in the order the domains were added (phone ports). */
  index: number;
  users: Map<string, ExtensionSetup>;
}

export class Directory {
  private readonly domains = new Map<string, DomainEntry>();

  constructor(readonly defaultDomain: string) {
    this.add(defaultDomain);
  }

  /** A domain (added once; a second call returns the first). */
  add(domain: string, uuid?: string): DomainEntry {
    const key = domain.toLowerCase();
    const had = this.domains.get(key);
    if (had) return had;
    const entry = { name: key, uuid: uuid ?? randomUUID(), index: this.domains.size, users: new Map() };
    this.domains.set(key, entry);
    return entry;
  }

  /** The domain's entry; no domain named: the switch's own. */
  domain(domain?: string): DomainEntry | undefined {
    return this.domains.get((domain ?? this.defaultDomain).toLowerCase());
  }

  /** Is this a tenant domain (not the switch's own)? */
  isTenant(domain?: string): boolean {
    return domain !== undefined && domain.toLowerCase() !== this.defaultDomain.toLowerCase();
  }

  /** A user of a domain (no domain: the switch's own); undefined when the domain or the user does not exist. */
  find(ext: string, domain?: string): ExtensionSetup | undefined {
    return this.domain(domain)?.users.get(ext);
  }

  set(ext: string, setup: Partial<ExtensionSetup>, domain?: string): void {
    const users = (this.domain(domain) ?? this.add(domain ?? this.defaultDomain)).users;
    const prev = users.get(ext);
    users.set(ext, {
      registered: setup.registered ?? prev?.registered ?? true,
      mode: setup.mode ?? prev?.mode ?? 'answer',
      ringMs: setup.ringMs ?? prev?.ringMs ?? 2000,
    });
  }

  /** Every user of every domain, the switch's own first. */
  all(): Array<{ domain: string; ext: string; setup: ExtensionSetup }> {
    return [...this.domains.values()].flatMap((d) =>
      [...d.users].map(([ext, setup]) => ({ domain: d.name, ext, setup })),
    );
  }

  /** The tenant domains, in the order they were added. */
  tenants(): DomainEntry[] {
    return [...this.domains.values()].filter((d) => d.index > 0);
  }
}

/** The switch's own office: 1001-1010, the first eight registered. */
export function defaultExtensions(): Record<string, Partial<ExtensionSetup>> {
  const out: Record<string, Partial<ExtensionSetup>> = {};
  for (let i = 1; i <= 10; i++)
    out[`10${String(i).padStart(2, '0')}`] = { registered: i <= 8, mode: 'answer', ringMs: 2000 };
  return out;
}
