/**
 * Two instances in one process on one real PostgreSQL (leases, LISTEN/NOTIFY and claims of the
 * server), one simulated switch, one emulated portal:
 * - `check` says who holds each lease, as the server says it (a dead holder never shows);
 * - the CDR back-fill is the first switch's holder's: FreeSWITCH's spool is imported there only
 *   (at its take, after each reconnect), a CDR posted to any instance is taken there once, and a
 *   CDR of a call sent live changes nothing.
 */
import t, { type Test } from 'tap';
import { mkdirSync, readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { stack, overrides } from '../helpers/stack.js';
import { testDatabase } from '../helpers/pg.js';
import { cdrCall, replayPost, withRecordingsDir, writeSpool, type CdrCapture } from '../helpers/cdr.js';
import { compose } from '../../bin/compose.js';
import { createLogger } from '../../lib/log.js';
import { check, type CheckResult } from '../../lib/check.js';
import { inboundCall } from '../../lib/sim/freeswitch/index.js';
import { writeWav } from '../../lib/sim/freeswitch/wav.js';
import type { Stack } from '../../lib/demo/stack.js';
import type { Runtime } from '../../lib/runtime.js';
import { ok } from '../helpers/portal.js';

const REGISTER = 'telephony.externalcall.register';
const FINISH = 'telephony.externalcall.finish';

interface Pair {
  s: Stack;
  a: Runtime;
  b: Runtime;
  url: string;
  spool: string;
  host: string;
}

/** A (the stack's service, holding everything) and B (standing by), on one database; a CDR spool both read. */
async function pair(t: Test, before?: (spool: string) => void): Promise<Pair> {
  const url = await testDatabase(t);
  const spool = join(t.testdir({}), 'json_cdr');
  mkdirSync(spool);
  const config = { 'database.url': url, instanceId: 'A', 'cdr.spoolDirs': [spool], 'cdr.maxAgeHours': 0 };
  const s = await stack(t, { config });
  before?.(spool);
  const b = compose({ config: { ...s.config, instanceId: 'B' }, log: createLogger('silent'), recordingsStableMs: 0 });
  await b.start();
  t.teardown(() => b.stop());
  return { s, a: s.service, b, url, spool, host: new URL(s.portal.url).host };
}

/** Resolves once `rt` holds (or no longer holds) `lease`. */
function holding(rt: Runtime, lease: string, want = true): Promise<void> {
  const has = (): boolean => rt.cluster?.health().holds.includes(lease) ?? false;
  if (has() === want) return Promise.resolve();
  return new Promise((resolve) => rt.cluster?.onChange(() => has() === want && resolve()));
}

/** Spool files as FreeSWITCH left them, old enough to be whole (a file changed in the last 2 s is left). */
function spoolCall(dir: string, legs: readonly CdrCapture[]): void {
  const old = new Date(Date.now() - 60_000);
  for (const leg of legs) utimesSync(join(dir, writeSpool(dir, leg)), old, old);
}

const cdrOf = async (rt: Runtime): Promise<Record<string, number>> =>
  (await rt.health()).body.cdr as Record<string, number>;

const lease = (r: CheckResult[], name: string): CheckResult | undefined => r.find((x) => x.name === `lease ${name}`);

t.test('check: who holds each lease, from the server; a killed holder is never shown', async (t) => {
  const { s, b, url, host } = await pair(t);
  const run = (): Promise<CheckResult[]> => check({ overrides: overrides(s, { 'database.url': url }) });
  // B asks for its leases right after its start: wait until the server shows it waiting
  let r = await run();
  for (let i = 0; i < 50 && !/standing by: B/.test(lease(r, 'switch:default')?.detail ?? ''); i++) r = await run();
  t.match(lease(r, 'switch:default'), { ok: true, detail: 'held by A; standing by: B' });
  t.match(lease(r, `portal:${host}`), { ok: true, detail: /^held by A/ });
  t.match(lease(r, `refresh:${host}`), { ok: true, detail: 'free (taken only while a token is refreshed)' });
  t.notOk(lease(r, 'switch:default')?.warn);

  // A's database sessions die (as with kill -9 of its box): the server frees its locks, B takes them
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  t.teardown(() => admin.end());
  const took = Promise.all([holding(b, 'switch:default'), holding(b, `portal:${host}`)]);
  const killed = await admin.query(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'fsb24@A'",
  );
  t.ok(killed.rowCount && killed.rowCount >= 2, "A's lease connections named it");
  await took;
  r = await run();
  t.match(lease(r, 'switch:default'), { ok: true, detail: /^held by B/ }, 'the dead holder is not shown');
  t.match(lease(r, `portal:${host}`), { ok: true, detail: /^held by B/ });

  await s.stopService();
  await b.stop();
  r = await run();
  t.match(lease(r, 'switch:default'), {
    ok: true,
    warn: true,
    detail: 'held by no instance: nobody listens to this switch',
    fix: /start the service/,
  });
  t.match(lease(r, `portal:${host}`), { warn: true, detail: /held by no instance: nothing is sent to this portal/ });
});

t.test("the spool is imported by the first switch's holder only: after its reconnect, at a takeover", async (t) => {
  const { s, a, b, spool } = await pair(t, (dir) => spoolCall(dir, cdrCall('outbound-answered')));
  // B started with the spool full: it is not the holder, it took nothing
  t.match(await cdrOf(b), { owner: false, imported: 0, accepted: 0 });
  // A's switch drops and comes back: A's pass takes the files
  const back = new Promise<void>((r) => a.switch.listener.once('ready', () => r()));
  s.sim.dropConnections();
  await back;
  const reg = await s.portal.journal.next(ok(REGISTER));
  t.equal(reg.params.EXTERNAL_CALL_ID, cdrCall('outbound-answered')[0]?.uuid);
  await s.portal.journal.next(ok(FINISH));
  t.match(await cdrOf(a), { owner: true, imported: 2 });
  t.match(await cdrOf(b), { imported: 0 });
  t.same(readdirSync(join(spool, 'imported')).length, 2);

  // A stops; B takes the switch and imports what FreeSWITCH spooled meanwhile before it listens
  spoolCall(spool, cdrCall('outbound-busy'));
  const took = holding(b, 'switch:default');
  await s.stopService();
  await took;
  const busy = await s.portal.journal.next((r) => ok(FINISH)(r) && r.params.STATUS_CODE === '486', 15_000);
  t.ok(busy, 'the busy call, from the spool, by B');
  t.match(await cdrOf(b), { owner: true, imported: 2 });
  const regs = s.portal.journal.entries.filter(ok(REGISTER));
  t.equal(regs.length, 2, 'each call registered once');
  t.equal(s.portal.journal.entries.filter(ok(FINISH)).length, 2, 'and finished once');
  t.ok(
    s.portal.journal.entries
      .filter((r) => r.method.startsWith('telephony.'))
      .every((r) => r.agent?.includes('instance')),
  );
});

t.test(
  'a CDR posted to the standby is taken by the holder, once; a CDR of a call sent live changes nothing',
  async (t) => {
    const { s, a, b } = await pair(t);
    const missed = cdrCall('inbound-missed');
    for (const leg of [...missed].reverse()) t.equal(await replayPost(b.url, leg), 200, `${leg.name} to B`);
    const reg = await s.portal.journal.next(ok(REGISTER));
    t.equal(reg.params.EXTERNAL_CALL_ID, missed[0]?.uuid);
    t.match((await s.portal.journal.next(ok(FINISH))).params, { STATUS_CODE: '304' });
    // FreeSWITCH posts again (a lost 200), to both
    for (const leg of missed) {
      t.equal(await replayPost(a.url, leg), 200);
      t.equal(await replayPost(b.url, leg), 200);
    }
    t.match(await cdrOf(a), { accepted: 9, sent: 1, heldCalls: 0 }, 'every CDR taken by A; the call sent once');
    t.match(await cdrOf(b), { accepted: 0, sent: 0 }, 'B took none itself');

    // a call the switch showed live, answered and ended: its CDRs, posted to B, change nothing
    const rec = s.config.recordings.dirs[0] as string;
    s.sim.sw.setExtension('1001', { ringMs: 1000 });
    const call = await inboundCall(s.sim.sw, {
      caller: '+79161234567',
      did: '4951234567',
      extensions: ['1001'],
      talkMs: 2000,
      uuid: 'b035bbb9-a2da-43e1-8679-91ff4a158ea3',
    });
    await s.portal.journal.next((r) => ok(FINISH)(r) && r.params.STATUS_CODE === '200');
    await s.portal.journal.next(ok('telephony.externalcall.attachrecord'));
    await a.portal.outbox.idle();
    const seen = s.portal.journal.entries.length;
    const legs = cdrCall('inbound-answered').map((c) => withRecordingsDir(c, rec));
    writeWav(join(rec, `${call.uuid}.wav`), 1);
    for (const leg of [...legs].reverse()) t.equal(await replayPost(b.url, leg), 200, `${leg.name} to B`);
    await a.portal.outbox.idle();
    t.equal(s.portal.journal.entries.length, seen, 'the portal hears nothing more');
    t.match(await cdrOf(a), { accepted: 12, sent: 1 });
  },
);
