/**
 * The planner alone, table-driven: which commands one request carries, in which order.
 * Cards of ringing calls first, then hides and finishes, then recordings; a finish is
 * preceded by a hide for everyone else still seeing the card; budgets are respected.
 */
import t from 'tap';
import type { Effect } from '../../../lib/calls/effects.js';
import type { Job } from '../../../lib/store/store.js';
import { plan, type Budget, type CardHistory, type PlanContext } from '../../../lib/outbox/plan.js';
import type { AttachPayload } from '../../../lib/outbox/commands.js';

const USERS: Record<string, number> = { '1001': 11, '1002': 12, '1003': 13 };
const NOW = 100_000;
let nextId = 1;
const job = (effect: Effect, o: Partial<Job> = {}): Job => ({
  id: nextId++,
  call: effect.call,
  effect,
  attempts: 0,
  nextAt: 0,
  createdAt: NOW - 10,
  lastError: null,
  ...o,
});
const register = (call: string, ext = '1001', show = true): Effect => ({
  kind: 'register',
  call,
  externalCallId: call,
  type: 2,
  extension: ext,
  phone: '+79161234567',
  line: '4951234567',
  startIso: '2026-01-01T10:00:00+00:00',
  show,
  crmCreate: true,
});
const show = (call: string, ...extensions: string[]): Effect => ({ kind: 'show', call, extensions });
const hide = (call: string, ...extensions: string[]): Effect => ({ kind: 'hide', call, extensions });
const finish = (call: string, ext: string | null, candidates: string[] = []): Effect => ({
  kind: 'finish',
  call,
  direction: 'incoming',
  extension: ext,
  candidates,
  duration: ext ? 10 : 0,
  status: ext ? '200' : '304',
  addToChat: true,
});
const attach = (call: string): Effect => ({ kind: 'attach', call, path: `/rec/${call}.wav` });

function budget(o: Partial<Budget> = {}): Budget {
  return { commands: 50, bodyBytes: 8 * 1024 * 1024, loaded: false, readyAt: () => 0, ...o };
}
function ctx(o: Partial<PlanContext> & { history?: Record<string, CardHistory> } = {}): PlanContext {
  const base: PlanContext = {
    users: (ext) => (ext ? (USERS[ext] ?? null) : null),
    defaultUserId: 1,
    cardWindowMs: 300,
    starveMs: 5000,
    lazyMs: 0,
    forDefaultUser: new Set(),
    attachments: new Map(),
    busy: () => false,
    hidden: new Set(),
    cardHistory: (call) => o.history?.[call] ?? { registerUser: null, effects: [] },
    registerFailure: () => null,
  };
  return Object.assign(base, o);
}
const ids =
  (known: Record<string, string>) =>
  (call: string): string | null =>
    known[call] ?? null;
const summary = (cmds: Array<{ method: string; params: Record<string, unknown> }>): string[] =>
  cmds.map(
    (c) =>
      `${c.method.replace('telephony.externalcall.', '')} ${c.params.CALL_ID ?? ''}${c.params.USER_ID !== undefined ? ` ${JSON.stringify(c.params.USER_ID)}` : ''}`,
  );

t.test('one request: cards of ringing calls, then hides and finishes, then recordings', async (t) => {
  const file: AttachPayload = { mode: 'inline', path: '/rec/A.wav', name: 'A.wav', size: 1000 };
  const jobs = [
    job(attach('A')), // A finished earlier: its recording is due
    job(finish('B', '1002')), // B ends now; it was shown to 11 and 12
    job(register('C')),
    job(show('C', '1002')),
    job(show('C', '1003')), // C rings now
  ];
  const history = { B: { registerUser: 11, effects: [register('B'), show('B', '1002')] } };
  // the bucket is short: everything that is ready rides in one request
  const p = plan(
    jobs,
    ids({ A: 'cA', B: 'cB' }),
    budget({ loaded: true }),
    NOW,
    ctx({ history, attachments: new Map([[jobs[0]!.id, file]]), cardWindowMs: 0 }),
  );
  t.same(summary(p.commands), [
    'register  11',
    `show $result[r${jobs[2]!.id}][CALL_ID] [12,13]`,
    'hide cB [11]',
    'finish cB 12',
    'attachrecord cA',
  ]);
  t.equal(
    p.commands.findIndex((c) => c.kind === 'attach'),
    p.commands.length - 1,
    'a card never waits behind a recording',
  );
  const roomy = plan(
    jobs,
    ids({ A: 'cA', B: 'cB' }),
    budget(),
    NOW,
    ctx({ history, attachments: new Map([[jobs[0]!.id, file]]) }),
  );
  t.notOk(
    roomy.commands.some((c) => c.kind === 'attach'),
    'with room in the bucket, a request with a card carries no recording to read and send',
  );
  t.equal(roomy.nextWake, NOW, 'the recording goes with the next request, at once');
  const alone = plan([jobs[0]!], ids({ A: 'cA' }), budget(), NOW, ctx({ attachments: new Map([[jobs[0]!.id, file]]) }));
  t.same(summary(alone.commands), ['attachrecord cA'], 'without a card it goes as before');
});

t.test('a missed ring-group call: hide everyone else who still sees the card, just before the finish', async (t) => {
  const cases: Array<{ name: string; history: CardHistory; pending: Effect[]; known: boolean; expect: string[] }> = [
    {
      name: 'group of three, nobody answered: finish names the first ringing user',
      history: { registerUser: 11, effects: [register('M'), show('M', '1002'), show('M', '1003')] },
      pending: [finish('M', null, ['1001', '1002', '1003'])],
      known: true,
      expect: ['hide cM [12,13]', 'finish cM 11'],
    },
    {
      name: 'hunt: 1001 was hidden already; only 1002 still sees it',
      history: { registerUser: 11, effects: [register('M'), hide('M', '1001'), show('M', '1002')] },
      pending: [finish('M', null, ['1001', '1002'])],
      known: true,
      expect: ['hide cM [12]', 'finish cM 11'],
    },
    {
      name: 'a hide still pending when the call ends: in the hide before the finish, done when the finish lands',
      history: { registerUser: 11, effects: [register('M'), show('M', '1002')] },
      pending: [hide('M', '1001'), finish('M', '1002')],
      known: true,
      expect: ['hide cM [11]', 'finish cM 12'],
    },
    {
      name: 'answered: the others were hidden on answer; nothing more to hide',
      history: { registerUser: 11, effects: [register('M'), show('M', '1002'), hide('M', '1001')] },
      pending: [finish('M', '1002')],
      known: true,
      expect: ['finish cM 12'],
    },
    {
      name: 'a short call: register, its shows and the finish in one request; pending shows are never sent',
      history: { registerUser: null, effects: [] },
      pending: [register('M'), show('M', '1002'), finish('M', null, ['1001'])],
      known: false,
      expect: ['register  11', 'finish $result[rX][CALL_ID] 11'],
    },
  ];
  for (const c of cases) {
    const jobs = c.pending.map((e) => job(e));
    const p = plan(jobs, ids(c.known ? { M: 'cM' } : {}), budget(), NOW, ctx({ history: { M: c.history } }));
    const reg = jobs.find((j) => j.effect.kind === 'register');
    t.same(
      summary(p.commands).map((s) => s.replace(`r${reg?.id}`, 'rX')),
      c.expect,
      c.name,
    );
  }
});

t.test('budgets: the command cap, inline bytes, no batching, held methods, the card window', async (t) => {
  const many = Array.from({ length: 30 }, (_, i) => [job(register(`R${i}`)), job(show(`R${i}`, '1002'))]).flat();
  const capped = plan([job(finish('F', '1001')), ...many], ids({ F: 'cF' }), budget(), NOW, ctx());
  t.equal(capped.commands.length, 50);
  t.notOk(
    capped.commands.some((c) => c.kind === 'finish'),
    'cards fill the request; the finish waits',
  );
  t.equal(capped.nextWake, NOW, 'and goes with the next request');

  const old = job(finish('F', '1001'), { createdAt: NOW - 6000 });
  const starving = plan([old, ...many], ids({ F: 'cF' }), budget(), NOW, ctx());
  t.ok(
    starving.commands.some((c) => c.kind === 'finish'),
    'a finish waiting past starveMs goes with the cards, even when they would fill the request',
  );
  t.equal(starving.commands.at(-1)?.kind, 'finish', 'behind them');

  const a = [job(attach('A')), job(attach('B'))];
  const big = (call: string): AttachPayload => ({
    mode: 'inline',
    path: `/rec/${call}.wav`,
    name: `${call}.wav`,
    size: 3 * 1024 * 1024,
  });
  const bytes = plan(
    a,
    ids({ A: 'cA', B: 'cB' }),
    budget(),
    NOW,
    ctx({
      attachments: new Map([
        [a[0]!.id, big('A')],
        [a[1]!.id, big('B')],
      ]),
    }),
  );
  t.same(summary(bytes.commands), ['attachrecord cA'], 'two 3 MB files do not fit an 8 MB request body');

  const single = [job(register('S')), job(show('S', '1002')), job(finish('K', null, ['1001']))];
  const one = plan(
    single,
    ids({ K: 'cK' }),
    budget({ commands: 1 }),
    NOW,
    ctx({ history: { K: { registerUser: 11, effects: [register('K'), show('K', '1002')] } } }),
  );
  t.same(
    summary(one.commands),
    ['register  11'],
    'no batching: one command, nothing that needs a CALL_ID from the same request',
  );
  const hid = plan(
    single.slice(2),
    ids({ K: 'cK' }),
    budget({ commands: 1 }),
    NOW,
    ctx({ history: { K: { registerUser: 11, effects: [register('K'), show('K', '1002')] } } }),
  );
  t.same(summary(hid.commands), ['hide cK [12]'], 'the hide before a finish goes alone first');
  const fin = plan(
    single.slice(2),
    ids({ K: 'cK' }),
    budget({ commands: 1 }),
    NOW,
    ctx({ hidden: new Set([single[2]!.id]) }),
  );
  t.same(summary(fin.commands), ['finish cK 11'], 'then the finish');

  const held = plan(
    [job(register('H')), job(finish('G', '1001'))],
    ids({ G: 'cG' }),
    budget({ readyAt: (m) => (m.endsWith('register') ? NOW + 7000 : 0) }),
    NOW,
    ctx(),
  );
  t.same(summary(held.commands), ['finish cG 11'], 'a held method waits; others go');
  t.equal(held.nextWake, NOW + 7000);

  const late = [job(finish('L', '1001'), { createdAt: NOW - 300 })];
  const lazy = plan(late, ids({ L: 'cL' }), budget(), NOW, ctx({ lazyMs: 1000 }));
  t.same(lazy.commands, [], 'a finish with no card to ride with gathers company for a while');
  t.equal(lazy.nextWake, NOW + 700);
  const company = plan([...late, job(register('N'))], ids({ L: 'cL' }), budget(), NOW, ctx({ lazyMs: 1000 }));
  t.same(summary(company.commands), ['register  11', 'finish cL 11'], 'a card takes it along at once');

  const fresh = [job(show('W', '1002'), { createdAt: NOW - 100 })];
  t.equal(plan(fresh, ids({ W: 'cW' }), budget(), NOW, ctx()).commands.length, 1, 'unloaded: a show goes at once');
  const windowed = plan(fresh, ids({ W: 'cW' }), budget({ loaded: true }), NOW, ctx());
  t.equal(windowed.commands.length, 0, 'loaded: it waits out the card window to be coalesced');
  t.equal(windowed.nextWake, NOW + 200);
});

t.test('after an outage: the cards of new calls go first, the backlog fills the rest, oldest first', async (t) => {
  // 30 calls that rang and ended while the portal was down (a minute ago), then a call ringing now
  const backlog = Array.from({ length: 30 }, (_, i) =>
    [register(`B${i}`), finish(`B${i}`, '1001')].map((e) => job(e, { createdAt: NOW - 60_000 + i * 1000 })),
  ).flat();
  const ringing = [job(register('N', '1002')), job(show('N', '1003'))];
  const p = plan([...backlog, ...ringing], ids({}), budget(), NOW, ctx());
  t.equal(p.commands.length, 50, 'a full request');
  t.same(
    summary(p.commands.slice(0, 2)),
    ['register  12', `show $result[r${ringing[0]!.id}][CALL_ID] [13]`],
    'the ringing call first',
  );
  const backlogKinds = p.commands.slice(2).map((c) => c.kind);
  t.same(backlogKinds, [...Array(24).fill('register'), ...Array(24).fill('finish')], 'then 24 ended calls');
  t.same(
    p.commands.slice(2, 26).map((c) => c.params.EXTERNAL_CALL_ID),
    Array.from({ length: 24 }, (_, i) => `B${i}`),
    'the oldest ones',
  );
  t.ok(
    p.commands.slice(26).every((c, i) => c.dependsOn === `r${backlog[2 * i]!.id}`),
    'each finish refers to its register in the same request',
  );
  // a call that rang and ended just now (busy) is a new call: its register first, its finish behind the backlog
  const busy = [job(register('U', '1002')), job(finish('U', '1002'))];
  const u = plan([...backlog, ...busy], ids({}), budget(), NOW, ctx());
  t.equal(u.commands[0]?.params.EXTERNAL_CALL_ID, 'U', 'the register of a call that just ended goes first');
  t.notOk(
    u.commands.some((c) => c.kind === 'finish' && c.call === 'U'),
    'its finish waits behind the backlog',
  );
  // cards enough to fill a request: the backlog keeps a fifth of it
  const crowd = Array.from({ length: 30 }, (_, i) => [job(register(`C${i}`)), job(show(`C${i}`, '1002'))]).flat();
  const q = plan([...backlog, ...crowd], ids({}), budget(), NOW, ctx());
  t.equal(q.commands.filter((c) => c.call.startsWith('C')).length, 40, 'cards take 40 commands');
  t.equal(q.commands.filter((c) => c.call.startsWith('B')).length, 10, 'the backlog 10: nothing starves');
  t.equal(q.nextWake, NOW, 'the rest goes with the next request');
});

t.test('bookkeeping never becomes a command; a failed register dooms the rest of its call', async (t) => {
  const jobs = [
    job({ kind: 'connected', call: 'X', extension: '1001', atUs: 1 }),
    job({ kind: 'adopt', call: 'Y', b24CallId: 'cY' }),
    job(show('Y', '1001')),
    job(register('Z')),
    job(finish('D', '1001')),
    job(attach('P')),
  ];
  const p = plan(
    jobs,
    ids({ Z: 'cZ' }),
    budget(),
    NOW,
    ctx({ registerFailure: (c) => (c === 'D' ? 'ERROR_CORE: Unknown TYPE' : null) }),
  );
  t.same(
    p.done.sort(),
    [jobs[0]!.id, jobs[1]!.id, jobs[3]!.id].sort(),
    'connected, adopt, and a register known already',
  );
  t.same(p.adopted, [{ call: 'Y', b24CallId: 'cY' }]);
  t.same(summary(p.commands), ['show cY [11]']);
  t.same(
    p.failed.map((f) => [f.job.id, f.reason]),
    [[jobs[4]!.id, 'its register failed: ERROR_CORE: Unknown TYPE']],
  );
  t.same(p.prepare, [], 'a recording of a call without CALL_ID waits');
  const q = plan([jobs[5]!], ids({ P: 'cP' }), budget(), NOW, ctx());
  t.same(
    q.prepare.map((j) => j.id),
    [jobs[5]!.id],
    'a due recording is checked on disk first, not by the planner',
  );
  t.same(q.commands, []);
});

t.test('the card lane carries registers and shows only, never a finish or a recording', async (t) => {
  const file: AttachPayload = { mode: 'inline', path: '/rec/A.wav', name: 'A.wav', size: 1000 };
  const jobs = [job(attach('A')), job(finish('B', '1002')), job(register('C')), job(show('C', '1002'))];
  const p = plan(
    jobs,
    ids({ A: 'cA', B: 'cB' }),
    budget({ cardsOnly: true }),
    NOW,
    ctx({ attachments: new Map([[jobs[0]!.id, file]]) }),
  );
  t.same(summary(p.commands), ['register  11', `show $result[r${jobs[2]!.id}][CALL_ID] [12]`]);
  const none = plan(jobs.slice(0, 2), ids({ A: 'cA', B: 'cB' }), budget({ cardsOnly: true }), NOW, ctx());
  t.same(none.commands, [], 'no card waits: nothing goes in the lane');
});

t.test('a backlog of registers: the oldest calls first, later calls are left for the next requests', async (t) => {
  const calls = Array.from({ length: 120 }, (_, i) => `Q${i}`);
  const asked = new Set<string>();
  // calls of a minute ago (an outage): a backlog, not calls ringing now
  const jobs = calls.flatMap((c) => [register(c), show(c, '1002')].map((e) => job(e, { createdAt: NOW - 60_000 })));
  const known = (call: string): string | null => {
    asked.add(call);
    return null;
  };
  const p = plan(jobs, known, budget(), NOW, ctx());
  t.equal(p.commands.length, 50, 'one request: 50 commands');
  t.same(
    p.commands.map((c) => `${c.kind} ${c.call}`),
    calls.slice(0, 25).flatMap((c) => [`register ${c}`, `show ${c}`]),
    'the 25 oldest calls, each register with its show',
  );
  t.ok(asked.size < calls.length, 'the calls past a request’s worth of registers are not looked at');
  t.equal(p.nextWake, NOW, 'and there is more to send at once');
  const now = [job(register('NEW'), { createdAt: NOW - 10 }), job(show('NEW', '1002'), { createdAt: NOW - 10 })];
  t.same(
    plan([...jobs, ...now], known, budget(), NOW, ctx())
      .commands.slice(0, 2)
      .map((c) => `${c.kind} ${c.call}`),
    ['register NEW', 'show NEW'],
    'a call ringing now is planned however long the backlog, and its card goes first',
  );
  const next = plan(jobs.slice(50), known, budget(), NOW, ctx());
  t.same(
    next.commands.filter((c) => c.kind === 'register').map((c) => c.call),
    calls.slice(25, 50),
    'the next request takes the next 25',
  );
});
