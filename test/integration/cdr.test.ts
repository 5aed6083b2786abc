/**
 * End to end with mod_json_cdr's real posts and spool files (test/fixtures/cdr): what the
 * emulated portal receives for calls the service only learns of from their CDRs, and that
 * nothing changes for calls it already sent.
 */
import t, { type Test } from 'tap';
import { copyFileSync, existsSync, mkdirSync, readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { stack } from '../helpers/stack.js';
import type { Stack } from '../../lib/demo/stack.js';
import { cdrCall, replayPost, withRecordingsDir, writeSpool, type CdrCapture } from '../helpers/cdr.js';
import { CDR_FIXTURES_DIR } from '../helpers/fixtures.js';
import { inboundCall, killLeg } from '../../lib/sim/freeswitch/index.js';
import { writeWav } from '../../lib/sim/freeswitch/wav.js';
import type { PortalRequest } from '../../lib/sim/bitrix24/index.js';
import { ok } from '../helpers/portal.js';

const REGISTER = 'telephony.externalcall.register';
const FINISH = 'telephony.externalcall.finish';
const ATTACH = 'telephony.externalcall.attachrecord';
/** The captures are from 2026-12-02: no age limit, so the tests never expire. */
const CDR = { 'cdr.maxAgeHours': 0 };
const IN_ANSWERED = 'b035bbb9-a2da-43e1-8679-91ff4a158ea3';

/** The legs of a captured call with its recording in `dir` (and the WAV written there), B legs first as posted. */
function recordedCall(prefix: string, dir: string): CdrCapture[] {
  const legs = cdrCall(prefix).map((c) => withRecordingsDir(c, dir));
  const a = legs[0] as CdrCapture;
  writeWav(join(dir, `${a.uuid}.wav`), 1);
  return [...legs.slice(1), a];
}

/** A call registered live and answered (its `connected` stored), on a stack that imports a spool. */
async function answeredLive(t: Test): Promise<{ spool: string; s: Stack; liveReg: PortalRequest }> {
  const spool = join(t.testdir({}), 'json_cdr');
  mkdirSync(spool);
  const s = await stack(t, { config: { ...CDR, 'cdr.spoolDirs': [spool] } });
  s.sim.sw.setExtension('1001', { ringMs: 1000 });
  const connected = new Promise<void>((r) => s.service.portal.onEffect((e) => e.kind === 'connected' && r()));
  void inboundCall(s.sim.sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001'],
    talkMs: -1,
    uuid: IN_ANSWERED,
  });
  const liveReg = await s.portal.journal.next(ok(REGISTER));
  await connected;
  return { spool, s, liveReg };
}

/** That call; then the service stops while it goes on. */
async function answeredThenStopped(t: Test): Promise<{ spool: string; s: Stack; liveReg: PortalRequest }> {
  const live = await answeredLive(t);
  await live.s.service.portal.outbox.idle();
  await live.s.stopService();
  return live;
}

/** That call ends while nobody listens (the last leg's CHANNEL_DESTROY goes out before the switch forgets it). */
async function endAnswered(s: Stack): Promise<void> {
  const gone = new Promise<void>((r) =>
    s.sim.sw.subscribe((e) => e.headers[0]?.[1] === 'CHANNEL_DESTROY' && s.sim.sw.legs.size <= 1 && r()),
  );
  killLeg(
    s.sim.sw,
    [...s.sim.sw.legs.values()].find((l) => l.uuid === IN_ANSWERED)!,
    'NORMAL_CLEARING',
  );
  await gone;
}

t.test(
  'an outbound call posted by mod_json_cdr, never seen live: register at its real start, finish with billsec',
  async (t) => {
    const s = await stack(t, { config: CDR });
    const [a, b] = cdrCall('outbound-answered') as [CdrCapture, CdrCapture];
    t.equal(await replayPost(s.service.url, b), 200, 'the gateway leg (posted first, as in the capture)');
    t.equal(await replayPost(s.service.url, a), 200, 'the A leg');
    const reg = await s.portal.journal.next(ok(REGISTER));
    t.same(reg.params, {
      USER_ID: 13,
      PHONE_NUMBER: '79161234567',
      TYPE: 1,
      CALL_START_DATE: '2026-12-02T00:39:29+00:00', // start_uepoch 1796171969820659
      CRM_CREATE: 1,
      SHOW: 0,
      EXTERNAL_CALL_ID: a.uuid,
      LINE_NUMBER: '4951234567',
    });
    const fin = await s.portal.journal.next(ok(FINISH));
    const callId = (reg.result as { CALL_ID: string }).CALL_ID;
    t.same(fin.params, { CALL_ID: callId, USER_ID: 13, DURATION: 5, STATUS_CODE: '200', ADD_TO_CHAT: 1 });
  },
);

t.test('an inbound call: who answered, the real duration, and its recording from app_log', async (t) => {
  const s = await stack(t, { config: CDR });
  for (const leg of recordedCall('inbound-answered', s.config.recordings.dirs[0] as string))
    t.equal(await replayPost(s.service.url, leg), 200, leg.name);
  const reg = await s.portal.journal.next(ok(REGISTER));
  t.match(reg.params, {
    USER_ID: 11,
    TYPE: 2,
    PHONE_NUMBER: '+79161234567',
    CALL_START_DATE: '2026-12-02T00:39:20+00:00',
  });
  const fin = await s.portal.journal.next(ok(FINISH));
  t.match(fin.params, { USER_ID: 11, DURATION: 5, STATUS_CODE: '200' });
  const att = await s.portal.journal.next(ok(ATTACH));
  t.equal(att.params.CALL_ID, (reg.result as { CALL_ID: string }).CALL_ID);
  const file = s.portal.state.files.find((f) => f.CALL_ID === att.params.CALL_ID);
  t.equal(file?.bytes.subarray(0, 4).toString(), 'RIFF', 'the WAV reached the portal');
});

t.test('each encoding mod_json_cdr has: base64 and encode-values=false land; encode=true is refused', async (t) => {
  const s = await stack(t, { config: CDR });
  for (const call of ['encode-base64.outbound-answered', 'encode-values-false.outbound-answered']) {
    for (const leg of cdrCall(call).reverse()) t.equal(await replayPost(s.service.url, leg), 200, leg.name);
    const reg = await s.portal.journal.next(ok(REGISTER));
    t.equal(reg.params.EXTERNAL_CALL_ID, cdrCall(call)[0]?.uuid, call);
    t.match((await s.portal.journal.next(ok(FINISH))).params, { DURATION: 5, STATUS_CODE: '200' }, call);
  }
  await s.service.portal.outbox.idle();
  const calls = (): number => s.portal.journal.entries.filter((r) => r.method.startsWith('telephony.')).length;
  const before = calls();
  for (const leg of cdrCall('encode-true.outbound-answered')) t.equal(await replayPost(s.service.url, leg), 400);
  await s.service.portal.outbox.idle();
  t.equal(calls(), before, 'nothing sent');
  t.match((await s.service.health()).body, { cdr: { heldCalls: 0 } }, 'nothing held');
});

t.test('bad bodies are refused (400) and change nothing', async (t) => {
  const s = await stack(t, { config: CDR });
  const post = (body: string, type: string) =>
    fetch(`${s.service.url}/freeswitch/cdr?uuid=95615bf1-8512-4898-8a46-f26cdeadd6f3`, {
      method: 'POST',
      headers: { 'content-type': type },
      body,
    });
  const stats = await s.service.portal.store.stats();
  for (const [body, type] of [
    ['{"variables": {}', 'application/json'],
    ['{"variables": {"uuid": "nope"}}', 'application/json'],
    ['', 'application/json'],
    ['cdr=%7B', 'application/x-www-form-urlencoded'],
    ['cdr=***', 'application/x-www-form-base64-encoded'],
  ] as const) {
    const res = await post(body, type);
    t.equal(res.status, 400, body || '(empty)');
    t.match(await res.json(), { error: 'CDR_ERR_PARSE' });
  }
  t.same(await s.service.portal.store.stats(), stats, 'the outbox is untouched');
  t.match((await s.service.health()).body, { cdr: { heldCalls: 0 } });
});

t.test('with FSB24_CDR_CREDENTIALS, mod_json_cdr cred is required', async (t) => {
  const s = await stack(t, { config: { ...CDR, 'cdr.credentials': 'freeswitch:s3cret' } });
  const [a] = cdrCall('outbound-busy') as [CdrCapture];
  t.equal(await replayPost(s.service.url, a), 401, 'no credentials');
  const basic = (u: string) => `Basic ${Buffer.from(u).toString('base64')}`;
  t.equal(await replayPost(s.service.url, a, [['Authorization', basic('freeswitch:wrong')]]), 401, 'wrong ones');
  t.equal(await replayPost(s.service.url, a, [['Authorization', basic('freeswitch:s3cret')]]), 200);
});

t.test('a CDR of a call already sent live changes nothing', async (t) => {
  const s = await stack(t, { config: CDR });
  s.sim.sw.setExtension('1001', { ringMs: 1000 });
  const call = await inboundCall(s.sim.sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001'],
    talkMs: 2000,
    uuid: IN_ANSWERED,
  });
  await s.portal.journal.next(ok(FINISH));
  await s.portal.journal.next(ok(ATTACH));
  await s.service.portal.outbox.idle();
  const seen = s.portal.journal.entries.length;
  for (const leg of recordedCall('inbound-answered', s.config.recordings.dirs[0] as string)) {
    t.equal(leg.uuid === call.uuid || leg.name.includes('b-leg'), true);
    t.equal(await replayPost(s.service.url, leg), 200, leg.name);
  }
  await s.service.portal.outbox.idle();
  t.equal(s.portal.journal.entries.length, seen, 'the portal hears nothing more');
  t.match((await s.service.health()).body, { cdr: { heldCalls: 0, sent: 0 } });
});

t.test('the event socket is deaf while an answered call ends: the finish is the CDR’s, not a guess', async (t) => {
  const { s, liveReg: reg } = await answeredLive(t);
  s.service.switch.listener.stop(); // deaf: the call's end is never heard
  const a = [...s.sim.sw.legs.values()].find((l) => l.uuid === IN_ANSWERED);
  // the last leg's CHANNEL_DESTROY goes out before the switch forgets it
  const gone = new Promise<void>((r) =>
    s.sim.sw.subscribe((e) => e.headers[0]?.[1] === 'CHANNEL_DESTROY' && s.sim.sw.legs.size <= 1 && r()),
  );
  killLeg(s.sim.sw, a!, 'NORMAL_CLEARING');
  await gone;
  // FreeSWITCH posts the legs' CDRs as they are destroyed
  for (const leg of recordedCall('inbound-answered', s.config.recordings.dirs[0] as string))
    t.equal(await replayPost(s.service.url, leg), 200, leg.name);
  const fin = await s.portal.journal.next(ok(FINISH));
  t.same(fin.params, {
    CALL_ID: (reg.result as { CALL_ID: string }).CALL_ID,
    USER_ID: 11,
    DURATION: 5,
    STATUS_CODE: '200',
    ADD_TO_CHAT: 1,
  });
  // the socket comes back: the model's guess for the call is held, then a no-op
  const ready = new Promise<void>((r) => s.service.switch.listener.once('ready', () => r()));
  s.service.switch.listener.start();
  await ready;
  await s.service.portal.outbox.idle();
  t.equal(s.portal.journal.entries.filter(ok(FINISH)).length, 1, 'finished once');
  t.equal(s.portal.journal.entries.filter(ok(REGISTER)).length, 1, 'registered once');
});

t.test(
  'the service is stopped while calls start and end: on start, each lands from the spool with its real times',
  async (t) => {
    const { spool, s, liveReg } = await answeredThenStopped(t);
    const rec = s.config.recordings.dirs[0] as string;
    // 60 s without the service: that call ends, others start and end; every post fails and
    // FreeSWITCH writes each leg to its err-log-dir
    await endAnswered(s);
    for (const leg of recordedCall('inbound-answered', rec)) writeSpool(spool, leg);
    for (const leg of recordedCall('inbound-missed', rec)) writeSpool(spool, leg);
    for (const call of ['outbound-answered', 'outbound-busy']) for (const leg of cdrCall(call)) writeSpool(spool, leg);
    for (const dir of ['not-listening', 'retry-500', 'encvalues-false-prefixa-500', 'encode-true-500'])
      for (const f of readdirSync(join(CDR_FIXTURES_DIR, 'spool', dir)))
        copyFileSync(join(CDR_FIXTURES_DIR, 'spool', dir, f), join(spool, f));
    // files written more than the stable time ago (FreeSWITCH wrote them during the outage)
    const past = (Date.now() - 60_000) / 1000;
    for (const f of readdirSync(spool)) utimesSync(join(spool, f), past, past);

    await s.restartService();
    const expected: Record<string, { start: string; duration: number; status: string; user: number }> = {
      [IN_ANSWERED]: { start: '', duration: 5, status: '200', user: 11 },
      'e4bb87fa-0367-4be7-9f64-74d3b3cfae01': {
        start: '2026-12-02T00:39:10+00:00',
        duration: 0,
        status: '304',
        user: 11,
      },
      '95615bf1-8512-4898-8a46-f26cdeadd6f3': {
        start: '2026-12-02T00:39:29+00:00',
        duration: 5,
        status: '200',
        user: 13,
      },
      '629be6fb-c6ba-421b-bf6e-86402d133474': {
        start: '2026-12-02T00:37:52+00:00',
        duration: 0,
        status: '486',
        user: 13,
      },
      'd1620dbb-1e1b-4ef7-a057-504f10074512': {
        start: '2026-12-02T00:38:16+00:00',
        duration: 5,
        status: '200',
        user: 13,
      },
      '376a7b10-63d0-43fe-a4be-220037a3f9c9': {
        start: '2026-12-02T00:38:01+00:00',
        duration: 5,
        status: '200',
        user: 13,
      },
      '75596872-0a09-4c30-966d-437bbdb3b9d0': {
        start: '2026-12-02T00:38:59+00:00',
        duration: 5,
        status: '200',
        user: 13,
      },
    };
    const n = Object.keys(expected).length;
    await s.portal.journal.until(() => s.portal.journal.entries.filter(ok(FINISH)).length >= n, 15_000);
    await s.portal.journal.until(() => s.portal.journal.entries.filter(ok(ATTACH)).length >= 2, 15_000);
    await s.service.portal.outbox.idle();
    const registers = s.portal.journal.entries.filter(ok(REGISTER));
    t.equal(registers.length, n, 'one register per call, the live one not again');
    const idOf = new Map(
      registers.map((r) => [(r.result as { CALL_ID: string }).CALL_ID, String(r.params.EXTERNAL_CALL_ID)]),
    );
    for (const r of registers.slice(1)) {
      const e = expected[String(r.params.EXTERNAL_CALL_ID)];
      t.ok(e, `${String(r.params.EXTERNAL_CALL_ID)} is one of the calls`);
      t.equal(r.params.CALL_START_DATE, e?.start, 'its real start time');
      t.equal(Number(r.params.SHOW), 0, 'no card for a call that is over');
    }
    const finishes = s.portal.journal.entries.filter(ok(FINISH));
    t.equal(finishes.length, n, 'one finish per call');
    for (const f of finishes) {
      const call =
        f.params.CALL_ID === (liveReg.result as { CALL_ID: string }).CALL_ID
          ? IN_ANSWERED
          : idOf.get(String(f.params.CALL_ID));
      const e = expected[call ?? ''];
      t.match(f.params, { DURATION: e?.duration, STATUS_CODE: e?.status, USER_ID: e?.user }, `${call}: from its CDR`);
      t.notOk('FAILED_REASON' in f.params, 'not a guess');
    }
    t.equal(s.portal.journal.entries.filter(ok(ATTACH)).length, 2, 'the two recorded inbound calls');
    t.same(
      readdirSync(spool).filter((f) => f.endsWith('.cdr.json')),
      [],
      'every file taken',
    );
    t.equal(readdirSync(join(spool, 'rejected')).length, 2, 'encode=true files set aside');
    t.ok(existsSync(join(spool, 'imported', `${IN_ANSWERED}.cdr.json`)));
  },
);

t.test(
  'after a restart, a CDR that FreeSWITCH retries within the grace period replaces the orphan guess',
  async (t) => {
    const { s } = await answeredThenStopped(t);
    await endAnswered(s);
    await s.restartService(); // the call is gone from the switch: an orphan, its finish held for its CDR
    t.match((await s.service.health()).body, { cdr: { waitingGuesses: 1 } });
    for (const leg of recordedCall('inbound-answered', s.config.recordings.dirs[0] as string))
      t.equal(await replayPost(s.service.url, leg), 200, `${leg.name} (FreeSWITCH's retry)`);
    const fin = await s.portal.journal.next(ok(FINISH));
    t.match(fin.params, { USER_ID: 11, DURATION: 5, STATUS_CODE: '200' });
    t.notOk('FAILED_REASON' in fin.params, "the CDR's truth, not the guess");
    t.match((await s.service.health()).body, { cdr: { waitingGuesses: 0, replacedGuesses: 1 } });
  },
);
