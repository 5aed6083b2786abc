/**
 * The `Store` contract, written against the interface and run for every implementation
 * (`implementations`, test/helpers/stores.ts: SQLite and a real PostgreSQL). Leases and
 * signals: ./coordination.test.ts.
 */
import t from 'tap';
import type { StoredTokens } from '../../../lib/store/store.js';
import { implementations } from '../../helpers/stores.js';
import { ManualClock } from '../../../lib/clock.js';
import type { Effect } from '../../../lib/calls/effects.js';
import type { ParsedEvent } from '../../../lib/bitrix24/event-body.js';

const reg = (call: string): Effect => ({
  kind: 'register',
  call,
  externalCallId: call,
  type: 2,
  extension: '1001',
  phone: '+7916',
  line: null,
  startIso: 'x',
  show: true,
  crmCreate: true,
});
const fin = (call: string): Effect => ({
  kind: 'finish',
  call,
  direction: 'incoming',
  extension: '1001',
  candidates: [],
  duration: 5,
  status: '200',
  addToChat: true,
});
const show = (call: string, ext: string): Effect => ({ kind: 'show', call, extensions: [ext] });
const tokens: StoredTokens = {
  accessToken: 'at',
  refreshToken: 'rt',
  expiresAt: 5000,
  clientEndpoint: 'https://x.bitrix24.com/rest/',
  memberId: 'm',
  domain: 'x.bitrix24.com',
  applicationToken: 'app',
  scope: 'telephony,user',
};
const event = (id: string): ParsedEvent => ({
  event: 'ONEXTERNALCALLSTART',
  data: { CALL_ID: id },
  auth: { domain: 'x.bitrix24.com', memberId: 'm', applicationToken: 'app' },
});

for (const [name, make] of Object.entries(implementations)) {
  t.test(`${name}: one register and one finish per call, whatever is submitted twice`, async (t) => {
    const { store: s } = await make(t);
    t.equal(await s.enqueue([reg('a'), reg('a'), fin('a')], 1), 2);
    t.equal(await s.enqueue([fin('a'), show('a', '1002'), show('a', '1002')], 2), 2, 'show/hide are not deduplicated');
    t.equal((await s.pending()).length, 4);
    const attach: Effect = { kind: 'attach', call: 'a', path: '/r/a.wav' };
    t.equal(await s.enqueue([attach, attach, { ...attach, path: '/r/b.wav' }], 3), 2, 'one attach per file');
    // a CDR's call is recognised by these keys (lib/cdr/)
    t.ok(
      (await s.hasEffect('register:a')) && (await s.hasEffect('finish:a')) && (await s.hasEffect('attach:a:/r/b.wav')),
    );
    t.notOk(await s.hasEffect('finish:b'));
  });

  t.test(`${name}: pending jobs keep the order they were submitted in, per call`, async (t) => {
    const { store: s } = await make(t);
    await s.enqueue([reg('a'), reg('b')], 10);
    await s.enqueue([show('b', '1002'), show('a', '1003')], 11);
    await s.enqueue([fin('a'), fin('b')], 12);
    const pending = await s.pending();
    const kinds = (call: string): string[] => pending.filter((j) => j.call === call).map((j) => j.effect.kind);
    t.same(kinds('a'), ['register', 'show', 'finish']);
    t.same(kinds('b'), ['register', 'show', 'finish']);
    t.match(pending[0], { call: 'a', effect: reg('a'), attempts: 0, nextAt: 10, createdAt: 10, lastError: null });
    t.match(await s.stats(), { pending: 6, done: 0, failed: 0, oldestPendingAt: 10 });
  });

  t.test(`${name}: done, retried (counted or not) and failed jobs`, async (t) => {
    const { store: s, reopen } = await make(t);
    await s.enqueue([reg('a'), show('a', '1002'), fin('a')], 1);
    const [r, sh, f] = await s.pending();
    await s.markDone(r!.id);
    await s.markRetry(sh!.id, 500, 'QUERY_LIMIT_EXCEEDED');
    await s.markRetry(f!.id, 600, 'waiting for register', false);
    t.same(
      (await s.pending()).map((j) => [j.effect.kind, j.attempts, j.nextAt, j.lastError]),
      [
        ['show', 1, 500, 'QUERY_LIMIT_EXCEEDED'],
        ['finish', 0, 600, 'waiting for register'],
      ],
    );
    await s.markFailed(sh!.id, 'ERROR_CORE: no such user');
    t.same(
      (await s.pending()).map((j) => j.effect.kind),
      ['finish'],
    );
    t.match(await s.stats(), { pending: 1, done: 1, failed: 1, oldestPendingAt: 1 });
    t.same(await s.failedJobs(), [
      { id: sh!.id, call: 'a', kind: 'show', attempts: 2, lastError: 'ERROR_CORE: no such user' },
    ]);
    t.equal(await s.registerFailure('a'), null, 'the register landed');
    await s.enqueue([reg('b')], 2);
    await s.markFailed((await s.pending()).find((j) => j.call === 'b')!.id, 'WRONG_AUTH_TYPE');
    t.equal(await s.registerFailure('b'), 'WRONG_AUTH_TYPE');
    t.same(
      (await (await reopen()).pending()).map((j) => j.effect.kind),
      ['finish'],
      'all of it durable: a restart finds the same',
    );
  });

  t.test(`${name}: the card history of a call: what landed of its register, shows and hides`, async (t) => {
    const { store: s, reopen } = await make(t);
    await s.enqueue([reg('a'), show('a', '1002'), { kind: 'hide', call: 'a', extensions: ['1001'] }], 1);
    await s.enqueue([show('b', '1003')], 1);
    const [r, sh, hi] = await s.pending();
    t.same(await s.cardHistory('a'), { registerUser: null, effects: [] }, 'nothing landed yet');
    await s.markDone(r!.id);
    await s.setCallId('a', 'externalCall.a', 7, 1);
    await s.markDone(hi!.id);
    t.same(await s.cardHistory('a'), {
      registerUser: 7,
      effects: [reg('a'), { kind: 'hide', call: 'a', extensions: ['1001'] }],
    });
    await s.markDone(sh!.id);
    t.same(
      (await (await reopen()).cardHistory('a')).effects.map((e) => e.kind),
      ['register', 'show', 'hide'],
      'in submission order, durable',
    );
    t.same(await s.cardHistory('b'), { registerUser: null, effects: [] }, 'another call has its own');
  });

  t.test(`${name}: several submits in one write, each effect with the time of its submit`, async (t) => {
    const { store: s, reopen } = await make(t);
    const added = await s.enqueueAll([
      { effects: [reg('a'), show('a', '1002')], now: 10 },
      { effects: [], now: 15 },
      { effects: [reg('a'), reg('b')], now: 20 },
    ]);
    t.equal(added, 3, 'a register submitted again is ignored, in the same write too');
    t.equal(await s.enqueueAll([]), 0);
    const bad = { ...show('b', '1002'), extensions: [10n] } as unknown as Effect; // JSON cannot hold a BigInt
    await t.rejects(
      s.enqueueAll([
        { effects: [fin('a')], now: 30 },
        { effects: [bad], now: 30 },
      ]),
    );
    const kept = [
      ['a', 'register', 10, 10],
      ['a', 'show', 10, 10],
      ['b', 'register', 20, 20],
    ];
    const rows = (ss: typeof s): Promise<unknown[]> =>
      ss.pending().then((p) => p.map((j) => [j.call, j.effect.kind, j.createdAt, j.nextAt]));
    t.same(await rows(s), kept, 'in order; a write that fails writes none of its submits');
    t.same(await rows(await reopen()), kept, 'durable');
  });

  t.test(`${name}: jobs done with the CALL_IDs they brought, in one write; card histories in one read`, async (t) => {
    const { store: s, reopen, other } = await make(t);
    await s.enqueue([reg('a'), show('a', '1002'), reg('b'), show('b', '1003'), fin('a')], 1);
    const [ra, sa, rb, sb, fa] = await s.pending();
    t.same(
      await s.cardHistories(['a', 'b']),
      new Map([
        ['a', { registerUser: null, effects: [] }],
        ['b', { registerUser: null, effects: [] }],
      ]),
      'nothing landed yet',
    );
    const o = await other();
    await o.markDoneAll([ra!.id], [{ call: 'a', b24CallId: 'externalCall.o', userId: 1 }], 2);
    t.equal((await s.pending()).length, 5, "another portal's write touches none of these jobs");
    t.equal(await s.callId('a'), null, 'nor their CALL_IDs');
    await s.markDoneAll(
      [ra!.id, sa!.id, rb!.id, ra!.id],
      [
        { call: 'a', b24CallId: 'externalCall.a', userId: 7 },
        { call: 'b', b24CallId: 'externalCall.old', userId: null },
        { call: 'b', b24CallId: 'externalCall.b', userId: 9 },
      ],
      3,
    );
    await s.markDoneAll([], [], 4);
    const check = async (ss: typeof s, what: string): Promise<void> => {
      t.same(
        (await ss.pending()).map((j) => j.id),
        [sb!.id, fa!.id],
        `${what}: the others pending`,
      );
      t.same(
        await ss.callIds(['a', 'b']),
        new Map([
          ['a', 'externalCall.a'],
          ['b', 'externalCall.b'],
        ]),
        `${what}: the CALL_IDs, the last of a call`,
      );
      t.same(
        await ss.cardHistories(['b', 'a', 'z', 'a']),
        new Map([
          ['b', { registerUser: 9, effects: [reg('b')] }],
          ['a', { registerUser: 7, effects: [reg('a'), show('a', '1002')] }],
          ['z', { registerUser: null, effects: [] }],
        ]),
        `${what}: the histories of every call asked for`,
      );
    };
    await check(s, 'at once');
    await check(await reopen(), 'after a restart');
    t.match(await s.stats(), { pending: 2, done: 3 });
    t.same(await s.cardHistories([]), new Map());
  });

  t.test(`${name}: unfinished calls and the purge`, async (t) => {
    const { store: s } = await make(t);
    await s.enqueue([reg('old'), fin('old')], 1000);
    await s.enqueue([reg('live'), { kind: 'connected', call: 'live', extension: '1001', atUs: 5 }], 1000);
    await s.setCallId('old', 'externalCall.old', 1, 1000);
    await s.setCallId('live', 'externalCall.live', 1, 1000);
    for (const j of await s.pending()) await s.markDone(j.id);
    t.same(
      (await s.unfinishedCalls()).map((c) => [c.call, c.register?.kind, c.connected?.kind]),
      [['live', 'register', 'connected']],
    );
    t.equal(await s.purgeFinished(2000), 2, 'the finished call is forgotten');
    t.equal(await s.callId('old'), null, 'and its CALL_ID');
    t.same(
      (await s.unfinishedCalls()).map((c) => c.call),
      ['live'],
      'the call still going is kept whatever its age',
    );
    t.equal(await s.callId('live'), 'externalCall.live');
  });

  t.test(`${name}: the purge keeps pending and failed jobs`, async (t) => {
    const { store: s } = await make(t);
    await s.enqueue([reg('x'), show('x', '1002'), fin('x')], 1000);
    const [r, sh, f] = await s.pending();
    await s.markDone(r!.id);
    await s.markFailed(sh!.id, 'gone');
    await s.markDone(f!.id);
    await s.enqueue([show('x', '1003')], 1001);
    t.equal(await s.purgeFinished(2000), 2, 'the two delivered jobs');
    t.same(
      (await s.pending()).map((j) => j.effect.kind),
      ['show'],
    );
    t.equal((await s.failedJobs()).length, 1);
  });

  t.test(`${name}: the purge forgets click-to-call requests placed before it, and only those`, async (t) => {
    const { store: s } = await make(t);
    await s.set('c2c:externalCall.old', { aLeg: 'a', at: 1000 });
    await s.set('c2c:externalCall.new', { aLeg: 'b', at: 3000 });
    await s.set('alive', 1000);
    await s.purgeFinished(2000);
    t.equal(await s.get('c2c:externalCall.old'), null, 'placed before: forgotten');
    t.same(await s.get('c2c:externalCall.new'), { aLeg: 'b', at: 3000 }, 'placed after: still deduplicated');
    t.equal(await s.get('alive'), 1000, 'other keys stay');
  });

  t.test(`${name}: a claim is won once, by one of those asking at the same time, and purged like c2c`, async (t) => {
    const { store: s, reopen } = await make(t);
    const other = await reopen(); // a second connection (another instance on a shared database)
    const won = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 ? other : s).claim('c2c:externalCall.x', { by: i, at: 1000 })),
    );
    t.equal(won.filter(Boolean).length, 1, 'exactly one winner');
    t.same(await s.get('c2c:externalCall.x'), { by: won.indexOf(true), at: 1000 }, "the winner's value is kept");
    t.equal(await s.claim('c2c:externalCall.x', { by: 'late', at: 5000 }), false);
    t.equal(await s.claim('mail:m1', { by: 'A', at: 1000 }), true);
    t.equal(await s.claim('mail:m2', { by: 'A', at: 3000 }), true);
    await s.purgeFinished(2000);
    t.equal(await s.get('c2c:externalCall.x'), null, 'purged');
    t.equal(await s.get('mail:m1'), null, 'purged');
    t.same(await s.get('mail:m2'), { by: 'A', at: 3000 }, 'claimed after the cut: kept');
  });

  t.test(`${name}: CALL_IDs`, async (t) => {
    const { store: s, reopen } = await make(t);
    t.equal(await s.callId('a'), null);
    await s.setCallId('a', 'externalCall.1', 7, 1);
    await s.setCallId('a', 'externalCall.2', null, 2);
    await s.setCallId('b', 'externalCall.b', null, 2);
    t.equal(await s.callId('a'), 'externalCall.2', 'the last one set');
    t.equal(await (await reopen()).callId('a'), 'externalCall.2', 'durable');
    t.same(
      await s.callIds(['a', 'b', 'c', 'a']),
      new Map([
        ['a', 'externalCall.2'],
        ['b', 'externalCall.b'],
      ]),
      'several at once: the known ones',
    );
    t.same(await s.callIds([]), new Map());
  });

  t.test(`${name}: key-value`, async (t) => {
    const { store: s } = await make(t);
    t.equal(await s.get('k'), null);
    await s.set('k', { a: [1, 'two'], b: null });
    t.same(await s.get('k'), { a: [1, 'two'], b: null });
    await s.set('k', 3);
    t.equal(await s.get<number>('k'), 3, 'overwritten');
    await s.set('k', null);
    t.equal(await s.get('k'), null, 'null forgets the key');
  });

  t.test(`${name}: tokens and the recording secret`, async (t) => {
    const { store: s, reopen } = await make(t);
    t.equal(await s.tokens(), null);
    await s.setTokens(tokens);
    t.same(await (await reopen()).tokens(), tokens, 'durable: a rotated refresh token survives a restart');
    await s.setTokens(null);
    t.equal(await s.tokens(), null, 'forgotten on uninstall');
    let made = 0;
    const create = (): string => `secret${++made}`;
    t.equal(await s.recordingSecret(create), 'secret1', 'made on first use');
    t.equal(await s.recordingSecret(create), 'secret1');
    t.equal(await (await reopen()).recordingSecret(create), 'secret1', 'kept across restarts');
    t.equal(made, 1);
  });

  t.test(`${name}: an enqueue or an accept that fails writes nothing`, async (t) => {
    const { store: s } = await make(t);
    const bad = { ...show('a', '1002'), extensions: [10n] } as unknown as Effect; // JSON cannot hold a BigInt
    await t.rejects(s.enqueue([reg('a'), show('a', '1003'), bad], 1));
    t.same(await s.pending(), [], 'none of the effects');
    t.equal(await s.enqueue([reg('a'), show('a', '1003')], 2), 2, 'the same effects go in afterwards');
    const odd = { ...event('c'), data: { CALL_ID: 10n } } as unknown as ParsedEvent;
    await t.rejects(
      s.inbox.accept(
        [
          { recordId: 1, messageId: 'm1', event: event('a') },
          { recordId: 2, messageId: 'm2', event: odd },
        ],
        1,
      ),
    );
    t.same(await s.inbox.untaken(), [], 'none of the records');
  });

  t.test(`${name}: two portals on one database never see each other's rows`, async (t) => {
    const { store: a, other } = await make(t);
    const b = await other();
    await a.enqueue([reg('x'), fin('x')], 1000);
    await a.setCallId('x', 'externalCall.x', 7, 1000);
    await a.set('c2c:externalCall.old', { aLeg: 'a', at: 1000 });
    await a.setTokens(tokens);
    await a.inbox.accept([{ recordId: 1, messageId: 'm1', event: event('a') }], 1000);
    t.same(await b.pending(), [], 'jobs');
    t.same(await b.unfinishedCalls(), []);
    t.match(await b.stats(), { pending: 0, done: 0, failed: 0 });
    t.equal(await b.callId('x'), null, 'CALL_IDs');
    t.same(await b.callIds(['x']), new Map());
    t.equal(await b.get('c2c:externalCall.old'), null, 'key-value');
    t.equal(await b.tokens(), null, 'tokens');
    t.same(await b.inbox.untaken(), [], 'offline inbox');
    t.equal(await b.inbox.take(1), false);
    t.not(await b.recordingSecret(() => 'b-secret'), await a.recordingSecret(() => 'a-secret'), 'secrets');
    // the same idempotency keys in the other portal are its own
    t.equal(await b.enqueue([reg('x'), fin('x')], 1000), 2);
    for (const j of await b.pending()) await b.markDone(j.id);
    t.equal(await b.purgeFinished(2000), 2, "B's purge");
    t.equal((await a.pending()).length, 2, "leaves A's jobs");
    t.same(await a.get('c2c:externalCall.old'), { aLeg: 'a', at: 1000 }, 'and its click-to-call requests');
    t.same(
      (await a.inbox.untaken()).map((i) => i.recordId),
      [1],
    );
  });

  t.test(`${name}: a connect state is used once, by one of those using it at the same time`, async (t) => {
    const { store: s, reopen } = await make(t);
    const other = await reopen(); // another instance on the shared store
    await s.connectStates.create('st1', 10_000, 1000);
    const uses = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 ? other : s).connectStates.consume('st1', 2000)),
    );
    t.same(
      uses.filter((u) => u === 'ok'),
      ['ok'],
      'exactly one winner',
    );
    t.same(
      uses.filter((u) => u !== 'ok'),
      Array(7).fill('used'),
      'the others: used',
    );
    t.equal(await s.connectStates.consume('st1', 3000), 'used', 'a replay');
    t.equal(await other.connectStates.consume('never', 3000), 'unknown');
    await other.connectStates.create('st2', 10_000, 3000);
    t.equal(await s.connectStates.consume('st2', 9999), 'ok', 'created by one, used by the other');
  });

  t.test(`${name}: a connect state expires at its time; expired ones are forgotten`, async (t) => {
    const { store: s, other } = await make(t);
    const clock = new ManualClock(1_000_000);
    const ttl = 600_000;
    await s.connectStates.create('late', clock.now() + ttl, clock.now());
    await s.connectStates.create('kept', clock.now() + ttl, clock.now());
    await clock.advance(ttl - 1);
    t.equal(await s.connectStates.consume('kept', clock.now()), 'ok', 'valid until its last millisecond');
    await clock.advance(1);
    t.equal(await s.connectStates.consume('late', clock.now()), 'expired');
    t.equal(await s.connectStates.consume('late', clock.now()), 'expired', 'and stays so; never used');
    t.equal(await s.connectStates.consume('kept', clock.now()), 'used');
    await s.connectStates.create('next', clock.now() + ttl, clock.now());
    t.equal(await s.connectStates.consume('late', clock.now()), 'unknown', 'forgotten by the next create');
    t.equal(await s.connectStates.consume('kept', clock.now()), 'unknown');
    t.equal(await s.connectStates.consume('next', clock.now()), 'ok', 'the new one is there');
    const b = await other(); // another portal's states are its own
    await b.connectStates.create('mine', clock.now() + ttl, clock.now());
    t.equal(await s.connectStates.consume('mine', clock.now()), 'unknown');
    await s.connectStates.create('again', clock.now() + ttl, clock.now() + ttl);
    t.equal(await b.connectStates.consume('mine', clock.now()), 'ok', "never purged by another portal's create");
  });

  t.test(`${name}: the offline inbox takes each record once`, async (t) => {
    const { store: s, reopen } = await make(t);
    await s.inbox.accept(
      [
        { recordId: 2, messageId: 'm2', event: event('b') },
        { recordId: 1, messageId: 'm1', event: event('a') },
      ],
      1000,
    );
    await s.inbox.accept([{ recordId: 1, messageId: 'm1', event: event('a') }], 1001);
    const untaken = await s.inbox.untaken();
    t.same(
      untaken.map((i) => [i.recordId, i.messageId]),
      [
        [1, 'm1'],
        [2, 'm2'],
      ],
      'a record read again is one',
    );
    t.same(untaken[0]!.event, event('a'));
    t.equal(await s.inbox.take(1), true);
    t.equal(await s.inbox.take(1), false, 'taken once');
    t.same(
      (await (await reopen()).inbox.untaken()).map((i) => i.recordId),
      [2],
      'durable',
    );
    await s.inbox.purge(2000);
    await s.inbox.accept([{ recordId: 1, messageId: 'm1', event: event('a') }], 3000);
    t.same(
      (await s.inbox.untaken()).map((i) => i.recordId),
      [1, 2],
      'a taken record purged is forgotten; untaken ones stay',
    );
  });
}
