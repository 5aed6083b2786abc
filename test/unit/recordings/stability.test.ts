/**
 * A recording goes only once it stopped changing for `stableMs` (a post-process hook may
 * still be writing after RECORD_STOP): time is moved on a ManualClock, never slept.
 */
import t from 'tap';
import { appendFileSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecordingUploader } from '../../../lib/recordings/uploader.js';
import { ManualClock } from '../../../lib/clock.js';
import { createLogger } from '../../../lib/log.js';
import type { Bitrix24Client } from '../../../lib/bitrix24/client.js';
import type { Job } from '../../../lib/store/store.js';

t.test('a growing file is sent only once its size stops changing, the whole of it', async (t) => {
  const dir = join(t.testdir(), 'rec');
  mkdirSync(dir);
  const file = join(dir, 'growing.wav');
  writeFileSync(file, 'RIFF');
  const clock = new ManualClock(1_000_000);
  // the file's mtime on the same (moved) clock, as the recorder writing it would leave it
  const pin = (): void => utimesSync(file, new Date(clock.now()), new Date(clock.now()));
  pin();
  const up = new RecordingUploader({
    client: {} as Bitrix24Client,
    dirs: [dir],
    log: createLogger('silent'),
    stableMs: 300,
    clock,
  });
  const job: Job = {
    id: 1,
    call: 'c',
    effect: { kind: 'attach', call: 'c', path: file },
    attempts: 0,
    nextAt: 0,
    createdAt: clock.now(),
    lastError: null,
  };
  t.match(await up.check(file, job), { why: 'recording still growing' }, 'first look: not known to be stable');
  for (let i = 0; i < 5; i++) {
    await clock.advance(200);
    appendFileSync(file, `-more${i}`);
    pin();
    t.match(await up.check(file, job), { why: 'recording still growing' }, `still written to (${i})`);
  }
  await clock.advance(299);
  t.match(await up.check(file, job), { why: 'recording still growing' }, '299 ms unchanged: not yet');
  await clock.advance(1);
  t.match(
    await up.check(file, job),
    { mode: 'inline', name: 'growing.wav', size: 'RIFF-more0-more1-more2-more3-more4'.length },
    '300 ms unchanged: the whole file goes',
  );
});
