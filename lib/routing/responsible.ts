/**
 * Route an incoming call to the client's responsible manager (bitrix24-telephony.md §8,
 * the Market's recommended scenario): searchCrmEntities → first entity's responsible
 * user → their extension, only when they are at work and (if the switch can tell)
 * registered. It never holds a call hostage: a hard deadline answers "nothing", and the
 * request jumps the rate limiter's queue.
 *
 * Only what the portal really said is cached (an extension, or "nobody responsible can
 * take it"): a failed lookup (not installed yet, HTTP 503, a reset) or one past its
 * deadline is asked again on the next call. Whether the phone is registered is checked
 * on every call, cached answer or not: it changes by the minute and costs nothing.
 */
import type { Bitrix24Client } from '../bitrix24/client.js';
import type { UserDirectory } from '../bitrix24/directory.js';
import type { Logger } from '../log.js';
import { realClock, type Clock, type Timer } from '../clock.js';
import { EXTENSION } from '../patterns.js';

export interface RouteAnswer {
  extension: string | null;
  userId: number | null;
  reason: string;
  cached: boolean;
}

interface Entity {
  ASSIGNED_BY_ID?: number | string;
  ASSIGNED_BY?: { ID?: string | number; TIMEMAN_STATUS?: string; USER_PHONE_INNER?: string | null };
}

export interface RouterOptions {
  client: Bitrix24Client;
  directory: UserDirectory;
  log: Logger;
  deadlineMs: number;
  cacheSec: number;
  /** Is this extension registered right now? null = the switch cannot tell. */
  isRegistered?: (ext: string) => Promise<boolean | null>;
  /** Cache ages and the deadline. */
  clock?: Clock;
}

/** What the portal said, before the registration check; `real` = worth caching. */
interface PortalAnswer {
  extension: string | null;
  userId: number | null;
  reason: string;
  real: boolean;
}

const AT_WORK = new Set(['OPENED', 'UNAVAILABLE', 'NOT_INSTALLED']);

export class ResponsibleRouter {
  private readonly cache = new Map<string, { at: number; answer: PortalAnswer }>();
  lookups = 0;
  timeouts = 0;

  private readonly clock: Clock;

  constructor(private readonly o: RouterOptions) {
    this.clock = o.clock ?? realClock;
  }

  private now(): number {
    return this.clock.now();
  }

  async route(caller: string): Promise<RouteAnswer> {
    const number = caller.replace(/[^0-9+]/g, '');
    if (number.replace(/\D/g, '').length < 3)
      return { extension: null, userId: null, reason: 'no usable caller number', cached: false };
    const hit = this.cache.get(number);
    if (hit && this.now() - hit.at < this.o.cacheSec * 1000)
      return { ...(await this.registered(hit.answer)), cached: true };
    this.lookups++;
    let timer: Timer | undefined;
    const deadline = new Promise<null>((resolve) => {
      timer = this.clock.setTimeout(() => resolve(null), this.o.deadlineMs);
    });
    // a late answer is still cached (when real): the next call from this number gets it at once
    const lookup = this.lookup(number).then((answer) => {
      if (answer.real) this.remember(number, answer);
      return answer;
    });
    const answer = await Promise.race([lookup, deadline]);
    this.clock.clearTimeout(timer);
    if (!answer) {
      this.timeouts++;
      this.o.log.warn({ deadlineMs: this.o.deadlineMs }, 'routing lookup hit its deadline; the dialplan falls back');
      return { extension: null, userId: null, reason: 'Bitrix24 too slow', cached: false };
    }
    return { ...(await this.registered(answer)), cached: false };
  }

  private remember(number: string, answer: PortalAnswer): void {
    this.cache.set(number, { at: this.now(), answer });
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value as string);
  }

  /** The phone must be registered to be rung first (asked every time). */
  private async registered(a: PortalAnswer): Promise<Omit<RouteAnswer, 'cached'>> {
    const { extension, userId, reason } = a;
    if (!extension) return { extension, userId, reason };
    const registered = this.o.isRegistered ? await this.o.isRegistered(extension).catch(() => null) : null;
    if (registered === false) return { extension: null, userId, reason: `extension ${extension} is not registered` };
    return { extension, userId, reason };
  }

  private async lookup(number: string): Promise<PortalAnswer> {
    let hits: Entity[];
    try {
      hits = await this.o.client.call<Entity[]>(
        'telephony.externalCall.searchCrmEntities',
        { PHONE_NUMBER: number },
        { urgent: true },
      );
    } catch (err) {
      return { extension: null, userId: null, reason: `lookup failed: ${(err as Error).message}`, real: false };
    }
    if (!Array.isArray(hits))
      return { extension: null, userId: null, reason: 'lookup failed: the reply is not a list', real: false };
    const first = hits[0];
    if (!first) return { extension: null, userId: null, reason: 'unknown client', real: true };
    const userId = Number(first.ASSIGNED_BY?.ID ?? first.ASSIGNED_BY_ID);
    const status = first.ASSIGNED_BY?.TIMEMAN_STATUS ?? 'UNAVAILABLE';
    if (!AT_WORK.has(status))
      return { extension: null, userId, reason: `responsible user is not at work (${status})`, real: true };
    const ext = first.ASSIGNED_BY?.USER_PHONE_INNER || this.o.directory.extensionOf(userId);
    if (!ext || !EXTENSION.test(ext))
      return { extension: null, userId, reason: 'responsible user has no extension', real: true };
    return { extension: ext, userId, reason: 'responsible user', real: true };
  }
}
