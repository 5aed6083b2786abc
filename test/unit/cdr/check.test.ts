/** `check`, the CDR path: spool directories usable, files waiting or rejected there, open posts. */
import t from 'tap';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkCdr, type CdrCheckResult } from '../../../lib/cdr/check.js';
import { loadConfig } from '../../../lib/config.js';

async function run(overrides: Record<string, unknown>): Promise<CdrCheckResult[]> {
  const out: CdrCheckResult[] = [];
  await checkCdr(loadConfig({ overrides }), (r) => out.push(r));
  return out;
}

t.test('no spool directory: a warning that says what is lost and what to do', async (t) => {
  const [r] = await run({});
  t.match(r, {
    name: 'CDR spool',
    ok: true,
    warn: true,
    detail: /FSB24_CDR_SPOOL_DIRS is not set/,
    fix: /json_cdr\.conf\.xml/,
  });
});

t.test('each directory: missing, not writable, files waiting, rejected ones, all clear', async (t) => {
  const root = t.testdir({});
  const [clear, waiting, rejected, locked] = ['clear', 'waiting', 'rejected', 'locked'].map((d) => join(root, d));
  for (const d of [clear, waiting, rejected, locked]) mkdirSync(d as string);
  writeFileSync(join(waiting as string, 'cb34fbbb-0fe9-4b41-b856-43c5557f940e.cdr.json'), '{}\n');
  mkdirSync(join(rejected as string, 'rejected'));
  writeFileSync(join(rejected as string, 'rejected', '298d88bd-213c-4392-9937-8e145c4d4a59.cdr.json'), '%7B\n');
  chmodSync(locked as string, 0o500);
  t.teardown(() => {
    try {
      chmodSync(locked as string, 0o700);
    } catch {
      // removed already
    }
  });
  const results = await run({ 'cdr.spoolDirs': [clear, waiting, rejected, locked, join(root, 'missing')] });
  t.match(results, [
    { ok: true, detail: /clear: readable and writable; 0 file\(s\) waiting, 0 rejected/ },
    { ok: true, warn: true, detail: /1 file\(s\) waiting/, fix: /imports them when it starts/ },
    { ok: true, warn: true, detail: /1 rejected/, fix: /encode=false/ },
    // root ignores permission bits: then the locked directory passes like the clear one
    process.getuid?.() === 0 ? { ok: true } : { ok: false, detail: /not readable and writable/, fix: /group-writable/ },
    { ok: false, detail: /does not exist/, fix: /err-log-dir/ },
  ]);
});

t.test('a listener beyond loopback without credentials: a warning', async (t) => {
  const dir = t.testdir({});
  const open = await run({ 'http.host': '0.0.0.0', 'cdr.spoolDirs': [dir] });
  t.match(open.at(-1), { name: 'CDR posts', warn: true, fix: /FSB24_CDR_CREDENTIALS/ });
  const closed = await run({ 'http.host': '0.0.0.0', 'cdr.spoolDirs': [dir], 'cdr.credentials': 'fs:x' });
  t.notOk(closed.some((r) => r.name === 'CDR posts'));
  t.throws(() => loadConfig({ overrides: { 'cdr.credentials': 'no-colon' } }), /user:password/);
});
