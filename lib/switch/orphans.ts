/**
 * After the first connect: calls registered before a restart, never finished and gone
 * from the switch ended while the service was down; each is finished from what was stored
 * (lib/calls/orphans.ts decides how).
 */
import type { Effect } from '../calls/effects.js';
import { orphanFinish, type UnfinishedCall } from '../calls/orphans.js';
import type { Logger } from '../log.js';

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
    const finish = orphanFinish(u, o.lastAliveMs, o.addToChat);
    o.log.warn(
      { callUuid: u.call, status: finish.status },
      'call ended while the service was down; finishing it from what was stored',
    );
    out.push(finish);
  }
  return out;
}
