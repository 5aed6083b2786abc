/**
 * The `Store` contract, written against the interface and run for every implementation
 * (SQLite today; a PostgreSQL one joins `implementations` below).
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../../lib/store/sqlite.js';
import type { Store, StoredTokens } from '../../../lib/store/store.js';
import type { Effect } from '../../../lib/calls/effects.js';
import type { ParsedEvent } from '../../../lib/bitrix24/event-body.js';

/** A fresh, empty store, and how to open the same one again (as after a restart). */
interface Opened {
  store: Store;
  reopen: () => Store;
}

type Teardown = { teardown: (f: () => unknown) => void };

const implementations: Record<string, (t: Teardown) => Opened> = {
  sqlite: (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'fsb24-store-'));
    const opened: Store[] = [];
    const open = (): Store => {
      const s = new SqliteStore(dir);
      opened.push(s);
      return s;
    };
    t.teardown(() => {
      for (const s of opened) s.close();
      rmSync(dir, { recursive: true, force: true });
    });
    return { store: open(), reopen: open };
  },
};

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
    const { store: s } = make(t);
    t.equal(s.enqueue([reg('a'), reg('a'), fin('a')], 1), 2);
    t.equal(s.enqueue([fin('a'), show('a', '1002'), show('a', '1002')], 2), 2, 'show/hide are not deduplicated');
    t.equal(s.pending().length, 4);
    const attach: Effect = { kind: 'attach', call: 'a', path: '/r/a.wav' };
    t.equal(s.enqueue([attach, attach, { ...attach, path: '/r/b.wav' }], 3), 2, 'one attach per file');
    // a CDR's call is recognised by these keys (lib/cdr/)
    t.ok(s.hasEffect('register:a') && s.hasEffect('finish:a') && s.hasEffect('attach:a:/r/b.wav'));
    t.notOk(s.hasEffect('finish:b'));
  });

  t.test(`${name}: pending jobs keep the order they were submitted in, per call`, async (t) => {
    const { store: s } = make(t);
    s.enqueue([reg('a'), reg('b')], 10);
    s.enqueue([show('b', '1002'), show('a', '1003')], 11);
    s.enqueue([fin('a'), fin('b')], 12);
    const kinds = (call: string): string[] =>
      s
        .pending()
        .filter((j) => j.call === call)
        .map((j) => j.effect.kind);
    t.same(kinds('a'), ['register', 'show', 'finish']);
    t.same(kinds('b'), ['register', 'show', 'finish']);
    t.match(s.pending()[0], { call: 'a', effect: reg('a'), attempts: 0, nextAt: 10, createdAt: 10, lastError: null });
    t.match(s.stats(), { pending: 6, done: 0, failed: 0, oldestPendingAt: 10 });
  });

  t.test(`${name}: done, retried (counted or not) and failed jobs`, async (t) => {
    const { store: s, reopen } = make(t);
    s.enqueue([reg('a'), show('a', '1002'), fin('a')], 1);
    const [r, sh, f] = s.pending();
    s.markDone(r!.id);
    s.markRetry(sh!.id, 500, 'QUERY_LIMIT_EXCEEDED');
    s.markRetry(f!.id, 600, 'waiting for register', false);
    t.same(
      s.pending().map((j) => [j.effect.kind, j.attempts, j.nextAt, j.lastError]),
      [
        ['show', 1, 500, 'QUERY_LIMIT_EXCEEDED'],
        ['finish', 0, 600, 'waiting for register'],
      ],
    );
    s.markFailed(sh!.id, 'ERROR_CORE: no such user');
    t.same(
      s.pending().map((j) => j.effect.kind),
      ['finish'],
    );
    t.match(s.stats(), { pending: 1, done: 1, failed: 1, oldestPendingAt: 1 });
    t.same(s.failedJobs(), [
      { id: sh!.id, call: 'a', kind: 'show', attempts: 2, lastError: 'ERROR_CORE: no such user' },
    ]);
    t.equal(s.registerFailure('a'), null, 'the register landed');
    s.enqueue([reg('b')], 2);
    s.markFailed(s.pending().find((j) => j.call === 'b')!.id, 'WRONG_AUTH_TYPE');
    t.equal(s.registerFailure('b'), 'WRONG_AUTH_TYPE');
    t.same(
      reopen()
        .pending()
        .map((j) => j.effect.kind),
      ['finish'],
      'all of it durable: a restart finds the same',
    );
  });

  t.test(`${name}: unfinished calls and the purge`, async (t) => {
    const { store: s } = make(t);
    s.enqueue([reg('old'), fin('old')], 1000);
    s.enqueue([reg('live'), { kind: 'connected', call: 'live', extension: '1001', atUs: 5 }], 1000);
    s.setCallId('old', 'externalCall.old', 1, 1000);
    s.setCallId('live', 'externalCall.live', 1, 1000);
    for (const j of s.pending()) s.markDone(j.id);
    t.same(
      s.unfinishedCalls().map((c) => [c.call, c.register?.kind, c.connected?.kind]),
      [['live', 'register', 'connected']],
    );
    t.equal(s.purgeFinished(2000), 2, 'the finished call is forgotten');
    t.equal(s.callId('old'), null, 'and its CALL_ID');
    t.same(
      s.unfinishedCalls().map((c) => c.call),
      ['live'],
      'the call still going is kept whatever its age',
    );
    t.equal(s.callId('live'), 'externalCall.live');
  });

  t.test(`${name}: the purge keeps pending and failed jobs`, async (t) => {
    const { store: s } = make(t);
    s.enqueue([reg('x'), show('x', '1002'), fin('x')], 1000);
    const [r, sh, f] = s.pending();
    s.markDone(r!.id);
    s.markFailed(sh!.id, 'gone');
    s.markDone(f!.id);
    s.enqueue([show('x', '1003')], 1001);
    t.equal(s.purgeFinished(2000), 2, 'the two delivered jobs');
    t.same(
      s.pending().map((j) => j.effect.kind),
      ['show'],
    );
    t.equal(s.failedJobs().length, 1);
  });

  t.test(`${name}: the purge forgets click-to-call requests placed before it, and only those`, async (t) => {
    const { store: s } = make(t);
    s.set('c2c:externalCall.old', { aLeg: 'a', at: 1000 });
    s.set('c2c:externalCall.new', { aLeg: 'b', at: 3000 });
    s.set('alive', 1000);
    s.purgeFinished(2000);
    t.equal(s.get('c2c:externalCall.old'), null, 'placed before: forgotten');
    t.same(s.get('c2c:externalCall.new'), { aLeg: 'b', at: 3000 }, 'placed after: still deduplicated');
    t.equal(s.get('alive'), 1000, 'other keys stay');
  });

  t.test(`${name}: CALL_IDs`, async (t) => {
    const { store: s, reopen } = make(t);
    t.equal(s.callId('a'), null);
    s.setCallId('a', 'externalCall.1', 7, 1);
    s.setCallId('a', 'externalCall.2', null, 2);
    t.equal(s.callId('a'), 'externalCall.2', 'the last one set');
    t.equal(reopen().callId('a'), 'externalCall.2', 'durable');
  });

  t.test(`${name}: key-value`, async (t) => {
    const { store: s } = make(t);
    t.equal(s.get('k'), null);
    s.set('k', { a: [1, 'two'], b: null });
    t.same(s.get('k'), { a: [1, 'two'], b: null });
    s.set('k', 3);
    t.equal(s.get<number>('k'), 3, 'overwritten');
    s.set('k', null);
    t.equal(s.get('k'), null, 'null forgets the key');
  });

  t.test(`${name}: tokens and the recording secret`, async (t) => {
    const { store: s, reopen } = make(t);
    t.equal(s.tokens(), null);
    s.setTokens(tokens);
    t.same(reopen().tokens(), tokens, 'durable: a rotated refresh token survives a restart');
    s.setTokens(null);
    t.equal(s.tokens(), null, 'forgotten on uninstall');
    let made = 0;
    const create = (): string => `secret${++made}`;
    t.equal(s.recordingSecret(create), 'secret1', 'made on first use');
    t.equal(s.recordingSecret(create), 'secret1');
    t.equal(reopen().recordingSecret(create), 'secret1', 'kept across restarts');
    t.equal(made, 1);
  });

  t.test(`${name}: a transaction commits together, or not at all when it throws`, async (t) => {
    const { store: s } = make(t);
    const boom = new Error('boom');
    t.throws(
      () =>
        s.transaction(() => {
          s.set('k', 1);
          s.enqueue([reg('a')], 1);
          s.setCallId('a', 'externalCall.a', null, 1);
          s.setTokens(tokens);
          throw boom;
        }),
      boom,
      'the error comes back',
    );
    t.equal(s.get('k'), null);
    t.same(s.pending(), []);
    t.equal(s.callId('a'), null);
    t.equal(s.tokens(), null, 'nothing written');
    t.equal(
      s.transaction(() => {
        s.set('k', 2);
        return s.enqueue([reg('a')], 1);
      }),
      1,
      'the value of fn comes back',
    );
    t.equal(s.get('k'), 2);
    t.equal(s.pending().length, 1, 'committed');
  });

  t.test(`${name}: the offline inbox takes each record once`, async (t) => {
    const { store: s, reopen } = make(t);
    s.inbox.accept(
      [
        { recordId: 2, messageId: 'm2', event: event('b') },
        { recordId: 1, messageId: 'm1', event: event('a') },
      ],
      1000,
    );
    s.inbox.accept([{ recordId: 1, messageId: 'm1', event: event('a') }], 1001);
    t.same(
      s.inbox.untaken().map((i) => [i.recordId, i.messageId]),
      [
        [1, 'm1'],
        [2, 'm2'],
      ],
      'a record read again is one',
    );
    t.same(s.inbox.untaken()[0]!.event, event('a'));
    t.equal(s.inbox.take(1), true);
    t.equal(s.inbox.take(1), false, 'taken once');
    t.same(
      reopen()
        .inbox.untaken()
        .map((i) => i.recordId),
      [2],
      'durable',
    );
    s.inbox.purge(2000);
    s.inbox.accept([{ recordId: 1, messageId: 'm1', event: event('a') }], 3000);
    t.same(
      s.inbox.untaken().map((i) => i.recordId),
      [1, 2],
      'a taken record purged is forgotten; untaken ones stay',
    );
  });
}
