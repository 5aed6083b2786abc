/**
 * FreeSWITCH's spool (mod_json_cdr's err-log-dir) imported as the module leaves it: whole files
 * are taken once their CDR is durable and moved to imported/, a file still being written (no
 * final LF, or changed within the stable time) is left for the next pass, and files that will
 * never parse (encode=true) are moved to rejected/.
 */
import t from 'tap';
import { copyFileSync, existsSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Backfill, type CallSent } from '../../../lib/cdr/backfill.js';
import { parseCdrText } from '../../../lib/cdr/parse.js';
import { defaultModelConfig } from '../../../lib/calls/model.js';
import { ManualClock } from '../../../lib/clock.js';
import { createLogger } from '../../../lib/log.js';
import type { Effect } from '../../../lib/calls/effects.js';
import { CDR_FIXTURES_DIR } from '../../helpers/fixtures.js';

const SPOOL = join(CDR_FIXTURES_DIR, 'spool');

function harness(dir: string, clock: ManualClock) {
  const kv = new Map<string, unknown>();
  const state = new Map<string, CallSent>();
  const submitted: Effect[] = [];
  const b = new Backfill(
    {
      kv: { get: async <T>(k: string) => (kv.get(k) as T) ?? null, set: async (k, v) => void kv.set(k, v) },
      sent: async (call) => state.get(call) ?? 'unknown',
      submit: async (call, effects) => {
        submitted.push(...effects);
        state.set(call, 'finished');
      },
      followed: () => false,
    },
    {
      model: defaultModelConfig,
      spoolDirs: [dir],
      graceMs: 20_000,
      maxAgeMs: 0,
      parse: (text) => parseCdrText(text),
      clock,
      log: createLogger('silent'),
      stableMs: 2000,
    },
  );
  return { b, submitted };
}

/** Files' modification time, seconds ago of the clock's now. */
const age = (clock: ManualClock, path: string, ms: number): void => {
  const at = (clock.now() - ms) / 1000;
  utimesSync(path, at, at);
};

t.test('a pass takes whole files, leaves one being written, rejects what never parses', async (t) => {
  const dir = t.testdir({});
  const clock = new ManualClock(Date.now());
  for (const f of readdirSync(join(SPOOL, 'not-listening')))
    copyFileSync(join(SPOOL, 'not-listening', f), join(dir, f));
  for (const f of readdirSync(join(SPOOL, 'encode-true-500')))
    copyFileSync(join(SPOOL, 'encode-true-500', f), join(dir, f));
  // FreeSWITCH is writing the A leg of the retry-500 call: half of it, no final LF yet
  const [bFile, aFile] = [
    '007fc801-1b4b-4574-a2da-2025025a62c7.cdr.json',
    '376a7b10-63d0-43fe-a4be-220037a3f9c9.cdr.json',
  ];
  const whole = readFileSync(join(SPOOL, 'retry-500', aFile));
  writeFileSync(join(dir, aFile), whole.subarray(0, 4000));
  copyFileSync(join(SPOOL, 'retry-500', bFile), join(dir, bFile));
  for (const f of readdirSync(dir)) age(clock, join(dir, f), 60_000);
  age(clock, join(dir, aFile), 0);
  const h = harness(dir, clock);
  await h.b.start();
  t.same(
    h.submitted.filter((e) => e.kind === 'finish').map((e) => e.call),
    ['d1620dbb-1e1b-4ef7-a057-504f10074512'],
    'the not-listening call, from its two files',
  );
  t.same(
    readdirSync(join(dir, 'imported')).sort(),
    [
      '007fc801-1b4b-4574-a2da-2025025a62c7.cdr.json',
      'cb34fbbb-0fe9-4b41-b856-43c5557f940e.cdr.json',
      'd1620dbb-1e1b-4ef7-a057-504f10074512.cdr.json',
    ],
    'taken once durable (the B leg of the retry-500 call is held for its A leg)',
  );
  t.same(readdirSync(join(dir, 'rejected')).sort(), readdirSync(join(SPOOL, 'encode-true-500')).sort(), 'encode=true');
  t.ok(existsSync(join(dir, aFile)), 'the file being written is left where it is');
  t.match(h.b.health(), { spoolFilesLeft: 1, heldCalls: 1 });

  // FreeSWITCH finishes writing it (the rest and the LF); the next pass, once it is stable, takes it
  writeFileSync(join(dir, aFile), whole);
  age(clock, join(dir, aFile), 0);
  await h.b.importSpool();
  t.ok(existsSync(join(dir, aFile)), 'changed just now: left again');
  await clock.advance(2000);
  await h.b.importSpool();
  t.notOk(existsSync(join(dir, aFile)));
  t.match(
    h.submitted.filter((e) => e.kind === 'finish'),
    [{ call: 'd1620dbb-1e1b-4ef7-a057-504f10074512' }, { call: '376a7b10-63d0-43fe-a4be-220037a3f9c9', duration: 5 }],
  );
  t.match(h.b.health(), { spoolFilesLeft: 0, heldCalls: 0, imported: 4, rejected: 2 });
});

t.test('a file that never got its final LF is rejected after a long while, not taken', async (t) => {
  const dir = t.testdir({});
  const clock = new ManualClock(Date.now());
  const name = 'cb34fbbb-0fe9-4b41-b856-43c5557f940e.cdr.json';
  writeFileSync(join(dir, name), readFileSync(join(SPOOL, 'not-listening', name)).subarray(0, 100));
  age(clock, join(dir, name), 3_600_000);
  const h = harness(dir, clock);
  await h.b.start();
  t.same(readdirSync(join(dir, 'rejected')), [name]);
  t.same(h.submitted, []);
});

t.test('a spool directory that does not exist is reported, nothing breaks', async (t) => {
  const clock = new ManualClock(Date.now());
  const h = harness(join(t.testdir({}), 'missing'), clock);
  await h.b.start();
  t.same(h.submitted, []);
});
