/**
 * Issue 15's scenario as it stands: two simulated switches, two instances in one process on one
 * real PostgreSQL, one emulated portal with the standard bucket (burst 50, 2/s). A holds fs1 and
 * the portal, B holds fs2. Calls at 15 calls/s in total over both switches, on the switches'
 * clock (moved by the test, never slept): every call is registered once and finished once, only
 * the portal's holder speaks to the portal, and the portal never answers QUERY_LIMIT_EXCEEDED.
 * Then a click-to-call for an employee registered on fs2, posted to A (which does not hold fs2),
 * is placed on fs2 (by B), once, and nothing on fs1.
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { compose } from '../../bin/compose.js';
import { standOverrides } from '../../lib/demo/stack.js';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import { ManualClock } from '../../lib/clock.js';
import { leaseStates } from '../../lib/store/index.js';
import { startFreeswitchSim, inboundCall, type FreeswitchSim } from '../../lib/sim/freeswitch/index.js';
import { startBitrix24Emulator, type PortalRequest } from '../../lib/sim/bitrix24/index.js';
import type { Runtime } from '../../lib/runtime.js';
import { testDatabase } from '../helpers/pg.js';
import { run } from '../helpers/switch-truth.js';
import { ok } from '../helpers/portal.js';

const originates = (sim: FreeswitchSim): string[] =>
  sim.commands.entries.filter((c) => c.line.startsWith('bgapi originate')).map((c) => c.line);

/** Calls in total per second of the switches' clock, and for how long. */
const RATE = 15;
const SECONDS = 5;

/** Resolves once `rt` holds (or no longer holds) `lease`. */
function holding(rt: Runtime, lease: string, want = true): Promise<void> {
  const has = (): boolean => rt.cluster?.health().holds.includes(lease) ?? false;
  if (has() === want) return Promise.resolve();
  return new Promise((resolve) => rt.cluster?.onChange(() => has() === want && resolve()));
}

t.test(
  'two switches, two instances, one portal at 15 calls/s; a click-to-call placed on the second switch',
  async (t) => {
    const url = await testDatabase(t);
    const dir = mkdtempSync(join(tmpdir(), 'fsb24-cluster-switches-'));
    const rec = join(dir, 'rec');
    const clock = new ManualClock(Date.now());
    const pstn = { '+79031112233': { mode: 'answer' as const, ringMs: 1000, talkMs: 2000 } };
    const fs1 = await startFreeswitchSim({ clock, recordingsDir: rec, pstn, extensions: { '1001': { ringMs: 1000 } } });
    const fs2 = await startFreeswitchSim({ clock, recordingsDir: rec, pstn, extensions: { '1002': { ringMs: 1000 } } });
    const portal = await startBitrix24Emulator({ burst: 50, drainPerSec: 2 });
    portal.state.addUser({ ID: 1, NAME: 'Olga', LAST_NAME: 'Admin', UF_PHONE_INNER: '' });
    portal.state.addUser({ ID: 11, NAME: 'Anna', LAST_NAME: 'One', UF_PHONE_INNER: '1001' });
    portal.state.addUser({ ID: 12, NAME: 'Boris', LAST_NAME: 'Two', UF_PHONE_INNER: '1002' });
    const config = (instanceId: string) =>
      loadConfig({
        overrides: {
          switches: JSON.stringify([
            { name: 'fs1', host: fs1.host, port: fs1.port, password: 'ClueCon' },
            { name: 'fs2', host: fs2.host, port: fs2.port, password: 'ClueCon' },
          ]),
          'database.url': url,
          instanceId,
          ...standOverrides(portal, join(dir, 'data'), rec),
        },
      });
    const make = (id: string): Runtime =>
      compose({ config: config(id), log: createLogger('silent'), recordingsStableMs: 0 });
    const a = make('A');
    const b = make('B');
    t.teardown(async () => {
      await b.stop().catch(() => undefined);
      await a.stop().catch(() => undefined);
      await fs1.close();
      await fs2.close();
      await portal.close();
    });
    const up = (rt: Runtime, name: string): Promise<void> => {
      const sw = rt.switches.find((s) => s.name === name);
      if (!sw) throw new Error(`no switch ${name}`);
      return sw.listener.connected ? Promise.resolve() : new Promise((r) => sw.listener.once('ready', () => r()));
    };
    await a.start();
    await Promise.all([up(a, 'fs1'), up(a, 'fs2')]);
    t.equal(await portal.install(`${a.url}/bitrix24/events`), 200, 'installed');
    await portal.journal.until(() => portal.state.handlers.length >= 2, 10_000);
    await a.portal.directory.refresh();
    await b.start();

    // B stands by for everything; fs2's lease goes to it when A's connection holding it dies
    let waiting = await leaseStates(url, '', ['switch:fs2']);
    for (let i = 0; i < 100 && !waiting.get('switch:fs2')?.waiting.includes('B'); i++)
      waiting = await leaseStates(url, '', ['switch:fs2']);
    t.same(waiting.get('switch:fs2'), { holder: 'A', cut: false, waiting: ['B'] }, 'B stands by for fs2');
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    t.teardown(() => admin.end());
    const moved = Promise.all([holding(b, 'switch:fs2'), holding(a, 'switch:fs2', false), up(b, 'fs2')]);
    await admin.query(
      `SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid
     CROSS JOIN LATERAL (SELECT hashtextextended('freeswitch-bitrix24::switch:fs2', 0) AS k) h
     WHERE s.application_name = 'fsb24@A' AND l.locktype = 'advisory' AND l.granted
       AND l.classid::bigint = ((h.k >> 32) & 4294967295) AND l.objid::bigint = (h.k & 4294967295)`,
    );
    await moved;
    const host = new URL(portal.url).host;
    t.same(a.cluster?.health().holds.sort(), ['portal:' + host, 'switch:fs1'].sort(), 'A: fs1 and the portal');
    t.same(b.cluster?.health().holds, ['switch:fs2'], 'B: fs2');
    portal.journal.clear();

    // 15 calls/s over both switches for 5 s of their clock, alternating, each rung 1 s and talked 1 s
    const calls: Array<Promise<{ uuid: string }>> = [];
    const total = RATE * SECONDS;
    for (let i = 0; i < total; i++) {
      const on = i % 2 === 0 ? fs1 : fs2;
      calls.push(
        inboundCall(on.sw, {
          caller: `+7916${String(1_000_000 + i)}`,
          did: '4951234567',
          extensions: [i % 2 === 0 ? '1001' : '1002'],
          talkMs: 1000,
          record: false,
        }),
      );
      await clock.advance(1000 / RATE);
    }
    await run(clock, 4000);
    const placed = await Promise.all(calls);
    t.equal(placed.length, total);
    const finishes = (): PortalRequest[] => portal.journal.entries.filter(ok('telephony.externalcall.finish'));
    await portal.journal.until(() => finishes().length >= total, 25_000);
    await a.portal.outbox.idle();
    const regs = portal.journal.entries.filter(ok('telephony.externalcall.register'));
    t.equal(regs.length, total, 'every call registered once');
    t.same(new Set(regs.map((r) => r.params.EXTERNAL_CALL_ID)), new Set(placed.map((c) => c.uuid)));
    t.equal(finishes().length, total, 'every call finished once');
    t.equal(new Set(finishes().map((r) => r.params.CALL_ID)).size, total);
    const users = (u: number): number => regs.filter((r) => Number(r.params.USER_ID) === u).length;
    t.same([users(11), users(12)], [Math.ceil(total / 2), Math.floor(total / 2)], "each switch's calls, its user's");
    t.equal(portal.bucket.refused, 0, 'the portal never answered QUERY_LIMIT_EXCEEDED');
    t.notOk(portal.journal.entries.some((r) => r.error === 'QUERY_LIMIT_EXCEEDED'));
    t.comment(`the bucket peaked at ${portal.bucket.peak.toFixed(1)} of 50 (${portal.bucket.admitted} requests)`);
    const agents = new Set(portal.journal.entries.map((r) => r.agent));
    t.same([...agents], ['freeswitch-bitrix24 (instance A)'], "only the portal's holder spoke to it");

    // Boris (1002) is registered on fs2 only; his click is posted to A, which does not hold fs2
    const before = { fs1: originates(fs1).length, fs2: originates(fs2).length };
    const { callId, statuses } = await portal.clickToCall({
      userId: 12,
      phone: '+79031112233',
      lineNumber: '4951234567',
      to: [`${a.url}/bitrix24/events`],
    });
    t.same(statuses, [200]);
    const cmd = await fs2.nextCommand('bgapi originate');
    t.match(cmd.line, /user\/1002/, 'the originate reached fs2, for 1002');
    await run(clock, 5000);
    const fin = await portal.journal.next(
      (r) => ok('telephony.externalcall.finish')(r) && r.params.CALL_ID === callId,
      15_000,
    );
    t.match(fin.params, { USER_ID: 12, STATUS_CODE: '200' });
    t.equal(originates(fs2).length, before.fs2 + 1, 'placed once on fs2');
    t.equal(originates(fs1).length, before.fs1, 'nothing on fs1');
  },
);
