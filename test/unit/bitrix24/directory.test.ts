/** The user directory refreshes on a clock: every N seconds, keeping the last good map when one fails. */
import t from 'tap';
import { UserDirectory } from '../../../lib/bitrix24/directory.js';
import type { Bitrix24Client } from '../../../lib/bitrix24/client.js';
import { ManualClock } from '../../../lib/clock.js';
import { createLogger } from '../../../lib/log.js';

type Rows = Array<{ ID: string; UF_PHONE_INNER: string }>;

function directory(replies: Array<Rows | Error>): { dir: UserDirectory; clock: ManualClock; asked: number[] } {
  const clock = new ManualClock(1_000_000);
  const asked: number[] = [];
  const client = {
    list: async (method: string) => {
      if (method !== 'user.get') throw new Error(`unexpected ${method}`);
      const next = replies[Math.min(asked.length, replies.length - 1)]!;
      asked.push(clock.now());
      if (next instanceof Error) throw next;
      return next;
    },
  } as unknown as Bitrix24Client;
  return { dir: new UserDirectory(client, createLogger('silent'), clock), clock, asked };
}

t.test('refreshed every FSB24_DIRECTORY_REFRESH_SEC; a failed refresh keeps the last good map', async (t) => {
  const { dir, clock, asked } = directory([
    [{ ID: '1', UF_PHONE_INNER: '1001' }],
    new Error('HTTP 503'),
    [{ ID: '2', UF_PHONE_INNER: '1001' }],
  ]);
  dir.start(600);
  await clock.advance(599_999);
  t.same(asked, [], 'nothing before the period is up');
  await clock.advance(1);
  t.same(asked, [1_600_000]);
  t.equal(dir.userFor('1001'), 1);
  t.equal(dir.loadedAt, 1_600_000, 'stamped with the clock');
  await clock.advance(600_000);
  t.same(asked, [1_600_000, 2_200_000]);
  t.equal(dir.userFor('1001'), 1, 'the failed refresh kept the map');
  t.match(dir.lastError, /HTTP 503/);
  await clock.advance(600_000);
  t.equal(dir.userFor('1001'), 2, 'the next one replaced it');
  t.equal(dir.lastError, null);
  dir.stop();
  await clock.advance(3_600_000);
  t.equal(asked.length, 3, 'stopped: no more refreshes');
  t.equal(clock.pending, 0);
});

t.test('a period of 0 never refreshes on its own', async (t) => {
  const { dir, clock, asked } = directory([[]]);
  dir.start(0);
  await clock.advance(86_400_000);
  t.same(asked, []);
  t.equal(clock.pending, 0);
});
