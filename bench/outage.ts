/**
 * npm run bench:outage -- [--rate 2] [--outage 600] [--seed 1] [--talk 1] [--bucket 50,2]
 * Recovery after a portal outage (issue 12, point 5), in real time through the real process chain:
 * simulator → service (its own process, bench/service-child.ts) → portal emulator with Bitrix24's
 * leaky bucket. The office's calls (bench/office.ts, recorded) arrive at --rate while the portal answers
 * HTTP 500 for --outage seconds, and go on while the backlog drains; then the portal's journal says how
 * the backlog went. Figures, not pass/fail.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFreeswitchSim } from '../lib/sim/freeswitch/index.js';
import { startBitrix24Emulator, type PortalRequest } from '../lib/sim/bitrix24/index.js';
import { office, officeUsers, play, schedule, type Arrival } from './office.js';
import { opt, serviceEnv } from './common.js';
import { METHOD } from '../lib/outbox/commands.js';

const RATE = Number(opt('rate', '2'));
const OUTAGE_S = Number(opt('outage', '600'));
const SEED = Number(opt('seed', '1'));
const TALK_MS = Number(opt('talk', '1')) * 1000;
const [BURST, DRAIN] = opt('bucket', '50,2').split(',').map(Number) as [number, number];
/** Give up on the drain after this long (the target is 60 s). */
const DRAIN_LIMIT_MS = 180_000;

const { register: REGISTER, finish: FINISH, attach: ATTACH } = METHOD;

interface Call {
  arrival: Arrival;
  uuid: string;
  startedAt: number;
  recorded?: boolean;
  ended: Promise<unknown>;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN;
};
/** Commands a request carried: a batch's `cmd`, else the one method (an upload carries none). */
const commandsOf = (r: PortalRequest): number =>
  r.method === 'batch'
    ? Object.keys((r.params.cmd as Record<string, unknown> | undefined) ?? {}).length
    : r.method === 'upload'
      ? 0
      : 1;

const dir = mkdtempSync(join(tmpdir(), 'fsb24-bench-outage-'));
const sim = await startFreeswitchSim({ recordingsDir: join(dir, 'rec'), speed: 1 });
office(sim.sw);
const portal = await startBitrix24Emulator({ burst: BURST, drainPerSec: DRAIN });
for (const u of officeUsers()) portal.state.addUser(u);

// the service as the entry point runs it, configured by its environment
const child: ChildProcess = fork(fileURLToPath(new URL('./service-child.js', import.meta.url)), [], {
  execArgv: ['--max-semi-space-size=4'],
  env: serviceEnv(dir, sim, { url: portal.url, clientId: portal.app.clientId, clientSecret: portal.app.clientSecret }, [
    BURST,
    DRAIN,
  ]),
});
const { url } = await new Promise<{ url: string }>((r) => child.once('message', (m) => r(m as { url: string })));
if ((await portal.install(`${url}/bitrix24/events`)) !== 200) throw new Error('install failed');
await portal.journal.until(() => portal.state.handlers.length >= 2, 10_000);
await sleep(500); // the directory is read after the install
// the emulator would keep every recording's bytes and base64: keep their size only
const slim = setInterval(() => {
  for (const f of portal.state.files) if (f.bytes.length > 0) (f as { bytes: Buffer }).bytes = Buffer.alloc(0);
  for (const r of portal.journal.entries) if (typeof r.params.FILE_CONTENT === 'string') r.params.FILE_CONTENT = '';
}, 2000);
portal.journal.clear();
portal.bucket.reset();

/** Registered, finished, and its recording attached. */
function landed(calls: readonly Call[]): boolean {
  const callIds = new Map(portal.state.finished.map((f) => [f.EXTERNAL_CALL_ID, f.CALL_ID]));
  const files = new Set(portal.state.files.map((f) => f.CALL_ID));
  return calls.every(
    (c) => c.recorded !== undefined && callIds.has(c.uuid) && (!c.recorded || files.has(callIds.get(c.uuid)!)),
  );
}

const arrivals = schedule(RATE, OUTAGE_S + DRAIN_LIMIT_MS / 1000, SEED);
const calls: Call[] = [];
let arriving = true;
const t0 = Date.now();
portal.setOutage('http500');
const probes0 = portal.outageRequests;
const arrivalsDone = (async () => {
  for (const a of arrivals) {
    const wait = t0 + a.at - Date.now();
    if (wait > 0) await sleep(wait);
    if (!arriving) return;
    const c: Partial<Call> = { arrival: a, startedAt: Date.now() };
    c.ended = play(sim.sw, a, TALK_MS, (uuid) => (c.uuid = uuid)).then((r) => (c.recorded = r.recorded));
    calls.push(c as Call);
  }
})();

await sleep(t0 + OUTAGE_S * 1000 - Date.now());
const queued = calls.slice();
const probes = portal.outageRequests - probes0;
portal.setOutage('none');
const back = Date.now();
while (!landed(queued) && Date.now() - back < DRAIN_LIMIT_MS) await sleep(100);
const drained = landed(queued);
arriving = false; // the calls that began during the drain end and land; none begins after it
await arrivalsDone;
const during = calls.filter((c) => c.startedAt >= back);
await Promise.all(during.map((c) => c.ended));
for (let i = 0; i < 300 && !landed(during); i++) await sleep(100);

// from the portal's journal: when each queued call landed, the requests of the drain, the card latencies
const entries = portal.journal.entries;
const ok = (r: PortalRequest, m: string): boolean => r.method === m && r.status === 200;
const uuidOf = new Map<string, string>(); // CALL_ID → EXTERNAL_CALL_ID
const registeredAt = new Map<string, number>();
for (const r of entries)
  if (ok(r, REGISTER)) {
    const uuid = String(r.params.EXTERNAL_CALL_ID);
    uuidOf.set(String((r.result as { CALL_ID?: unknown } | undefined)?.CALL_ID), uuid);
    if (!registeredAt.has(uuid)) registeredAt.set(uuid, r.at);
  }
const landedAt = new Map<string, number>();
for (const r of entries)
  if (ok(r, FINISH) || ok(r, ATTACH) || ok(r, 'upload')) {
    const uuid = uuidOf.get(String(r.params.CALL_ID ?? r.params.callId));
    if (uuid) landedAt.set(uuid, Math.max(landedAt.get(uuid) ?? 0, r.at));
  }
const lastLanded = Math.max(...queued.map((c) => landedAt.get(c.uuid) ?? Infinity));
const drainEnd = drained ? lastLanded : back + DRAIN_LIMIT_MS;
const requests = entries.filter((r) => !r.batch && r.at >= back && r.at <= drainEnd);
const commands = requests.reduce((n, r) => n + commandsOf(r), 0);
const limited = entries.filter((r) => r.error === 'QUERY_LIMIT_EXCEEDED').length;
const firstAnswered = entries.find((r) => !r.batch && r.status === 200 && r.at >= back)?.at ?? NaN;
const cardsDuring = calls.filter((c) => c.startedAt >= back && c.startedAt <= drainEnd);
const latency = cardsDuring.map((c) => (registeredAt.get(c.uuid) ?? Infinity) - c.startedAt);

const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
console.log(
  `portal down ${OUTAGE_S} s (HTTP 500), office mix at ${RATE} calls/s ` +
    `(Poisson seed ${SEED}, talk ${TALK_MS / 1000} s, recorded), bucket ${BURST},${DRAIN}/s, node ${process.version}`,
);
console.log('');
console.log('| figure | value |');
console.log('|---|---|');
const rows: Array<[string, string]> = [
  ['calls queued during the outage', String(queued.length)],
  [
    "requests during the outage (the outbox's probes; the directory's refresh every 300 s)",
    `${probes} (one per ${s((OUTAGE_S * 1000) / Math.max(1, probes))})`,
  ],
  ['recovery → first request answered (the next probe)', s(firstAnswered - back)],
  [
    'recovery → last queued call landed (registered, finished, recording)',
    drained ? s(lastLanded - back) : `> ${s(DRAIN_LIMIT_MS)}`,
  ],
  ['HTTP requests during the drain', String(requests.length)],
  ['commands per request', (commands / Math.max(1, requests.length)).toFixed(1)],
  ['QUERY_LIMIT_EXCEEDED', String(limited)],
  [
    `card latency of the ${cardsDuring.length} calls started during the drain, p50 / p99 / max`,
    [50, 99, 100].map((p) => `${Math.round(pct(latency, p))}`).join(' / ') + ' ms',
  ],
];
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
clearInterval(slim);
child.send({ cmd: 'stop' });
await new Promise((r) => child.once('exit', r));
await sim.close();
await portal.close();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
