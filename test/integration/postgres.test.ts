/**
 * The service on PostgreSQL (FSB24_DATABASE_URL, a real server: test/helpers/pg.ts): the
 * install, a call and a restart in the middle of it go exactly as on SQLite, with nothing
 * written to the data directory; `check` says whether the database is reachable and current.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import pg from 'pg';
import { stack, overrides } from '../helpers/stack.js';
import { testDatabase } from '../helpers/pg.js';
import { inboundCall, killLeg } from '../../lib/sim/freeswitch/index.js';
import { check } from '../../lib/check.js';
import { ok } from '../helpers/portal.js';

t.test('installed, a call, a restart mid-call: all of it in PostgreSQL, the call finished once', async (t) => {
  const url = await testDatabase(t);
  const s = await stack(t, { config: { 'database.url': url } });
  s.sim.sw.setExtension('1001', { ringMs: 500 });
  void inboundCall(s.sim.sw, { caller: '+79161234567', did: '4951234567', extensions: ['1001'], talkMs: -1 });
  const reg = await s.portal.journal.next(ok('telephony.externalcall.register'));
  const callId = (reg.result as { CALL_ID: string }).CALL_ID;
  await s.service.portal.outbox.idle();
  await s.stopService();
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  t.teardown(() => db.end());
  const tokens = await db.query("SELECT value FROM fsb24_kv WHERE ns = '' AND key = 'oauth.tokens'");
  t.match(JSON.parse(tokens.rows[0].value as string), { memberId: s.portal.app.memberId }, 'the tokens');
  const ids = await db.query<{ b24_call_id: string }>('SELECT b24_call_id FROM fsb24_calls');
  t.same(
    ids.rows.map((r) => r.b24_call_id),
    [callId],
    'the CALL_ID',
  );
  t.notOk(existsSync(s.config.dataDir), 'nothing in the data directory');
  const svc = await s.restartService();
  t.ok(svc.switch.model.liveCalls >= 1, 'the live call was rebuilt from show channels');
  const a = [...s.sim.sw.legs.values()].find((l) => l.init.direction === 'inbound');
  killLeg(s.sim.sw, a!, 'NORMAL_CLEARING');
  const fin = await s.portal.journal.next(ok('telephony.externalcall.finish'));
  t.equal(fin.params.CALL_ID, callId, 'finished under the CALL_ID registered before the restart');
  t.equal(s.portal.journal.entries.filter(ok('telephony.externalcall.register')).length, 1, 'registered once');
  // the recorder started before the restart (RECORD_START stored): the killed leg's file is attached
  const att = await s.portal.journal.next(ok('telephony.externalcall.attachrecord'));
  t.equal(att.params.CALL_ID, callId, 'its recording, for the same CALL_ID');
  await svc.portal.outbox.idle();
  t.match(await svc.store.stats(), { failed: 0 });
  t.same(await svc.store.pending(), [], 'nothing left');
  const r = await check({ overrides: overrides(s, { 'database.url': url }) });
  t.match(
    r.find((x) => x.name === 'database reachable'),
    { ok: true, detail: /^postgres at .*\(PostgreSQL \d+/ },
  );
  t.match(
    r.find((x) => x.name === 'database schema'),
    { ok: true, detail: /current/ },
  );
  t.match(
    r.find((x) => x.name === 'token'),
    { ok: true },
    'the portal checked with the tokens in the database',
  );
});

t.test('check: a database without the tables, and one that cannot be reached, each with its fix', async (t) => {
  const url = await testDatabase(t);
  const fresh = await check({ overrides: { 'database.url': url, 'esl.port': 1, logLevel: 'silent' } });
  t.match(
    fresh.find((x) => x.name === 'database schema'),
    {
      ok: false,
      detail: 'no tables yet',
      fix: /start the service once/,
    },
  );
  t.match(
    fresh.find((x) => x.name === 'portal'),
    { ok: false, fix: /database first/ },
  );
  const gone = new URL(url);
  gone.pathname = '/fsb24_no_such_database';
  gone.password = 'hunter2';
  const down = await check({ overrides: { 'database.url': gone.href, 'esl.port': 1, logLevel: 'silent' } });
  const hit = down.find((x) => x.name === 'database reachable');
  t.match(hit, { ok: false, detail: /fsb24_no_such_database.*does not exist/, fix: /FSB24_DATABASE_URL/ });
  t.notMatch(JSON.stringify(down), /hunter2/, 'the password is never shown');
});
