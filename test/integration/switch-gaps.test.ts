/**
 * Issue 15's load runs: the event socket dropped three times under 2 calls/s, and five kill -9
 * (no shutdown, a new service on the same data directory) under 1 call/s, while the office's calls
 * go on. The simulated switch runs on a ManualClock months before the service's own clock; what
 * the portal holds is compared with what the switch did (test/helpers/switch-truth.ts).
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { stack } from '../helpers/stack.js';
import { SwitchTruth, flush, run } from '../helpers/switch-truth.js';
import { ManualClock } from '../../lib/clock.js';
import { inboundCall, outboundCall, type ScenarioResult } from '../../lib/sim/freeswitch/index.js';
import type { FinishedCall } from '../../lib/sim/bitrix24/state.js';
import type { Stack } from '../../lib/demo/stack.js';

const T0 = Date.UTC(2025, 2, 14, 9, 0, 0);

async function truthStack(t: { teardown: (fn: () => unknown) => void }): Promise<{
  s: Stack;
  clock: ManualClock;
  truth: SwitchTruth;
}> {
  const clock = new ManualClock(T0);
  const s = await stack(t, { sim: { clock, heartbeatMs: 0 } });
  return { s, clock, truth: new SwitchTruth(s.sim.sw) };
}

const finishOf = (s: Stack, uuid: string): FinishedCall | undefined =>
  s.portal.state.finished.find((f) => f.EXTERNAL_CALL_ID === uuid);

interface Offered {
  kind: 'in-answered' | 'in-missed' | 'out-answered' | 'out-busy';
  done: Promise<ScenarioResult>;
}

/** One call of the office mix every `everyMs` of the switch's time, for `forMs`; `at` runs faults. */
async function office(
  s: Stack,
  clock: ManualClock,
  o: { everyMs: number; forMs: number; at: Map<number, () => Promise<void>> },
): Promise<Offered[]> {
  const sw = s.sim.sw;
  sw.setExtension('1001', { ringMs: 1500 });
  sw.setExtension('1004', { mode: 'noanswer' });
  const offered: Offered[] = [];
  const busy = (number: string, yes: boolean): string => {
    if (yes) sw.pstn[number] = { mode: 'busy' };
    return number;
  };
  for (let at = 0, i = 0; at < o.forMs; at += o.everyMs, i++) {
    const n = String(i).padStart(4, '0');
    const talkMs = 3000 + (i % 4) * 1000;
    const kinds = ['in-answered', 'in-missed', 'out-answered', 'out-busy'] as const;
    const kind = kinds[i % 4]!;
    const done =
      kind === 'in-answered'
        ? inboundCall(sw, { caller: `+7916100${n}`, did: '4951234567', extensions: ['1001', '1002'], talkMs })
        : kind === 'in-missed'
          ? inboundCall(sw, { caller: `+7916200${n}`, did: '4951234567', extensions: ['1004'], callerGivesUpMs: 4000 })
          : outboundCall(sw, { extension: '1003', number: busy(`7916300${n}`, kind === 'out-busy'), talkMs });
    offered.push({ kind, done });
    await run(clock, o.everyMs);
    await o.at.get(at + o.everyMs)?.();
  }
  await run(clock, 15_000); // every call ends
  await flush(s);
  return offered;
}

/**
 * What the portal must hold for each call, from what the switch did. Calls that began and ended
 * inside one gap are left out: nothing of them reached any listener, only their CDRs know them
 * (the CDR import). A call whose end fell into a gap has its true status (when what decided it
 * was seen), its recording, and a duration that is a lower bound with FAILED_REASON saying so:
 * its exact billsec is only in the CDR too.
 */
async function verify(
  t: Test,
  s: Stack,
  truth: SwitchTruth,
  offered: Offered[],
): Promise<{ exact: number; endedInGap: number; beganInGap: number; spanning: number; leftToCdr: number }> {
  const counts = { exact: 0, endedInGap: 0, beganInGap: 0, spanning: 0, leftToCdr: 0 };
  const calls = await Promise.all(offered.map(async (c) => ({ ...c, r: await c.done })));
  const expected = calls.filter((c) => {
    const { firstUs, lastUs } = truth.span(c.r.legs);
    const g = truth.gapOf(firstUs);
    const inside = g !== -1 && g === truth.gapOf(lastUs);
    if (inside) counts.leftToCdr++;
    return !inside;
  });
  const recorded = (c: (typeof calls)[number]): boolean => c.kind.startsWith('in-');
  await s.portal.journal.until(
    () =>
      expected.every((c) => finishOf(s, c.r.uuid)) &&
      expected
        .filter(recorded)
        .every((c) => s.portal.state.files.some((f) => f.CALL_ID === finishOf(s, c.r.uuid)?.CALL_ID)),
    60_000,
  );
  for (const c of expected) {
    const name = `${c.kind} ${c.r.uuid}`;
    const { firstUs, lastUs } = truth.span(c.r.legs);
    const trunk = truth.legs.get(c.kind.startsWith('in-') ? c.r.uuid : c.r.legs[1]!)!;
    const answered = trunk.bridgedUs > 0;
    const status = answered ? '200' : c.kind === 'out-busy' ? '486' : '304';
    const rows = s.portal.state.finished.filter((f) => f.EXTERNAL_CALL_ID === c.r.uuid);
    t.equal(rows.length, 1, `${name}: finished once`);
    const fin = rows[0]!;
    if (truth.gapOf(firstUs) !== -1) counts.beganInGap++;
    else if (truth.gaps.some(([from]) => firstUs <= from && lastUs > from)) counts.spanning++;
    if (truth.gapOf(lastUs) === -1) {
      counts.exact++;
      t.match(fin, { CALL_FAILED_CODE: status, CALL_DURATION: answered ? trunk.billsec : 0 }, name);
      t.equal(fin.CALL_FAILED_REASON, '', `${name}: nothing to excuse`);
    } else {
      counts.endedInGap++;
      const decidedInGap = answered ? truth.gapOf(trunk.bridgedUs) !== -1 : c.kind.startsWith('out-');
      if (!decidedInGap) t.equal(fin.CALL_FAILED_CODE, status, `${name}: ended in a gap, status known`);
      if (answered && !decidedInGap) {
        t.ok(Number(fin.CALL_DURATION) >= 1 && Number(fin.CALL_DURATION) <= trunk.billsec!, `${name}: lower bound`);
        t.match(fin.CALL_FAILED_REASON, /was down; the duration is a lower bound/, `${name}: says so`);
      }
    }
    if (recorded(c)) {
      const files = s.portal.state.files.filter((f) => f.CALL_ID === fin.CALL_ID);
      t.equal(files.length, 1, `${name}: its recording, once`);
      t.same(files[0]?.bytes, readFileSync(truth.legs.get(c.r.uuid)!.recording!), `${name}: the file`);
    }
  }
  const open = [...s.portal.state.active.values()].map((a) => `${a.EXTERNAL_CALL_ID} (user ${a.USER_ID})`);
  t.same(open, [], 'no call left open at the portal (none registered twice)');
  return counts;
}

t.test('the event socket dropped three times under 2 calls/s: every call lands once, true to the switch', async (t) => {
  const { s, clock, truth } = await truthStack(t);
  const at = new Map<number, () => Promise<void>>([
    [6000, () => truth.gap(s, clock, 1500)],
    [12_000, () => truth.gap(s, clock, 600)],
    [18_000, () => truth.gap(s, clock, 5000)], // refused for 5 s
  ]);
  const offered = await office(s, clock, { everyMs: 500, forMs: 24_000, at });
  const counts = await verify(t, s, truth, offered);
  t.equal(truth.gaps.length, 3);
  t.ok(counts.spanning >= 6 && counts.endedInGap >= 3 && counts.beganInGap >= 3, JSON.stringify(counts));
});

t.test('five kill -9 under 1 call/s: every call lands once, true to the switch', async (t) => {
  const { s, clock, truth } = await truthStack(t);
  const at = new Map<number, () => Promise<void>>(
    [6000, 12_000, 18_000, 24_000, 30_000].map((ms) => [ms, () => truth.restart(s, clock, 1100)]),
  );
  const offered = await office(s, clock, { everyMs: 1000, forMs: 34_000, at });
  const counts = await verify(t, s, truth, offered);
  t.equal(truth.gaps.length, 5);
  t.ok(counts.spanning >= 10 && counts.endedInGap >= 2, JSON.stringify(counts));
});
