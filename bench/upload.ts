/**
 * npm run bench:upload [-- --mb 200]
 * Peak memory of attaching a large recording, in both modes: the two-step uploadUrl
 * (multipart streamed from disk) and FILE_CONTENT (base64 streamed into the JSON body).
 * The portal emulator runs in another process; this process is the uploader alone.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteStore } from '../lib/store/sqlite.js';
import { Bitrix24Client } from '../lib/bitrix24/client.js';
import { RateLimiter } from '../lib/bitrix24/limiter.js';
import { RecordingUploader } from '../lib/recordings/uploader.js';
import { createLogger } from '../lib/log.js';
import { wavBytes } from '../lib/sim/freeswitch/wav.js';

const i = process.argv.indexOf('--mb');
const MB = i >= 0 ? Number(process.argv[i + 1]) : 200;
const dir = mkdtempSync(join(tmpdir(), 'fsb24-upload-'));
const path = join(dir, 'big.wav');
const fd = openSync(path, 'w');
const chunk = wavBytes(60); // ~1 MB of audio, repeated
let written = 0;
while (written < MB * 1024 * 1024) written += writeSync(fd, chunk);
closeSync(fd);

const child = fork(fileURLToPath(new URL('./emulator-child.js', import.meta.url)), [], {
  execArgv: ['--max-old-space-size=8192'],
});
const msg = <T>(): Promise<T> => new Promise((r) => child.once('message', (m) => r(m as T)));
const info = await msg<{ url: string; restUrl: string; token: string; refresh: string }>();
const store = new SqliteStore(join(dir, 'data'));
await store.setTokens({
  accessToken: info.token,
  refreshToken: info.refresh,
  expiresAt: Date.now() + 3600_000,
  clientEndpoint: info.restUrl,
  memberId: 'm',
  domain: 'd',
  applicationToken: 'a',
  scope: 'telephony',
});
const log = createLogger('silent');
const client = new Bitrix24Client({ mode: 'oauth', store, limiter: new RateLimiter(50, 2), timeoutMs: 600_000, log });

async function run(label: string, inlineMaxBytes: number): Promise<void> {
  child.send({ cmd: 'call' });
  const { callId } = await msg<{ callId: string }>();
  const uploader = new RecordingUploader({ client, dirs: [dir], log, inlineMaxBytes, stableMs: 0 });
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const started = Date.now();
  const r = await uploader.attach(callId, path, {
    id: 1,
    call: 'c',
    effect: { kind: 'attach', call: 'c', path },
    attempts: 0,
    nextAt: 0,
    createdAt: Date.now(),
    lastError: null,
  });
  clearInterval(timer);
  const secs = (Date.now() - started) / 1000;
  child.send({ cmd: 'files' });
  const { files } = await msg<{ files: Array<{ id: string; size: number }> }>();
  const got = files.find((f) => f.id === callId)?.size ?? 0;
  console.log(
    `${label.padEnd(34)} ${r === 'done' ? 'ok' : JSON.stringify(r)}, ${(written / 1048576).toFixed(0)} MB in ${secs.toFixed(1)} s, portal got ${(got / 1048576).toFixed(0)} MB; uploader rss ${(base / 1048576).toFixed(0)} MB before, peak ${(peak / 1048576).toFixed(0)} MB (+${((peak - base) / 1048576).toFixed(0)} MB)`,
  );
}

await run('uploadUrl (multipart, streamed)', 4 * 1024 * 1024);
await run('FILE_CONTENT (base64, streamed)', Number.MAX_SAFE_INTEGER);
await client.close();
child.send({ cmd: 'stop' });
await store.close();
