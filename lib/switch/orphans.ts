/**
 * After a restart: calls registered before it, never finished, and gone from the switch
 * ended while the service was down. They are finished with what was stored: answered (and
 * by whom, since when) or not; the duration runs to the last moment the service was known
 * alive, a lower bound.
 */
import type { Effect } from '../calls/effects.js';
import type { Logger } from '../log.js';

export interface UnfinishedCall {
  call: string;
  register: Effect | null;
  connected: Effect | null;
}

export function finishOrphans(o: {
  unfinished: readonly UnfinishedCall[];
  live: ReadonlySet<string>;
  known: (uuid: string) => boolean;
  lastAliveMs: number;
  addToChat: boolean;
  log: Logger;
}): Effect[] {
  const out: Effect[] = [];
  for (const u of o.unfinished) {
    if (o.live.has(u.call) || o.known(u.call)) continue;
    const reg = u.register?.kind === 'register' ? u.register : null;
    const con = u.connected?.kind === 'connected' ? u.connected : null;
    const status = con ? '200' : reg?.type === 2 ? '304' : 'OTHER';
    const ext = con?.extension ?? reg?.extension ?? null;
    const direction = reg?.type === 2 ? 'incoming' : reg?.type === 4 ? 'callback' : 'outgoing';
    out.push({
      kind: 'finish',
      call: u.call,
      direction,
      extension: ext,
      candidates: ext ? [ext] : [],
      duration: con ? Math.max(1, Math.round((o.lastAliveMs * 1000 - con.atUs) / 1e6)) : 0,
      status,
      addToChat: o.addToChat,
      reason: 'the call ended while the connector was down; the duration is a lower bound',
    });
    o.log.warn({ callUuid: u.call, status }, 'call ended while the service was down; finishing it from what was stored');
  }
  return out;
}
