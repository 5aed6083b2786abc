/**
 * Binding for offline mode (b24restdocs api-reference/events/event-bind.md,
 * offline-events.md; bitrix24-telephony.md §10.6): both call events with
 * `event_type=offline` and no handler, then the online handlers of a former setup are
 * removed, so the portal never tries to POST to an address it cannot reach. Offline
 * bindings need an administrator: ACCESS_DENIED is explained, not just passed on.
 */
import { B24Error, isAlreadyBound } from '../bitrix24/errors.js';
import { CALL_EVENTS } from '../bitrix24/provision.js';
import { Fsb24Error } from '../errors.js';
import type { Logger } from '../log.js';

export { CALL_EVENTS };

/** Offline binding refused (ACCESS_DENIED: not an administrator's token). */
export class OfflineBindError extends Fsb24Error<'OFFLINE_ERR_BIND', Record<string, never>> {
  override readonly name = 'OfflineBindError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('OFFLINE_ERR_BIND', message, {}, options);
  }
}

type Client = { call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T> };

export async function bindOffline(client: Client, log: Logger): Promise<{ bound: string[]; unbound: string[] }> {
  const bound: string[] = [];
  for (const event of CALL_EVENTS) {
    try {
      await client.call('event.bind', { event, event_type: 'offline' });
      bound.push(event);
    } catch (err) {
      if (isAlreadyBound(err)) {
        bound.push(event);
        continue;
      }
      if (err instanceof B24Error && err.detail.error === 'ACCESS_DENIED') {
        throw new OfflineBindError(
          `event.bind ${event} (offline) refused with ACCESS_DENIED: offline events can only be bound with a portal ` +
            "administrator's token. Open /bitrix24/connect again while logged in to the portal as an administrator.",
          { cause: err },
        );
      }
      throw err;
    }
  }
  const unbound: string[] = [];
  const handlers =
    await client.call<Array<{ event?: string; handler?: string; offline?: number | string }>>('event.get');
  for (const h of Array.isArray(handlers) ? handlers : []) {
    if (!h.event || Number(h.offline) === 1 || !(CALL_EVENTS as readonly string[]).includes(h.event.toUpperCase()))
      continue;
    await client.call('event.unbind', { event: h.event, handler: h.handler ?? '', event_type: 'online' });
    unbound.push(`${h.event} → ${h.handler ?? ''}`);
  }
  if (unbound.length) log.info({ unbound }, 'online event handlers removed: events are pulled in offline mode');
  return { bound, unbound };
}
