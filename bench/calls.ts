/**
 * npm run bench [-- --rate 15 --duration 300 --live 5000]
 * Drives calls through simulator → service (its own process) → emulator (leaky bucket
 * at its default 2 requests/s, burst 50) and prints: sustained new calls per second with
 * nothing lost, REST requests per call, card latency (trunk CHANNEL_CREATE → register at
 * the portal) p50/p99 idle and under load, events per second ingested, peak RSS with
 * N live calls. Figures, not pass/fail: the README and CHANGELOG quote them.
 */
import { fork } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFreeswitchSim, inboundCall } from '../lib/sim/freeswitch/index.js';
import { startBitrix24Emulator } from '../lib/sim/bitrix24/index.js';
import { OFFICE } from '../lib/demo/stack.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const RATE = arg('rate', 15);
const DURATION = arg('duration', 60);
const LIVE = arg('live', 5000);
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

const dir = mkdtempSync(join(tmpdir(), 'fsb24-bench-'));
const sim = await startFreeswitchSim({ recordingsDir: join(dir, 'rec'), speed: 1 });
const portal = await startBitrix24Emulator();
for (const u of OFFICE) portal.state.addUser({ ...u });
for (let i = 0; i < 100; i++) {
  const ext = String(2000 + i);
  portal.state.addUser({ ID: 100 + i, UF_PHONE_INNER: ext });
  sim.sw.setExtension(ext, { registered: true, mode: 'answer', ringMs: 1000 });
}
// the V8 flag the shipped entry point and systemd unit run the service with
const child = fork(fileURLToPath(new URL('./service-child.js', import.meta.url)), [], {
  execArgv: ['--max-semi-space-size=4'],

  env: {
    ...process.env,
    FSB24_ESL_HOST: sim.host, FSB24_ESL_PORT: String(sim.port), FSB24_HTTP_PORT: '0', FSB24_DATA_DIR: join(dir, 'data'),
    FSB24_B24_PORTAL_URL: portal.url, FSB24_B24_CLIENT_ID: portal.app.clientId, FSB24_B24_CLIENT_SECRET: portal.app.clientSecret,
    FSB24_B24_OAUTH_URL: portal.url, FSB24_RECORDINGS_DIRS: join(dir, 'rec'), FSB24_LOG_LEVEL: 'silent', FSB24_CARD_WINDOW_MS: '300',
  },
});
type Stats = { rss: number; peak: number; heap: number; external: number; url: string; liveCalls: number; events: number; outbox: { pending: number; failed: number } };
const ask = (): Promise<Stats> => new Promise((r) => {
  child.once('message', (m) => r(m as Stats));
  child.send({ cmd: 'stats' });
});
const ready = await new Promise<{ url: string }>((r) => child.once('message', (m) => r(m as { url: string })));
await portal.install(`${ready.url}/bitrix24/events`);
while (portal.state.handlers.length < 2) await sleep(10);
await sleep(300);

const created = new Map<string, number>();
const latency = (since: number): number[] => {
  const out: number[] = [];
  for (const r of portal.journal.entries) {
    if (r.method !== 'telephony.externalcall.register' || r.status !== 200 || r.at < since) continue;
    const t0 = created.get(String(r.params.EXTERNAL_CALL_ID));
    if (t0 !== undefined) out.push(r.at - t0);
  }
  return out;
};
let n = 0;
const call = (talkMs: number): Promise<unknown> => {
  const uuid = crypto.randomUUID();
  const ext = String(2000 + (n++ % 100));
  created.set(uuid, Date.now());
  return inboundCall(sim.sw, { uuid, caller: `+7916${String(1000000 + n).padStart(7, '0')}`, did: '4951234567', extensions: [ext], talkMs, record: false });
};

console.log(`FreeSWITCH simulator → service (pid ${child.pid}) → Bitrix24 emulator (2 req/s, burst 50)`);
// 1. idle latency
const idleStart = Date.now();
for (let i = 0; i < 20; i++) {
  void call(300);
  await sleep(1000);
}
await sleep(3000);
const idle = latency(idleStart);
console.log(`card latency, no load:          p50 ${pct(idle, 50)} ms, p99 ${pct(idle, 99)} ms (${idle.length} calls)`);

// 2. sustained load
portal.journal.clear();
const reqBefore = 0;
const loadStart = Date.now();
const stats0 = await ask();
let launched = 0;
const pending: Array<Promise<unknown>> = [];
while (Date.now() - loadStart < DURATION * 1000) {
  const due = Math.floor(((Date.now() - loadStart) / 1000) * RATE);
  while (launched < due) {
    pending.push(call(10_000));
    launched++;
  }
  await sleep(20);
}
const loadSecs = (Date.now() - loadStart) / 1000;
await Promise.all(pending);
const stats1 = await ask();
const drainStart = Date.now();
let finished = 0;
for (;;) {
  finished = portal.journal.entries.filter((r) => r.method === 'telephony.externalcall.finish' && r.status === 200).length;
  if (finished >= launched || Date.now() - drainStart > 120_000) break;
  await sleep(200);
}
const loadLat = latency(loadStart);
const httpRequests = portal.journal.entries.filter((r) => !r.batch).length - reqBefore;
const registers = portal.journal.entries.filter((r) => r.method === 'telephony.externalcall.register' && r.status === 200).length;
console.log(`sustained load:                 ${launched} calls in ${loadSecs.toFixed(0)} s = ${(launched / loadSecs).toFixed(1)} new calls/s; finished ${finished}, lost ${launched - finished}, registered twice ${registers - launched > 0 ? registers - launched : 0}`);
console.log(`REST requests per call:         ${(httpRequests / launched).toFixed(2)} (batched; ${httpRequests} HTTP requests)`);
console.log(`card latency at ${RATE} calls/s:    p50 ${pct(loadLat, 50)} ms, p99 ${pct(loadLat, 99)} ms`);
console.log(`events ingested:                ${((stats1.events - stats0.events) / loadSecs).toFixed(0)} events/s`);

// 3. memory with many live calls
const holds: Array<Promise<unknown>> = [];
for (let i = 0; i < LIVE; i++) {
  holds.push(call(-1));
  if (i % 200 === 199) await sleep(50);
}
for (let t = 0; t < 200; t++) {
  const s = await ask();
  if (s.liveCalls >= LIVE * 0.99) break;
  await sleep(100);
}
const live = await ask();
console.log(`memory with ${live.liveCalls} live calls:  rss ${(live.rss / 1048576).toFixed(0)} MB, peak rss ${(live.peak / 1048576).toFixed(0)} MB (heap ${(live.heap / 1048576).toFixed(0)} MB, external ${(live.external / 1048576).toFixed(0)} MB)`);
child.send({ cmd: 'stop' });
await new Promise((r) => child.once('exit', r));
await sim.close();
await portal.close();
process.exit(0);
