/**
 * Issue 12, point 5: recovery drains at once. The office's calls (bench/office.ts: answered and missed incoming
 * calls, answered and busy outgoing ones, recorded) at 2 calls/s for ten minutes while the portal is down, then the
 * portal comes back: everything lands within 60 s through the standard bucket (burst 50, 2 requests/s) in full
 * batches, and a call that starts during the drain has its register in the very next request. The switch, the
 * service and the portal share one ManualClock: the ten minutes cost no real waiting.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compose } from '../../bin/compose.js';
import { ManualClock } from '../../lib/clock.js';
import { startStack } from '../../lib/demo/stack.js';
import type { PortalRequest } from '../../lib/sim/bitrix24/index.js';
import { office, play, schedule, type Arrival } from '../../bench/office.js';
import { flush } from '../helpers/switch-truth.js';

// ten minutes of an office at full scale: about 20 s on a quiet 2-core machine, more when it is busy
t.setTimeout(180_000);

const RATE = 2; // calls per second
const OUTAGE_MS = 600_000;
const TARGET_MS = 60_000;
const PROBE_MS = 5000;
const REGISTER = 'telephony.externalcall.register';

/** The commands one batch request carried, in order. */
function commandsOf(r: PortalRequest): Array<{ method: string; query: string }> {
  const cmd = r.params.cmd;
  if (!cmd || typeof cmd !== 'object') return [];
  return Object.values(cmd as Record<string, unknown>).map((v) => {
    const [method = '', query = ''] = String(v).split(/\?(.*)/s);
    return { method: method.toLowerCase(), query };
  });
}

interface Played {
  arrival: Arrival;
  uuid: string;
  startedAt: number;
  /** Requests the portal had received when the call began. */
  requestsBefore: number;
  done: Promise<{ uuid: string; recorded: boolean }>;
  recorded?: boolean;
}

t.test('a ten-minute outage at 2 calls/s: probed every 5 s, then drained within 60 s, new cards first', async (t) => {
  const clock = new ManualClock(Date.UTC(2025, 4, 20, 9, 0, 0));
  const dir = mkdtempSync(join(tmpdir(), 'fsb24-recovery-'));
  const s = await startStack({
    dataDir: join(dir, 'data'),
    recordingsDir: join(dir, 'rec'),
    compose: (o) => compose(o, clock),
    sim: { clock, heartbeatMs: 0 },
    emulator: { now: () => clock.now() }, // the standard bucket (50, 2/s) on the same clock
  });
  t.teardown(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  office(s.sim.sw);
  for (let i = 0; i < 100; i++) {
    s.portal.state.addUser({ ID: 100 + i, UF_PHONE_INNER: String(2000 + i) });
    s.portal.state.addUser({ ID: 300 + i, UF_PHONE_INNER: String(3000 + i) });
  }
  await s.service.portal.directory.refresh();
  const outbox = s.service.portal.outbox;
  const requests = (): PortalRequest[] => s.portal.journal.entries.filter((r) => !r.batch);
  /** Move the clock; then everything the switch said is handled and no request is under way. */
  const step = async (ms: number): Promise<void> => {
    await clock.advance(ms);
    await flush(s);
    await outbox.quiet();
  };

  const arrivals = schedule(RATE, (OUTAGE_MS + TARGET_MS) / 1000, 1);
  const played: Played[] = [];
  let arriving = true;
  let next = 0;
  const t0 = clock.now();
  const start = (a: Arrival): void => {
    const p: Partial<Played> = { arrival: a, startedAt: clock.now(), requestsBefore: requests().length };
    p.done = play(s.sim.sw, a, 1000, (uuid) => (p.uuid = uuid)); // 1 s of talk, as in the benchmark
    void p.done.then((r) => (p.recorded = r.recorded));
    played.push(p as Played);
  };
  const run = async (ms: number, stepMs: number): Promise<void> => {
    for (const until = clock.now() + ms; clock.now() < until;) {
      const first = next;
      while (arriving && next < arrivals.length && t0 + arrivals[next]!.at <= clock.now()) start(arrivals[next++]!);
      if (next > first) await step(0); // the service knows of the new calls before the clock moves on
      await step(Math.min(stepMs, until - clock.now()));
    }
  };
  /** Registered, finished, and its recording attached. */
  const landed = (calls: Played[]): boolean => {
    const callIds = new Map(s.portal.state.finished.map((f) => [f.EXTERNAL_CALL_ID, f.CALL_ID]));
    const files = new Set(s.portal.state.files.map((f) => f.CALL_ID));
    return calls.every(
      (p) => p.recorded !== undefined && callIds.has(p.uuid) && (!p.recorded || files.has(callIds.get(p.uuid)!)),
    );
  };

  s.portal.setOutage('http500');
  const probesBefore = s.portal.outageRequests;
  await run(OUTAGE_MS, 500); // nothing can go out: coarser steps
  const queued = played.slice();
  const probes = s.portal.outageRequests - probesBefore;
  t.ok(queued.length >= RATE * 570, `${queued.length} calls queued during the outage`);
  t.ok(probes <= OUTAGE_MS / PROBE_MS + 1, `the portal was probed ${probes} times in 600 s: at most once per 5 s`);
  t.equal(s.portal.state.finished.length, 0, 'nothing reached the portal while it was down');

  s.portal.setOutage('none');
  const back = clock.now();
  const before = requests().length;
  while (!landed(queued) && clock.now() - back < TARGET_MS) await run(100, 100);
  const drainMs = clock.now() - back;
  t.ok(landed(queued), `the ${queued.length} queued calls landed ${drainMs / 1000} s after the portal's return`);
  t.ok(drainMs <= TARGET_MS, 'within 60 s');
  const drain = requests().slice(before);
  // the calls that began during the drain end and land too; none begins after it
  arriving = false;
  while (!landed(played) && clock.now() - back < 2 * TARGET_MS) await run(500, 100);
  const ended = await Promise.all(played.map((p) => p.done));

  const registers = s.portal.journal.entries.filter((r) => r.method === REGISTER && r.status === 200);
  const count = <K>(xs: K[]): Map<K, number> => {
    const m = new Map<K, number>();
    for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
    return m;
  };
  const regs = count(registers.map((r) => String(r.params.EXTERNAL_CALL_ID)));
  const fins = count(s.portal.state.finished.map((f) => String(f.EXTERNAL_CALL_ID)));
  const files = count(s.portal.state.files.map((f) => f.CALL_ID));
  const callId = new Map(s.portal.state.finished.map((f) => [String(f.EXTERNAL_CALL_ID), f.CALL_ID]));
  const wrong = ended.filter(
    (c) =>
      regs.get(c.uuid) !== 1 ||
      fins.get(c.uuid) !== 1 ||
      (files.get(callId.get(c.uuid) ?? '') ?? 0) !== (c.recorded ? 1 : 0),
  );
  t.equal(wrong.length, 0, `each of ${ended.length} calls registered once, finished once, its recording attached once`);
  t.equal(
    s.portal.journal.entries.filter((r) => r.error === 'QUERY_LIMIT_EXCEEDED').length,
    0,
    'the portal never answered QUERY_LIMIT_EXCEEDED',
  );

  const commands = drain.reduce((n, r) => n + commandsOf(r).length, 0);
  t.comment(
    `drain: ${drain.length} requests, ${commands} commands, ${(commands / drain.length).toFixed(1)} per request`,
  );
  t.ok(drain.length <= Math.ceil(commands / 50) + 3, `${drain.length} requests for ${commands} commands: full batches`);

  // a call that began during the drain: its register in the very next request, ahead of the backlog
  const late = played.filter((p) => p.startedAt > back && p.startedAt < back + drainMs);
  t.ok(late.length >= 10, `${late.length} calls began during the drain`);
  // still ringing or talking: calls that began up to 5 s before the portal's return (they ring 2 s, talk 1 s)
  const live = new Set(played.filter((p) => p.startedAt > back - 5000).map((p) => p.uuid));
  const firsts = late.map((p) => {
    const after = requests().slice(p.requestsBefore);
    const own = (c: { method: string; query: string }): boolean =>
      c.method === REGISTER && c.query.includes(`EXTERNAL_CALL_ID=${p.uuid}`);
    const i = after.findIndex((r) => commandsOf(r).some(own));
    const cmds = i >= 0 ? commandsOf(after[i]!) : [];
    const ahead = cmds.slice(0, cmds.findIndex(own));
    // ahead of it, only the cards of other live calls
    const cardsOnly = ahead.every(
      (c) =>
        c.method === 'telephony.externalcall.show' ||
        (c.method === REGISTER && live.has(/EXTERNAL_CALL_ID=([^&]+)/.exec(c.query)?.[1] ?? '')),
    );
    return { i, cardsOnly };
  });
  t.same(
    firsts.map((x) => x.i),
    late.map(() => 0),
    'each registered in the very next request',
  );
  t.ok(
    firsts.every((x) => x.cardsOnly),
    'ahead of the backlog: only the cards of live calls before it',
  );
});
