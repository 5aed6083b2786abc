/**
 * `freeswitch-bitrix24 check` in offline mode: the bindings (event.get shows offline: 1),
 * the queue (event.offline.list: unread records and the age of the oldest), and the
 * service's last successful pull and mode, which the puller writes to the store.
 */
import type { ConfigShape } from '../config.js';
import type { Store } from '../store/store.js';
import { realClock, type Clock } from '../clock.js';
import { CALL_EVENTS } from './bind.js';

interface Result {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}
type Client = { call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T> };

const CONNECT_FIX =
  'open the address `freeswitch-bitrix24 connect` prints, logged in to the portal as an administrator';

export async function checkOffline(
  c: Readonly<ConfigShape>,
  store: Store,
  client: Client,
  add: (r: Result) => void,
  clock: Pick<Clock, 'now'> = realClock,
): Promise<void> {
  const now = clock.now();
  add({
    name: 'events mode',
    ok: true,
    detail: `offline: the service pulls the event queue every ${c.events.offlinePollMs} ms (no inbound address)`,
  });
  try {
    const bound = await client.call<Array<{ event?: string; offline?: unknown; handler?: string }>>('event.get');
    const list = Array.isArray(bound) ? bound : [];
    const missing = CALL_EVENTS.filter((e) => !list.some((b) => b.event === e && Number(b.offline) === 1));
    const online = list.filter(
      (b) => (CALL_EVENTS as readonly string[]).includes(b.event ?? '') && Number(b.offline) !== 1,
    );
    add(
      missing.length === 0 && online.length === 0
        ? {
            name: 'event handlers',
            ok: true,
            detail: `${CALL_EVENTS.join(', ')} bound offline (event.get: offline: 1)`,
          }
        : {
            name: 'event handlers',
            ok: false,
            detail: [
              missing.length ? `not bound offline: ${missing.join(', ')}` : '',
              online.length ? `online handlers left: ${online.map((b) => b.event).join(', ')}` : '',
            ]
              .filter(Boolean)
              .join('; '),
            fix: `run freeswitch-bitrix24 bind, or ${CONNECT_FIX}`,
          },
    );
  } catch (err) {
    add({ name: 'event handlers', ok: false, detail: (err as Error).message, fix: CONNECT_FIX });
  }
  try {
    const rows = await client.call<Array<{ TIMESTAMP_X?: string; PROCESS_ID?: string }>>('event.offline.list', {
      filter: { ERROR: 0 },
      order: { ID: 'ASC' },
    });
    const list = Array.isArray(rows) ? rows : [];
    const oldest = list.length ? Date.parse(String(list[0]!.TIMESTAMP_X)) : NaN;
    const age = Number.isFinite(oldest) ? Math.max(0, Math.round((now - oldest) / 1000)) : null;
    const reserved = list.filter((r) => r.PROCESS_ID).length;
    add({
      name: 'offline queue',
      ok: age === null || age < 60,
      detail:
        list.length === 0
          ? 'empty'
          : `${list.length}${list.length === 50 ? '+' : ''} unread (${reserved} reserved); ` +
            `the oldest is ${age ?? '?'} s old`,
      fix: 'is the service running and pulling (GET /healthz, events.lastError)?',
    });
  } catch (err) {
    const denied = /ACCESS_DENIED/.test((err as Error).message);
    add({
      name: 'offline queue',
      ok: false,
      detail: (err as Error).message,
      fix: denied ? CONNECT_FIX : 'check the portal and the tokens',
    });
  }
  const st = await store.get<{ mode?: string; lastPullAt?: number }>('offline.state');
  const ago = st?.lastPullAt ? Math.round((now - st.lastPullAt) / 1000) : null;
  add(
    ago !== null && ago < 60
      ? { name: 'last pull', ok: true, detail: `${ago} s ago` }
      : {
          name: 'last pull',
          ok: false,
          detail: ago === null ? 'never' : `${ago} s ago`,
          fix: 'start the service (freeswitch-bitrix24 start); see GET /healthz for the pull error',
        },
  );
  if (st?.mode === 'clear') {
    add({
      name: 'offline pull mode',
      ok: true,
      detail:
        'clear=1 fallback: the plan lacks rest_offline_extended (WRONG_LICENSE), ' +
        'so a crash between a pull and its write can lose a click',
    });
  }
}
