/**
 * Extension ↔ Bitrix24 user, from `user.get` (UF_PHONE_INNER of active users, every
 * page). The last good map is kept when a refresh fails; an empty extension never
 * maps; an unmapped extension warns once (design.md lessons).
 */
import type { Bitrix24Client } from './client.js';
import type { Logger } from '../log.js';
import { realClock, type Clock, type Timer } from '../clock.js';

interface UserRow {
  ID: string | number;
  UF_PHONE_INNER?: string | null;
  ACTIVE?: boolean;
}

export class UserDirectory {
  private byExt = new Map<string, number>();
  private byUser = new Map<number, string>();
  private readonly warned = new Set<string>();
  private timer: Timer | null = null;
  private everyMs = 0;
  loadedAt = 0;
  lastError: string | null = null;

  constructor(
    private readonly client: Bitrix24Client,
    private readonly log: Logger,
    private readonly clock: Clock = realClock,
  ) {}

  get size(): number {
    return this.byExt.size;
  }

  userFor(ext: string | null): number | null {
    if (!ext) return null;
    const id = this.byExt.get(ext);
    if (id === undefined && !this.warned.has(ext) && this.loadedAt > 0) {
      this.warned.add(ext);
      this.log.warn(
        { extension: ext },
        'extension maps to no Bitrix24 user; calls go to the default user (set UF_PHONE_INNER on the user)',
      );
    }
    return id ?? null;
  }

  extensionOf(userId: number): string | null {
    return this.byUser.get(userId) ?? null;
  }

  /** Load every active user; on failure keep the previous map and say so. */
  async refresh(): Promise<boolean> {
    try {
      const select = ['ID', 'UF_PHONE_INNER'];
      const rows = await this.client.list<UserRow>('user.get', { FILTER: { ACTIVE: true }, select });
      const byExt = new Map<string, number>();
      const byUser = new Map<number, string>();
      for (const r of rows) {
        const id = Number(r.ID);
        if (!Number.isInteger(id) || id <= 0) continue;
        const ext = typeof r.UF_PHONE_INNER === 'string' ? r.UF_PHONE_INNER.trim() : '';
        if (ext === '') continue;
        if (byExt.has(ext))
          this.log.warn(
            { extension: ext, users: [byExt.get(ext), id] },
            'two users share one extension; the first keeps it',
          );
        else byExt.set(ext, id);
        if (!byUser.has(id)) byUser.set(id, ext);
      }
      this.byExt = byExt;
      this.byUser = byUser;
      this.loadedAt = this.clock.now();
      this.lastError = null;
      this.log.info({ users: rows.length, extensions: byExt.size }, 'user directory loaded');
      return true;
    } catch (err) {
      this.lastError = (err as Error).message;
      this.log.warn({ err, kept: this.byExt.size }, 'user directory refresh failed; keeping the last good map');
      return false;
    }
  }

  /** Refresh every `everySec` (0 = never), each one timed from the end of the last. */
  start(everySec: number): void {
    this.stop();
    this.everyMs = everySec * 1000;
    this.arm();
  }

  stop(): void {
    this.everyMs = 0;
    this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    if (this.everyMs <= 0 || this.timer) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      void this.refresh().finally(() => this.arm());
    }, this.everyMs);
  }
}
