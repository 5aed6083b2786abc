/**
 * The two roles a seat runs. A switch: its event socket, call model and registrations, started
 * afresh on every take (the resync adopts the live calls, the restart orphans are finished, and
 * the store's idempotency keys keep every register and finish single), deaf when the socket is
 * not up for longer than `deafAfterMs`. A portal: its outbox, offline pull and directory, started
 * on every take after the pending work is read back from the store, woken by what other
 * instances commit to its outbox.
 */
import type { Clock } from '../clock.js';
import { DeafTimer, type Role } from './seat.js';

/** What a switch role needs of the event socket: its transitions. */
export interface SocketSignals {
  on(event: 'ready' | 'down' | 'failed', fn: () => void): unknown;
  off(event: 'ready' | 'down' | 'failed', fn: () => void): unknown;
}

export interface SwitchRoleDeps {
  socket: SocketSignals;
  /** A fresh model, then connect (the first `ready` resyncs and finishes orphans). */
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
  /** Listen on the switch's box (originates, routed callers); resolves with the function that stops it. */
  serve(): Promise<() => Promise<void>>;
  clock: Clock;
  /** The socket down (or not up yet) for longer than this: deaf (default 3 s). */
  deafAfterMs?: number;
}

export function switchRole(d: SwitchRoleDeps): Role {
  let undo: Array<() => Promise<void> | void> = [];
  return {
    async take(deaf) {
      const timer = new DeafTimer(d.clock, d.deafAfterMs ?? 3000, deaf);
      const up = (): void => timer.up();
      const lost = (): void => timer.down('event socket lost');
      const failed = (): void => timer.down('event socket not reachable');
      d.socket.on('ready', up);
      d.socket.on('down', lost);
      d.socket.on('failed', failed);
      undo.push(() => {
        timer.up();
        d.socket.off('ready', up);
        d.socket.off('down', lost);
        d.socket.off('failed', failed);
      });
      timer.down('event socket not connected');
      await d.start();
      undo.push(() => d.stop());
      const unserve = await d.serve();
      undo.push(unserve);
    },
    async leave() {
      const steps = undo.reverse();
      undo = [];
      for (const step of steps) await step();
    },
  };
}

export interface PortalRoleDeps {
  /** Read the pending work back from the store (another instance may have added to it or done some). */
  reload(): Promise<void>;
  start(): Promise<void> | void;
  stop(): Promise<void>;
  /** Wake the outbox on every commit another instance announces; resolves with the function that stops it. */
  listenOutbox(): Promise<() => Promise<void>>;
  /** Listen on the portal's box (events, routing lookups). */
  serve(): Promise<() => Promise<void>>;
}

export function portalRole(d: PortalRoleDeps): Role {
  let undo: Array<() => Promise<void> | void> = [];
  return {
    async take() {
      // listening first: a commit announced while the pending work is read is not missed
      undo.push(await d.listenOutbox());
      await d.reload();
      await d.start();
      undo.push(() => d.stop());
      undo.push(await d.serve());
    },
    async leave() {
      const steps = undo.reverse();
      undo = [];
      for (const step of steps) await step();
    },
  };
}
