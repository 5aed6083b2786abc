/**
 * Calls that ended while the service was down (a restart): registered before it, never
 * finished, gone from the switch. The model never saw their end, so they are finished
 * from what the outbox kept of them: the register (direction, who), the last connected
 * effect (answered, by whom, since when, on the switch's clock) and the recordings started.
 */
import type { Effect, FinishEffect } from './effects.js';

/** What was stored about a call registered (or adopted) and never finished. */
export interface UnfinishedCall {
  call: string;
  /** Its register effect (null: Bitrix24 registered it itself, a click-to-call). */
  register: Effect | null;
  /** Its last connected effect (null: nobody talked to the client). */
  connected: Effect | null;
  /** Files a recorder opened for it (RECORD_START), in order. */
  recordings: readonly string[];
}

export const ORPHAN_REASON = 'the call ended while the connector was down; the duration is a lower bound';

/**
 * The finish for such a call: answered → 200, talked since the connected effect until the
 * switch's time of the last event the previous run saw (`lastSwitchUs`, µs; unknown: 0) — a
 * lower bound on the switch's own clock, at least 1 s; else an incoming call is missed (304)
 * and any other ended for an unknown reason (OTHER). The employee who talked last, else the
 * one it was registered for, owns it.
 */
export function orphanFinish(stored: UnfinishedCall, lastSwitchUs: number, addToChat: boolean): FinishEffect {
  const reg = stored.register?.kind === 'register' ? stored.register : null;
  const con = stored.connected?.kind === 'connected' ? stored.connected : null;
  const ext = con?.extension ?? reg?.extension ?? null;
  return {
    kind: 'finish',
    call: stored.call,
    direction: reg?.type === 2 ? 'incoming' : reg?.type === 4 ? 'callback' : 'outgoing',
    extension: ext,
    candidates: ext ? [ext] : [],
    duration: con ? Math.max(1, Math.round((lastSwitchUs - con.atUs) / 1e6)) : 0,
    status: con ? '200' : reg?.type === 2 ? '304' : 'OTHER',
    addToChat,
    reason: ORPHAN_REASON,
  };
}

/** The stored recordings to attach, as the live model would choose them. */
export function orphanRecordings(stored: UnfinishedCall, pick: 'all' | 'first' | 'last'): string[] {
  const all = [...new Set(stored.recordings)];
  return pick === 'first' ? all.slice(0, 1) : pick === 'last' ? all.slice(-1) : all;
}
