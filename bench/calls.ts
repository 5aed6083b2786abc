/**
 * npm run bench -- [--rate 15 | --rates 2,5,15] [--duration 60] [--seed 1] [--bucket 50,2]
 *                  [--talk 1] [--live 5000] [--no-baseline] [--pg <url> | --no-pg]
 * A real office through simulator → service (its own process, started as the entry
 * point starts it) → portal emulator with Bitrix24's leaky bucket: the mix of
 * bench/office.ts with recordings, Poisson arrivals from a seed. Each rate runs twice
 * over the same schedule: the service, and a one-request-per-command baseline (the
 * same service with FSB24_B24_BATCH_MAX=1), and (a third time) two instances of the service on
 * one PostgreSQL database (bench/cluster-run.ts). Prints one table; then the service's RSS
 * with --live calls up at once. Figures, not pass/fail.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFreeswitchSim, inboundCall } from '../lib/sim/freeswitch/index.js';
import { startBitrix24Emulator, type Bitrix24Emulator } from '../lib/sim/bitrix24/index.js';
import { office, play, schedule, ANSWERING, type Arrival } from './office.js';
import { perInstance, pgServer, startPair, type PgServer, type Started } from './cluster-run.js';

const argv = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : def;
};
const RATES = opt('rates', opt('rate', '15')).split(',').map(Number);
const DURATION = Number(opt('duration', '60'));
const SEED = Number(opt('seed', '1'));
const [BURST, DRAIN] = opt('bucket', '50,2').split(',').map(Number) as [number, number];
const TALK_MS = Number(opt('talk', '1')) * 1000;
const LIVE = Number(opt('live', '5000'));
const BASELINE = !argv.includes('--no-baseline');
const DRAIN_LIMIT_MS = Number(opt('drain-limit', '120')) * 1000;
// the PostgreSQL column (issue 15): --pg <url> a server of yours, --no-pg none, else a throwaway cluster
const PG = await pgServer(argv.includes('--no-pg') ? false : opt('pg', ''));

type Stats = { rss: number; peak: number; cpu: number; url: string; liveCalls: number; each?: Stats[] };
interface Result {
  offered: number;
  landed: number;
  requests: number;
  commands: number;
  lat: number[];
  drainMs: number | null;
  peakRss: number;
  cpuSec: number;
  limited: number;
  /** Two instances: each one's peak RSS and CPU seconds (peakRss and cpuSec are their sums). */
  each?: Stats[];
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN;
};

async function startService(
  dir: string,
  esl: { host: string; port: number },
  portal: Bitrix24Emulator,
  batchMax: number,
  extra: Record<string, string> = {},
  install = true,
): Promise<{ child: ChildProcess; ask: () => Promise<Stats>; stop: () => Promise<void> }> {
  // the V8 flag the shipped entry point and systemd unit run the service with
  const child = fork(fileURLToPath(new URL('./service-child.js', import.meta.url)), [], {
    execArgv: ['--max-semi-space-size=4', ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)],
    env: {
      ...process.env,
      FSB24_ESL_HOST: esl.host,
      FSB24_ESL_PORT: String(esl.port),
      FSB24_HTTP_PORT: '0',
      FSB24_DATA_DIR: join(dir, 'data'),
      FSB24_B24_PORTAL_URL: portal.url,
      FSB24_B24_CLIENT_ID: portal.app.clientId,
      FSB24_B24_CLIENT_SECRET: portal.app.clientSecret,
      FSB24_B24_OAUTH_URL: portal.url,
      FSB24_RECORDINGS_DIRS: join(dir, 'rec'),
      FSB24_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
      FSB24_B24_RATE_BURST: String(BURST),
      FSB24_B24_RATE_DRAIN: String(DRAIN),
      FSB24_B24_BATCH_MAX: String(batchMax),
      FSB24_RECORDINGS_STABLE_MS: '0',
      ...extra,
    },
  });
  const ask = (): Promise<Stats> =>
    new Promise((r) => {
      child.once('message', (m) => r(m as Stats));
      child.send({ cmd: 'stats' });
    });
  const ready = await new Promise<{ url: string }>((r) => child.once('message', (m) => r(m as { url: string })));
  if (install) {
    await portal.install(`${ready.url}/bitrix24/events`);
    while (portal.state.handlers.length < 2) await sleep(10);
  }
  return { child, ask, stop: () => stop(child) };
}

async function stop(child: ChildProcess): Promise<void> {
  child.send({ cmd: 'stop' });
  await new Promise((r) => child.once('exit', r));
}

async function run(arrivals: Arrival[], batchMax: number, pg?: PgServer): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'fsb24-bench-'));
  const sim = await startFreeswitchSim({ recordingsDir: join(dir, 'rec'), speed: 1 });
  office(sim.sw);
  const portal = await startBitrix24Emulator({ burst: BURST, drainPerSec: DRAIN });
  portal.state.addUser({ ID: 1, NAME: 'Admin', UF_PHONE_INNER: '' }); // FSB24_DEFAULT_USER_ID
  for (let i = 0; i < 100; i++) {
    portal.state.addUser({ ID: 100 + i, UF_PHONE_INNER: String(2000 + i) });
    portal.state.addUser({ ID: 300 + i, UF_PHONE_INNER: String(3000 + i) });
  }
  // two instances on a PostgreSQL database (bench/cluster-run.ts), else the one on SQLite
  const service: Started<Stats> = pg
    ? await startPair(pg, (env, install) => startService(dir, sim, portal, batchMax, env, install))
    : await startService(dir, sim, portal, batchMax);
  // the emulator would keep every recording's bytes and base64 (GBs in 5 minutes): keep their size only
  const slim = setInterval(() => {
    for (const f of portal.state.files) if (f.bytes.length > 0) (f as { bytes: Buffer }).bytes = Buffer.alloc(0);
    for (const r of portal.journal.entries) if (typeof r.params.FILE_CONTENT === 'string') r.params.FILE_CONTENT = '';
  }, 2000);
  await sleep(500);
  portal.journal.clear();
  portal.bucket.reset();
  const started = new Map<string, number>();
  const calls: Array<Promise<{ uuid: string; recorded: boolean }>> = [];
  let lastEnd = 0;
  const t0 = Date.now();
  for (const a of arrivals) {
    const wait = t0 + a.at - Date.now();
    if (wait > 0) await sleep(wait);
    calls.push(
      play(sim.sw, a, TALK_MS, (uuid) => started.set(uuid, Date.now())).then((r) => {
        lastEnd = Math.max(lastEnd, Date.now());
        return r;
      }),
    );
  }
  const ended = await Promise.all(calls);
  const landedOf = (): { landed: number; at: number } => {
    const reg = new Map<string, string>();
    const fin = new Map<string, number>();
    const att = new Map<string, number>();
    for (const r of portal.journal.entries) {
      if (r.status !== 200) continue;
      if (r.method === 'telephony.externalcall.register')
        reg.set(String(r.params.EXTERNAL_CALL_ID), String((r.result as { CALL_ID: string }).CALL_ID));
      if (r.method === 'telephony.externalcall.finish') fin.set(String(r.params.CALL_ID), r.at);
      if (r.method === 'telephony.externalcall.attachrecord' || r.method === 'upload')
        att.set(String(r.params.CALL_ID ?? r.params.callId), r.at);
    }
    const files = new Set(portal.state.files.map((f) => f.CALL_ID));
    let landed = 0;
    let at = 0;
    for (const c of ended) {
      const id = reg.get(c.uuid);
      if (!id || !fin.has(id) || (c.recorded && !files.has(id))) continue;
      landed++;
      at = Math.max(at, fin.get(id)!, c.recorded ? (att.get(id) ?? 0) : 0);
    }
    return { landed, at };
  };
  let done = landedOf();
  while (done.landed < ended.length && Date.now() - lastEnd < DRAIN_LIMIT_MS) {
    await sleep(250);
    done = landedOf();
  }
  const stats = await service.ask();
  const lat: number[] = [];
  for (const r of portal.journal.entries) {
    if (r.method !== 'telephony.externalcall.register' || r.status !== 200) continue;
    const s = started.get(String(r.params.EXTERNAL_CALL_ID));
    if (s !== undefined) lat.push(r.at - s);
  }
  const entries = portal.journal.entries;
  const result: Result = {
    offered: arrivals.length,
    landed: done.landed,
    requests: entries.filter((r) => !r.batch).length,
    commands: entries.filter((r) => r.batch || (r.method !== 'batch' && r.method !== 'upload')).length,
    lat,
    drainMs: done.landed === ended.length ? Math.max(0, done.at - lastEnd) : null,
    peakRss: stats.peak,
    cpuSec: stats.cpu,
    limited: entries.filter((r) => r.error === 'QUERY_LIMIT_EXCEEDED' || r.error === 'OPERATION_TIME_LIMIT').length,
    each: stats.each,
  };
  clearInterval(slim);
  await service.stop();
  await sim.close();
  await portal.close();
  return result;
}

async function liveRss(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'fsb24-bench-'));
  const sim = await startFreeswitchSim({ recordingsDir: join(dir, 'rec'), speed: 1 });
  office(sim.sw);
  const portal = await startBitrix24Emulator({ burst: BURST, drainPerSec: DRAIN });
  for (let i = 0; i < 100; i++) portal.state.addUser({ ID: 100 + i, UF_PHONE_INNER: String(2000 + i) });
  const { child, ask } = await startService(dir, sim, portal, 50);
  for (let i = 0; i < LIVE; i++) {
    void inboundCall(sim.sw, {
      caller: `+7916${String(1000000 + i).padStart(7, '0')}`,
      did: '4951234567',
      extensions: [ANSWERING(i)],
      talkMs: -1,
      record: false,
    });
    if (i % 200 === 199) await sleep(50);
  }
  let s = await ask();
  for (let t = 0; t < 300 && s.liveCalls < LIVE * 0.99; t++) {
    await sleep(100);
    s = await ask();
  }
  await stop(child);
  await sim.close();
  await portal.close();
  return `${s.liveCalls} live calls: service RSS ${(s.rss / 1048576).toFixed(0)} MB, peak ${(s.peak / 1048576).toFixed(0)} MB`;
}

const fmt = (r: Result | undefined, f: (r: Result) => string): string => (r ? f(r) : '-');
const rows: Array<[string, (r: Result) => string]> = [
  ['calls offered / landed / not landed', (r) => `${r.offered} / ${r.landed} / ${r.offered - r.landed}`],
  ['HTTP requests per call', (r) => (r.requests / r.offered).toFixed(2)],
  ['commands per call', (r) => (r.commands / r.offered).toFixed(2)],
  [
    'card latency p50 / p95 / p99 / max, ms',
    (r) => [50, 95, 99, 100].map((p) => Math.round(pct(r.lat, p))).join(' / '),
  ],
  [
    'drain after the last call ended',
    (r) => (r.drainMs === null ? `> ${DRAIN_LIMIT_MS / 1000} s` : `${(r.drainMs / 1000).toFixed(1)} s`),
  ],
  ['QUERY_LIMIT_EXCEEDED + OPERATION_TIME_LIMIT', (r) => String(r.limited)],
  [
    'peak RSS of the service',
    (r) => `${(r.peakRss / 1048576).toFixed(0)} MB${perInstance(r.each, (s) => (s.peak / 1048576).toFixed(0))}`,
  ],
  ['CPU seconds of the service', (r) => `${r.cpuSec.toFixed(1)}${perInstance(r.each, (s) => s.cpu.toFixed(1))}`],
];

console.log(
  `office mix (40 % in answered+recorded, 20 % missed, 30 % out answered+recorded, 10 % out busy), Poisson seed ${SEED}, ${DURATION} s, talk ${TALK_MS / 1000} s, bucket ${BURST},${DRAIN}/s, node ${process.version}`,
);
const pgHead = PG.server ? ' two instances, PostgreSQL (batched) |' : ''; // the PostgreSQL column (issue 15)
if (PG.note) console.log(PG.note);
console.log('');
console.log(`| calls/s | figure | service (batched, SQLite) | baseline (one request per command) |${pgHead}`);
console.log(`|---|---|---|---|${PG.server ? '---|' : ''}`);
for (const rate of RATES) {
  const arrivals = schedule(rate, DURATION, SEED);
  const svc = await run(arrivals, 50);
  const base = BASELINE ? await run(arrivals, 1) : undefined;
  const two = PG.server ? await run(arrivals, 50, PG.server) : undefined;
  for (const [name, f] of rows)
    console.log(`| ${rate} | ${name} | ${fmt(svc, f)} | ${fmt(base, f)} |${two ? ` ${fmt(two, f)} |` : ''}`);
}
if (LIVE > 0) {
  console.log('');
  console.log(await liveRss());
}
process.exit(0);
