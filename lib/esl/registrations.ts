/**
 * Which phones are registered, per directory domain: `show registrations as json` once per
 * connection, then kept current from sofia::register / unregister / expire
 * (fixtures/esl/registrations.*: register and unregister name the user in from-user, expire
 * in user; every one of them carries `realm`, and the rows of `show registrations` too).
 * The same extension exists in every tenant domain (fixtures/esl/tenants/README.md:
 * 1001 in a.pbx.test and in b.pbx.test), so a phone is `<user>@<realm>`, never the user alone.
 */
import type { EslEvent } from './codec.js';
import type { EslListener } from './listener.js';

export class Registrations {
  /** user → the domains (realms, lower case) it is registered in. */
  private users: Map<string, Set<string>> | null = null;

  constructor(private readonly esl: Pick<EslListener, 'connected' | 'api'>) {}

  /**
   * Registered right now? In `domain` when given, else in any domain. null when the switch
   * cannot say (not connected, or the list could not be read).
   */
  async has(ext: string, domain?: string | null): Promise<boolean | null> {
    if (!this.esl.connected) return null;
    if (!this.users) {
      try {
        const body = JSON.parse(await this.esl.api('show registrations as json')) as {
          rows?: Array<{ reg_user?: unknown; realm?: unknown }>;
        };
        const users = new Map<string, Set<string>>();
        for (const r of body.rows ?? []) add(users, String(r.reg_user ?? ''), String(r.realm ?? ''));
        this.users = users;
      } catch {
        return null;
      }
    }
    const domains = this.users.get(ext);
    if (!domains) return false;
    return domain ? domains.has(domain.toLowerCase()) : domains.size > 0;
  }

  onEvent(e: EslEvent): void {
    if (!this.users) return;
    const sub = e.get('Event-Subclass');
    const user = e.get('from-user') ?? e.get('user') ?? e.get('username');
    if (!user) return;
    const domain = e.get('realm') ?? e.get('from-host') ?? e.get('host') ?? '';
    if (sub === 'sofia::register') add(this.users, user, domain);
    else if (sub === 'sofia::unregister' || sub === 'sofia::expire') {
      const domains = this.users.get(user);
      domains?.delete(domain.toLowerCase());
      if (domains?.size === 0) this.users.delete(user);
    }
  }

  /** After a reconnect events may have been missed: ask the switch again. */
  reset(): void {
    this.users = null;
  }
}

function add(users: Map<string, Set<string>>, user: string, domain: string): void {
  if (!user) return;
  const set = users.get(user) ?? new Set<string>();
  set.add(domain.toLowerCase());
  users.set(user, set);
}
