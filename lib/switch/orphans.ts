/**
 * After the first connect: calls registered before a restart, never finished and gone
 * from the switch ended while the service was down; each is finished from what was stored
 * (lib/calls/orphans.ts decides how), its stored recordings attached. Those still live are
 * rebuilt from the switch's tables; the recordings stored for them are handed back.
 */
import type { Effect } from '../calls/effects.js';
import { orphanFinish, orphanRecordings, type UnfinishedCall } from '../calls/orphans.js';
import type { Logger } from '../log.js';

export function finishOrphans(o: {
  unfinished: readonly UnfinishedCall[];
  live: ReadonlySet<string>;
  tracked: (call: string) => boolean;
  /** The switch's time of the last event the previous run saw (µs), 0 when unknown. */
  lastSwitchUs: number;
  addToChat: boolean;
  chooseRecordings: 'all' | 'first' | 'last';
  log: Logger;
}): { effects: Effect[]; liveRecordings: Map<string, readonly string[]> } {
  const effects: Effect[] = [];
  const liveRecordings = new Map<string, readonly string[]>();
  for (const u of o.unfinished) {
    if (o.live.has(u.call)) {
      if (u.recordings.length > 0) liveRecordings.set(u.call, u.recordings);
      continue;
    }
    if (o.tracked(u.call)) continue;
    const finish = orphanFinish(u, o.lastSwitchUs, o.addToChat);
    o.log.warn(
      { callUuid: u.call, status: finish.status },
      'call ended while the service was down; finishing it from what was stored',
    );
    effects.push(finish);
    for (const path of orphanRecordings(u, o.chooseRecordings)) effects.push({ kind: 'attach', call: u.call, path });
  }
  return { effects, liveRecordings };
}
