/**
 * Recordings reach Bitrix24 (issue 4): the exact bytes, for the right CALL_ID, after
 * finish, in both upload modes; late and growing files; paths outside the directory;
 * a portal outage during the upload; a service restart between finish and upload.
 */
import t from 'tap';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stack } from '../helpers/stack.js';
import { endBridge, inboundCall, killLeg } from '../../lib/sim/freeswitch/index.js';
import type { Stack } from '../../lib/demo/stack.js';
import { ok } from '../helpers/portal.js';

const fast = { 'b24.retryBaseMs': 20 };

async function finishedCall(
  s: Stack,
  opts: Parameters<typeof inboundCall>[1] extends infer O ? Partial<O> : never = {},
): Promise<{ callId: string; uuid: string; path: string | undefined }> {
  const r = await inboundCall(s.sim.sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001'],
    talkMs: 3000,
    ...opts,
  });
  const fin = await s.portal.journal.next(ok('telephony.externalcall.finish'));
  return { callId: String(fin.params.CALL_ID), uuid: r.uuid, path: r.recording };
}

/** An answered call recorded at `path` (b24_record_path, RECORD_START); the test writes the file itself. */
async function callRecordedAt(s: Stack, path: string): Promise<void> {
  const sw = s.sim.sw;
  const a = sw.trunkInbound('+79161234567', '4951234567');
  a.setVar('b24_record_path', path);
  sw.create(a);
  sw.recordStart(a, path);
  const b = sw.userOutbound('1001', a);
  sw.create(b);
  sw.progress(b);
  sw.answer(b);
  sw.answer(a);
  sw.bridge(a, b);
  await sw.wait(4000);
  await endBridge(sw, a, b, a);
}

t.test('small recording: base64 FILE_CONTENT, after finish, exact bytes', async (t) => {
  const s = await stack(t, { config: fast });
  const { callId, path } = await finishedCall(s);
  const att = await s.portal.journal.next(ok('telephony.externalcall.attachrecord'));
  t.equal(att.params.CALL_ID, callId);
  t.match(att.params.FILENAME, /^[0-9a-f-]{36}\.wav$/);
  const finIndex = s.portal.journal.entries.findIndex(ok('telephony.externalcall.finish'));
  t.ok(s.portal.journal.entries.indexOf(att) > finIndex, 'attached after finish landed');
  t.same(s.portal.state.files[0]?.bytes, readFileSync(path!), 'the exact bytes');
  t.equal(s.portal.state.files[0]?.via, 'content');
});

t.test('a recorded call ended by uuid_kill while talking: its recording is attached all the same', async (t) => {
  const s = await stack(t, { config: fast });
  const sw = s.sim.sw;
  const bridged = new Promise<void>((r) => sw.subscribe((e) => e.headers[0]?.[1] === 'CHANNEL_BRIDGE' && r()));
  const call = inboundCall(sw, { caller: '+79161234567', did: '4951234567', extensions: ['1001'], talkMs: -1 });
  await bridged;
  killLeg(
    sw,
    [...sw.legs.values()].find((l) => l.init.direction === 'inbound')!,
    'NORMAL_CLEARING',
  );
  const { recording } = await call;
  const fin = await s.portal.journal.next(ok('telephony.externalcall.finish'));
  const att = await s.portal.journal.next(ok('telephony.externalcall.attachrecord'));
  t.equal(att.params.CALL_ID, fin.params.CALL_ID, 'for the call killed');
  t.same(s.portal.state.files[0]?.bytes, readFileSync(recording!), 'the exact bytes of the file the switch closed');
});

t.test('under load, recordings ride inside the batches, behind the cards', async (t) => {
  // a short bucket: the service is loaded, every request carries what is ready
  const s = await stack(t, { config: fast, emulator: { burst: 6, drainPerSec: 2 } });
  const calls = Array.from({ length: 6 }, (_, i) =>
    inboundCall(s.sim.sw, { caller: `+7916123456${i}`, did: '4951234567', extensions: ['1001'], talkMs: 2000 }),
  );
  await Promise.all(calls);
  await s.portal.journal.until(() => s.portal.state.files.length === 6, 20_000);
  const attaches = s.portal.journal.entries.filter(ok('telephony.externalcall.attachrecord'));
  t.ok(
    attaches.some((a) => a.batch),
    'attachRecord inside a batch',
  );
  for (const a of attaches.filter((x) => x.batch))
    t.ok(typeof a.params.FILE_CONTENT === 'string', 'with FILE_CONTENT in the batch');
  t.same(
    s.portal.state.files.map((f) => f.via),
    Array(6).fill('content'),
    'every file, as base64 content',
  );
  for (const req of s.portal.journal.entries.filter((r) => r.method === 'batch')) {
    const order = Object.values(req.params.cmd as Record<string, string>).map((c) => c.split('?')[0]);
    const lastCard = Math.max(
      order.lastIndexOf('telephony.externalcall.register'),
      order.lastIndexOf('telephony.externalcall.show'),
    );
    const firstRecording = order.indexOf('telephony.externalcall.attachrecord');
    if (firstRecording >= 0) t.ok(lastCard < firstRecording, `no card behind a recording: ${order.join(', ')}`);
  }
});

t.test('large recording: the two-step uploadUrl with a streamed multipart body', async (t) => {
  const s = await stack(t, { config: { ...fast, 'recordings.inlineMaxBytes': 1000 } });
  const { callId, path } = await finishedCall(s);
  await s.portal.journal.next((r) => r.method === 'upload' && r.status === 200);
  const file = s.portal.state.files.find((f) => f.CALL_ID === callId);
  t.equal(file?.via, 'upload');
  t.same(file?.bytes, readFileSync(path!), 'the exact bytes');
});

t.test('a recording that appears late is sent when it appears; one that keeps growing waits', async (t) => {
  const s = await stack(t, { config: { ...fast, 'calls.sendInternal': false } });
  const dir = s.config.recordings.dirs[0]!;
  mkdirSync(dir, { recursive: true });
  // the dialplan names a file the recorder has not written yet
  const late = join(dir, 'late.wav');
  await callRecordedAt(s, late);
  const fin = await s.portal.journal.next(ok('telephony.externalcall.finish'));
  await s.service.portal.outbox.idle();
  t.equal(s.portal.state.files.length, 0, 'nothing to send yet');
  writeFileSync(late, Buffer.from('RIFF-late-file'));
  await s.portal.journal.next(ok('telephony.externalcall.attachrecord'));
  t.same(s.portal.state.files[0]?.bytes.toString(), 'RIFF-late-file');
  t.equal(s.portal.state.files[0]?.CALL_ID, fin.params.CALL_ID);
});

// a growing file (sent only once it stops changing): test/unit/recordings/stability.test.ts, on a moved clock

t.test('paths outside the recordings directories are refused, never read', async (t) => {
  const s = await stack(t, { config: fast });
  const dir = s.config.recordings.dirs[0]!;
  mkdirSync(dir, { recursive: true });
  const outside = join(dir, '..', 'secret.wav');
  writeFileSync(outside, 'SECRET');
  symlinkSync(outside, join(dir, 'link.wav'));
  for (const path of [outside, join(dir, '..', 'secret.wav'), join(dir, 'link.wav'), '/etc/passwd.wav']) {
    await callRecordedAt(s, path);
    await s.portal.journal.next(ok('telephony.externalcall.finish'));
  }
  await s.service.portal.outbox.idle();
  t.equal(s.portal.state.files.length, 0, 'nothing uploaded');
  const failed = await s.service.store.failedJobs();
  t.equal(failed.filter((f) => f.kind === 'attach').length, 4, 'each refusal is kept as a visible failure');
  for (const f of failed) t.match(f.lastError, /outside the recordings directories/);
});

t.test(
  'a portal outage during the upload, then a restart between finish and upload: still attached, once',
  async (t) => {
    const s = await stack(t, { config: fast });
    s.portal.blockedMethods.add('telephony.externalcall.attachrecord');
    const { callId, path } = await finishedCall(s);
    await s.portal.journal.next((r) => r.method === 'telephony.externalcall.attachrecord' && r.status === 429);
    s.portal.setOutage('http500');
    s.portal.blockedMethods.delete('telephony.externalcall.attachrecord');
    await s.stopService();
    s.portal.setOutage('none');
    await s.restartService();
    await s.portal.journal.next(ok('telephony.externalcall.attachrecord'), 10_000);
    t.same(s.portal.state.files.find((f) => f.CALL_ID === callId)?.bytes, readFileSync(path!));
    t.equal(s.portal.journal.entries.filter(ok('telephony.externalcall.finish')).length, 1, 'finished once');
  },
);

t.test('url mode: Bitrix24 fetches the recording from a signed, expiring link', async (t) => {
  const s = await stack(t, { config: { ...fast, 'recordings.mode': 'url' } });
  const { callId, path } = await finishedCall(s);
  const att = await s.portal.journal.next(ok('telephony.externalcall.attachrecord'));
  t.match(
    att.params.RECORD_URL,
    /^http:\/\/127\.0\.0\.1:\d+\/recordings\/[A-Za-z0-9_-]+\/[0-9a-f-]{36}\.wav\?exp=\d+&sig=[A-Za-z0-9_-]{43}$/,
  );
  const file = s.portal.state.files.find((f) => f.CALL_ID === callId);
  t.equal(file?.via, 'url');
  t.same(file?.bytes, readFileSync(path!), 'the exact bytes, pulled by the portal');
  const url = new URL(String(att.params.RECORD_URL));
  const tampered = await s.service.app.inject({
    method: 'GET',
    url: `${url.pathname}?exp=${url.searchParams.get('exp')}&sig=${'A'.repeat(43)}`,
  });
  t.equal(tampered.statusCode, 403);
  const otherFile = Buffer.from('/etc/passwd').toString('base64url');
  t.equal(
    (await s.service.app.inject({ method: 'GET', url: `/recordings/${otherFile}/x.wav${url.search}` })).statusCode,
    403,
    'a signature is for one file',
  );
  const expired = s.service.portal.links.link(path!, 'x.wav', -10);
  t.equal((await s.service.app.inject({ method: 'GET', url: expired })).statusCode, 410);
  const outside = s.service.portal.links.link('/etc/passwd', 'passwd', 60);
  t.equal(
    (await s.service.app.inject({ method: 'GET', url: outside })).statusCode,
    404,
    'even a signed link cannot leave the recordings directories',
  );
});

t.test('a call rejected before answer leaves no attach job waiting for a recording never written', async (t) => {
  const s = await stack(t, { config: fast });
  const sw = s.sim.sw;
  const a = sw.extensionInbound('1003', '79161234567');
  a.setVar('b24_record_path', join(s.config.recordings.dirs[0]!, `${a.uuid}.wav`)); // recorded on answer: never started
  sw.create(a);
  const b = sw.gatewayOutbound('79161234567', a);
  sw.create(b);
  sw.progress(b);
  sw.hangup(b, 'USER_BUSY', { sipTermStatus: '486', disposition: 'recv_refuse' });
  sw.complete(b);
  sw.hangup(a, 'USER_BUSY', { disposition: 'send_refuse' });
  sw.complete(a);
  await s.portal.journal.next(ok('telephony.externalcall.finish'));
  await s.service.portal.outbox.idle();
  t.match(await s.service.store.stats(), { pending: 0, failed: 0 }, 'nothing pending: no attach for 10 minutes');
  const health = JSON.parse((await s.service.app.inject({ method: 'GET', url: '/healthz' })).body) as {
    outbox: unknown;
  };
  t.match(health.outbox, { pending: 0, oldestPendingAgeSec: null });
});
