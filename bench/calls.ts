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
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFreeswitchSim, inboundCall } from '../lib/sim/freeswitch/index.js';
import { office, officeUsers, play, schedule, warmSimulator, ANSWERING, type Arrival, type User } from './office.js';
import { flag, opt, serviceEnv } from './common.js';
import { perInstance, pgServer, startPair, type PgServer, type Started } from './cluster-run.js';
import type { PortalAsk, PortalTotals } from './portal-child.js';

const RATES = opt('rates', opt('rate', '15')).split(',').map(Number);
const DURATION = Number(opt('duration', '60'));
const SEED = Number(opt('seed', '1'));
const [BURST, DRAIN] = opt('bucket', '50,2').split(',').map(Number) as [number, number];
const TALK_MS = Number(opt('talk', '1')) * 1000;
const LIVE = Number(opt('live', '5000'));
const BASELINE = !flag('no-baseline');
const DRAIN_LIMIT_MS = Number(opt('drain-limit', '120')) * 1000;
// the PostgreSQL column (issue 15): --pg <url> a server of yours, --no-pg none, else a throwaway cluster
const PG = await pgServer(flag('no-pg') ? false : opt('pg', ''));

type Stats = {
  rss: number;
  peak: number;
  cpu: number;
  url: string;
  liveCalls: number;
  outbox: { pending: number };
  each?: Stats[];
};
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
  /** CPU seconds of the switch simulator (this process) and of the portal emulator (its process). */
  simCpu: number;
  portalCpu: number;
  files: number;
  fileBytes: number;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN;
};

/** The portal emulator in its own process (bench/portal-child.ts), asked over IPC. */
interface Portal {
  url: string;
  clientId: string;
  clientSecret: string;
  ask<T>(m: PortalAsk): Promise<T>;
  stop(): Promise<void>;
}

async function startPortal(users: User[]): Promise<Portal> {
  const child = fork(fileURLToPath(new URL('./portal-child.js', import.meta.url)), [`${BURST},${DRAIN}`]);
  const next = <T>(): Promise<T> => new Promise((r) => child.once('message', (m) => r(m as T)));
  const info = await next<{ url: string; clientId: string; clientSecret: string }>();
  let queue: Promise<unknown> = Promise.resolve();
  const ask = <T>(m: PortalAsk): Promise<T> => {
    // one question at a time: answers come back in order
    const p = queue.then(() => {
      const r = next<T>();
      child.send(m);
      return r;
    });
    queue = p.catch(() => undefined);
    return p;
  };
  await ask({ cmd: 'users', users });
  return { ...info, ask, stop: () => stop(child) };
}

async function startService(
  dir: string,
  esl: { host: string; port: number },
  portal: Portal,
  batchMax: number,
  extra: Record<string, string> = {},
  install = true,
): Promise<{ child: ChildProcess; ask: () => Promise<Stats>; stop: () => Promise<void> }> {
  // the V8 flag the shipped entry point and systemd unit run the service with
  const child = fork(fileURLToPath(new URL('./service-child.js', import.meta.url)), [], {
    execArgv: ['--max-semi-space-size=4', ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)],
    env: { ...serviceEnv(dir, esl, portal, [BURST, DRAIN]), FSB24_B24_BATCH_MAX: String(batchMax), ...extra },
  });
  const ask = (): Promise<Stats> =>
    new Promise((r) => {
      child.once('message', (m) => r(m as Stats));
      child.send({ cmd: 'stats' });
    });
  const ready = await new Promise<{ url: string }>((r) => child.once('message', (m) => r(m as { url: string })));
  if (install) await portal.ask({ cmd: 'install', url: `${ready.url}/bitrix24/events` });
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
  const portal = await startPortal(officeUsers());
  // two instances on a PostgreSQL database (bench/cluster-run.ts), else the one on SQLite
  const service: Started<Stats> = pg
    ? await startPair(pg, (env, install) => startService(dir, sim, portal, batchMax, env, install))
    : await startService(dir, sim, portal, batchMax);
  // the stand-ins' own first call is not the service's card latency: each plays one alone first (issue 12)
  await warmSimulator(join(dir, 'warm'));
  await portal.ask({ cmd: 'warm' });
  await sleep(500);
  await portal.ask({ cmd: 'reset' });
  const simCpu0 = process.cpuUsage();
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
  await portal.ask({ cmd: 'expect', calls: ended.map((c) => [c.uuid, c.recorded]) });
  let done = await portal.ask<{ landed: number; at: number }>({ cmd: 'landed' });
  while (done.landed < ended.length && Date.now() - lastEnd < DRAIN_LIMIT_MS) {
    await sleep(250);
    done = await portal.ask<{ landed: number; at: number }>({ cmd: 'landed' });
  }
  const simCpu = process.cpuUsage(simCpu0);
  const stats = await service.ask();
  const lat: number[] = [];
  for (const [uuid, at] of await portal.ask<Array<[string, number]>>({ cmd: 'registers' })) {
    const s = started.get(uuid);
    if (s !== undefined) lat.push(at - s);
  }
  const totals = await portal.ask<PortalTotals>({ cmd: 'totals' });
  const result: Result = {
    offered: arrivals.length,
    landed: done.landed,
    requests: totals.requests,
    commands: totals.commands,
    lat,
    drainMs: done.landed === ended.length ? Math.max(0, done.at - lastEnd) : null,
    peakRss: stats.peak,
    cpuSec: stats.cpu,
    limited: totals.limited,
    simCpu: (simCpu.user + simCpu.system) / 1e6,
    portalCpu: totals.cpu,
    files: totals.files,
    fileBytes: totals.fileBytes,
    each: stats.each,
  };
  await service.stop();
  await sim.close();
  await portal.stop();
  rmSync(dir, { recursive: true, force: true });
  return result;
}

async function liveRss(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'fsb24-bench-'));
  const sim = await startFreeswitchSim({ recordingsDir: join(dir, 'rec'), speed: 1 });
  office(sim.sw);
  const portal = await startPortal(officeUsers());
  const { child, ask } = await startService(dir, sim, portal, 50);
  await sleep(500);
  const idle = await ask();
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
  // until they are all up and registered (their cards and CALL_IDs are part of what a live call costs)
  let s = await ask();
  for (let t = 0; t < 1800 && (s.liveCalls < LIVE * 0.99 || s.outbox.pending > 0); t++) {
    await sleep(100);
    s = await ask();
  }
  await stop(child);
  await sim.close();
  await portal.stop();
  rmSync(dir, { recursive: true, force: true });
  const mb = (n: number): string => (n / 1048576).toFixed(0);
  return `${s.liveCalls} live calls: service RSS ${mb(s.rss)} MB, peak ${mb(s.peak)} MB (idle before them: ${mb(idle.rss)} MB)`;
}

const fmt = (r: Result | undefined, f: (r: Result) => string): string => (r ? f(r) : '-');
const rows: Array<[string, (r: Result) => string]> = [
  ['calls offered / landed / not landed', (r) => `${r.offered} / ${r.landed} / ${r.offered - r.landed}`],
  [
    'recordings attached, average size',
    (r) => `${r.files}, ${(r.fileBytes / Math.max(1, r.files) / 1024).toFixed(0)} KB`,
  ],
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
  ['CPU seconds of the simulator / the emulator', (r) => `${r.simCpu.toFixed(1)} / ${r.portalCpu.toFixed(1)}`],
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
