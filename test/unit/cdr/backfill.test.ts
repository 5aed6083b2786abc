/**
 * The back-fill (lib/cdr/backfill.ts) on a moved clock, with its ports faked: legs held until
 * their call is whole, what is sent for a call never seen / registered live / finished live, calls
 * left to the switch while it follows them, guesses replaced by a CDR arriving in time, and legs
 * that outlive a restart.
 */
import t from 'tap';
import { Backfill, type BackfillPorts, type CallSent } from '../../../lib/cdr/backfill.js';
import { parseCdrBody, parseCdrText, type CdrLeg } from '../../../lib/cdr/parse.js';
import { defaultModelConfig } from '../../../lib/calls/model.js';
import { ManualClock } from '../../../lib/clock.js';
import { createLogger } from '../../../lib/log.js';
import type { Effect } from '../../../lib/calls/effects.js';
import { cdrCall } from '../../helpers/cdr.js';

const GRACE = 20_000;
const legs = (call: string): CdrLeg[] => cdrCall(call).map((c) => parseCdrBody(c.body, c.contentType));
const [A, B1001, B1002] = legs('inbound-answered') as [CdrLeg, CdrLeg, CdrLeg];

function harness(o: { kv?: Map<string, unknown>; spoolDirs?: string[]; maxAgeMs?: number } = {}) {
  const clock = new ManualClock(Date.UTC(2026, 11, 2, 1, 0, 0));
  const kv = o.kv ?? new Map<string, unknown>();
  const state = new Map<string, CallSent>();
  const followed = new Set<string>();
  const submitted: Effect[] = [];
  const ports: BackfillPorts = {
    kv: {
      get: async <T>(k: string) => (kv.has(k) ? (structuredClone(kv.get(k)) as T) : null),
      set: async (k, v) => void kv.set(k, structuredClone(v)),
    },
    sent: async (call) => state.get(call) ?? 'unknown',
    submit: async (call, effects) => {
      submitted.push(...effects);
      state.set(call, effects.some((e) => e.kind === 'finish') ? 'finished' : 'registered');
    },
    followed: (call) => followed.has(call),
  };
  const b = new Backfill(ports, {
    model: defaultModelConfig,
    spoolDirs: o.spoolDirs ?? [],
    graceMs: GRACE,
    maxAgeMs: o.maxAgeMs ?? 0,
    parse: (text) => parseCdrText(text),
    clock,
    log: createLogger('silent'),
  });
  const kinds = (): string[] => submitted.map((e) => e.kind);
  const held = (): number => Object.keys((kv.get('cdr.held') as object | undefined) ?? {}).length;
  return { b, clock, kv, state, followed, submitted, kinds, held };
}

t.test('a call never seen: sent once its A leg and the legs it names are in, whatever their order', async (t) => {
  const h = harness();
  await h.b.load();
  await h.b.accept(B1002);
  await h.b.accept(B1001);
  t.same(h.submitted, [], 'B legs alone wait for their A leg');
  t.equal(h.held(), 1, 'held durably');
  await h.b.accept(A);
  t.same(h.kinds(), ['register', 'finish', 'attach']);
  t.match(h.submitted[0], { startIso: '2026-12-02T00:39:20+00:00', extension: '1001', show: false });
  t.match(h.submitted[1], { status: '200', duration: 5, extension: '1001' });
  t.equal(h.held(), 0, 'nothing left held');
  await h.b.accept(B1001);
  t.equal(h.held(), 0, 'a sibling that comes again after its call was settled is dropped');
  t.equal(h.submitted.length, 3);
});

t.test('an A leg waits for the siblings it names, at most the grace period', async (t) => {
  const h = harness();
  await h.b.accept(A);
  await h.b.accept(B1001);
  t.same(h.submitted, [], 'the ring-group loser is still missing');
  await h.clock.advance(GRACE - 1);
  t.same(h.submitted, []);
  await h.clock.advance(1);
  t.same(h.kinds(), ['register', 'finish', 'attach'], 'settled without it once the grace period is over');
  t.match(h.submitted[1], { status: '200', duration: 5, candidates: ['1001'] });
});

t.test('a call registered live: only its finish and recording; finished live: nothing', async (t) => {
  const h = harness();
  h.state.set(A.uuid, 'registered');
  for (const l of [B1002, B1001, A]) await h.b.accept(l);
  t.same(h.kinds(), ['finish', 'attach']);
  const done = harness();
  done.state.set(A.uuid, 'finished');
  for (const l of [B1002, B1001, A]) await done.b.accept(l);
  t.same(done.submitted, [], 'recognised by its uuid: changes nothing');
  t.equal(done.held(), 0);
});

t.test('a call the switch follows is left to it; its legs settle it if it stops following', async (t) => {
  const h = harness();
  h.followed.add(A.uuid);
  for (const l of [B1002, B1001, A]) await h.b.accept(l);
  t.same(h.submitted, [], 'the live model finishes it');
  t.equal(h.held(), 0, 'nothing written for a followed call');
  await h.clock.advance(GRACE);
  t.same(h.submitted, [], 'still followed');
  h.followed.delete(A.uuid); // the event socket dropped before the model saw the end
  await h.clock.advance(GRACE);
  t.same(h.kinds(), ['register', 'finish', 'attach']);
});

t.test('a guessed finish waits the grace period, and a CDR arriving meanwhile replaces it', async (t) => {
  const h = harness({ spoolDirs: [t.testdir({})] });
  await h.b.start();
  let guessed = 0;
  h.b.guess(A.uuid, () => guessed++);
  await h.clock.advance(GRACE / 2);
  for (const l of [B1002, B1001, A]) await h.b.accept(l);
  await h.clock.advance(GRACE);
  t.equal(guessed, 0, 'the guess was dropped');
  t.match(h.submitted[1], { kind: 'finish', duration: 5, status: '200' });
  const other = 'e4bb87fa-0367-4be7-9f64-74d3b3cfae01';
  h.b.guess(other, () => guessed++);
  await h.clock.advance(GRACE - 1);
  t.equal(guessed, 0);
  await h.clock.advance(1);
  t.equal(guessed, 1, 'no CDR came: the guess goes out');
});

t.test('without CDRs in use a guess goes out at once', async (t) => {
  const h = harness();
  await h.b.load();
  let guessed = 0;
  h.b.guess(A.uuid, () => guessed++);
  t.equal(guessed, 1);
  await h.b.accept(B1002); // FreeSWITCH posts one: from now on guesses wait
  h.b.guess('e4bb87fa-0367-4be7-9f64-74d3b3cfae01', () => guessed++);
  t.equal(guessed, 1);
});

t.test('held legs outlive a restart', async (t) => {
  const kv = new Map<string, unknown>();
  const first = harness({ kv });
  await first.b.accept(B1002);
  await first.b.accept(B1001);
  first.b.stop();
  const second = harness({ kv });
  await second.b.load();
  await second.b.accept(A);
  t.match(second.submitted[1], { kind: 'finish', candidates: ['1001', '1002'], duration: 5 });
  t.equal(second.held(), 0);
});

t.test('a CDR of a call older than the limit is ignored', async (t) => {
  const h = harness({ maxAgeMs: 3_600_000 });
  await h.clock.advance(2 * 3_600_000); // 01:00 + 2 h: the call ended at 00:39
  for (const l of [B1002, B1001, A]) await h.b.accept(l);
  t.same(h.submitted, []);
  t.equal(h.held(), 0);
});
