/**
 * Which phones are registered: `show registrations as json` once per connection, then
 * kept current from sofia::register / unregister / expire (fixtures/esl/registrations.*:
 * register and unregister name the user in from-user, expire in user).
 */
import type { EslEvent } from './codec.js';
import type { EslListener } from './listener.js';

export class Registrations {
  private users: Set<string> | null = null;

  constructor(private readonly esl: Pick<EslListener, 'connected' | 'api'>) {}

  /** Registered right now? null when the switch cannot say. */
  async has(ext: string): Promise<boolean | null> {
    if (!this.esl.connected) return null;
    if (!this.users) {
      try {
        const body = JSON.parse(await this.esl.api('show registrations as json')) as {
          rows?: Array<{ reg_user?: unknown }>;
        };
        this.users = new Set((body.rows ?? []).map((r) => String(r.reg_user ?? '')));
      } catch {
        return null;
      }
    }
    return this.users.has(ext);
  }

  onEvent(e: EslEvent): void {
    if (!this.users) return;
    const sub = e.get('Event-Subclass');
    const user = e.get('from-user') ?? e.get('user') ?? e.get('username');
    if (!user) return;
    if (sub === 'sofia::register') this.users.add(user);
    else if (sub === 'sofia::unregister' || sub === 'sofia::expire') this.users.delete(user);
  }

  /** After a reconnect events may have been missed: ask the switch again. */
  reset(): void {
    this.users = null;
  }
}
