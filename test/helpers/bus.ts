/**
 * LISTEN/NOTIFY and the store's claims in memory, shared by several instances of one test:
 * a notification reaches every listener of its channel (the sender's own too) after the
 * current turn, as PostgreSQL delivers it after the commit. `cut(instance)` drops what an
 * instance listens to, as a dead connection does.
 */
import type { Bus, Claims } from '../../lib/cluster/mailbox.js';

export class FakeBusNetwork {
  private readonly listeners = new Map<string, Set<{ instance: string; fn: (p: string) => void }>>();
  readonly claimed = new Map<string, unknown>();
  /** Every notification: "<channel> <payload>". */
  readonly sent: string[] = [];

  bus(instance: string): Bus {
    return {
      notify: async (channel, payload) => {
        this.sent.push(`${channel} ${payload}`);
        const to = [...(this.listeners.get(channel) ?? [])];
        this.inFlight++;
        setImmediate(() => {
          for (const l of to) if (this.listeners.get(channel)?.has(l)) l.fn(payload);
          this.inFlight--;
          // what a delivery set off (an answer, an announcement) is sent within the next turns
          setImmediate(() => {
            if (this.inFlight === 0) for (const w of this.quiet.splice(0)) w();
          });
        });
      },
      listen: async (channel, fn) => {
        const l = { instance, fn };
        const set = this.listeners.get(channel) ?? new Set();
        set.add(l);
        this.listeners.set(channel, set);
        return async () => {
          set.delete(l);
        };
      },
    };
  }

  claims(): Claims {
    return {
      claim: async (key, value) => {
        if (this.claimed.has(key)) return false;
        this.claimed.set(key, value);
        return true;
      },
    };
  }

  private inFlight = 0;
  private readonly quiet: Array<() => void> = [];

  /** Resolves once no notification is on its way (and what the last ones set off has been sent). */
  settled(): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.inFlight === 0) resolve();
        else this.quiet.push(check);
      };
      setImmediate(check);
    });
  }

  cut(instance: string): void {
    for (const set of this.listeners.values()) for (const l of [...set]) if (l.instance === instance) set.delete(l);
  }
}
