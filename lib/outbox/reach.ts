/**
 * Whether the portal answers the outbox: since when it does not, and when the next probe
 * may go (one request at most every `probeMs` while it is down). A throttled request is not
 * an outage: the limiter took the bucket as full, and the next request waits for it.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';

export class Reachability {
  /** Unreachable since (ms), and the next probe may go at; null: it answers. */
  down: { since: number; probeAt: number; reason: string } | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly probeMs: number,
  ) {}

  failed(kind: 'down' | 'throttled', reason: string): void {
    if (kind === 'throttled') return;
    const now = this.clock.now();
    if (!this.down) this.log.warn({ reason }, 'Bitrix24 is unreachable; probing it every few seconds, nothing is lost');
    this.down = { since: this.down?.since ?? now, probeAt: now + this.probeMs, reason };
  }

  answered(): void {
    if (!this.down) return;
    this.log.info({ downMs: this.clock.now() - this.down.since }, 'Bitrix24 answers again; sending the backlog');
    this.down = null;
  }
}
