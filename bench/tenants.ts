/**
 * node dist/bench/tenants.js [-- --calls 40 --rate 4]
 * Isolation of portals (issue 14): one simulated switch with two tenant domains, two
 * emulated portals, one service with FSB24_TENANTS. Prints B's card latency (trunk leg
 * created → register at B's portal) p50/p99 while A is up, then while A answers HTTP 500
 * to everything (its calls keep coming and pile up in A's lane). Figures, not pass/fail.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { startFreeswitchSim, inboundCall } from '../lib/sim/freeswitch/index.js';
import { startBitrix24Emulator } from '../lib/sim/bitrix24/index.js';
import { compose } from '../bin/compose.js';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/log.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const CALLS = arg('calls', 40);
const RATE = arg('rate', 4);
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

const APP = { clientId: 'local.bench', clientSecret: 'bench-secret' };
const dir = mkdtempSync(join(tmpdir(), 'fsb24-bench-tenants-'));
const sim = await startFreeswitchSim({ recordingsDir: join(dir, 'rec'), speed: 1 });
const a = await startBitrix24Emulator(APP);
const b = await startBitrix24Emulator(APP);
// FSB24_DEFAULT_USER_ID (1) owns a call registered before a phone rings (the hold timer)
for (const p of [a, b]) p.state.addUser({ ID: 1, NAME: 'Admin', LAST_NAME: '', UF_PHONE_INNER: '' });
a.state.addUser({ ID: 11, NAME: 'Anna', LAST_NAME: 'A', UF_PHONE_INNER: '1001' });
b.state.addUser({ ID: 21, NAME: 'Bella', LAST_NAME: 'B', UF_PHONE_INNER: '1002' });
// each tenant domain has its own directory (the simulator looks users up per domain)
sim.sw.setExtension('1001', { mode: 'answer', ringMs: 1000 }, 'a.pbx.test');
sim.sw.setExtension('1002', { mode: 'answer', ringMs: 1000 }, 'b.pbx.test');
const config = loadConfig({
  overrides: {
    'esl.host': sim.host,
    'esl.port': sim.port,
    'http.port': 0,
    dataDir: join(dir, 'data'),
    'b24.clientId': APP.clientId,
    'b24.clientSecret': APP.clientSecret,
    'b24.oauthUrl': a.url,
    'b24.directoryRefreshSec': 0,
    'calls.gateway': 'pstn',
    'calls.cardWindowMs': 0,
    'recordings.dirs': [join(dir, 'rec')],
    logLevel: 'silent',
    tenants: JSON.stringify({
      [a.url]: { domains: ['a.pbx.test'], lines: ['4951110000'] },
      [b.url]: { domains: ['b.pbx.test'], lines: ['4952220000'] },
    }),
  },
});
const svc = compose({ config, log: createLogger('silent'), recordingsStableMs: 0 });
const ready = new Promise<void>((r) => svc.switch.listener.once('ready', () => r()));
await svc.start();
await ready;
for (const p of [a, b]) {
  if ((await p.install(`${svc.url}/bitrix24/events`)) !== 200) throw new Error('install failed');
  await p.journal.until(() => p.state.handlers.length >= 2, 5000);
}
for (const p of svc.portals) await p.directory.refresh();

/** B's card latency for `CALLS` calls of each tenant at `RATE` per second each. */
async function phase(): Promise<number[]> {
  const started = new Map<string, number>();
  const latencies: number[] = [];
  const seen = b.journal.entries.length;
  const calls: Array<Promise<unknown>> = [];
  for (let i = 0; i < CALLS; i++) {
    const ub = randomUUID();
    started.set(ub, Date.now());
    calls.push(
      inboundCall(sim.sw, {
        caller: '+79031112233',
        did: '4952220000',
        extensions: ['1002'],
        domain: 'b.pbx.test',
        talkMs: 2000,
        record: false,
        uuid: ub,
      }),
    );
    calls.push(
      inboundCall(sim.sw, {
        caller: '+79161234567',
        did: '4951110000',
        extensions: ['1001'],
        domain: 'a.pbx.test',
        talkMs: 2000,
        record: false,
      }),
    );
    await sleep(1000 / RATE);
  }
  await Promise.all(calls);
  const registered = (): number =>
    b.journal.entries.slice(seen).filter((r) => r.method === 'telephony.externalcall.register' && r.status === 200)
      .length;
  await b.journal
    .until(() => registered() >= CALLS, 60_000)
    .catch(async () => {
      const lane = await svc.portals[1]!.store.stats();
      const failures = await svc.portals[1]!.store.failedJobs(3);
      console.log(
        `only ${registered()} of ${CALLS} registered at B; B's lane: ${JSON.stringify(lane)}, failures ${JSON.stringify(failures)}, waiting calls ${svc.router.waitingCalls}, unmatched ${svc.router.unmatched}`,
      );
    });
  for (const r of b.journal.entries.slice(seen)) {
    if (r.method !== 'telephony.externalcall.register' || r.status !== 200) continue;
    const t0 = started.get(String(r.params.EXTERNAL_CALL_ID));
    if (t0 !== undefined) latencies.push(r.at - t0);
  }
  return latencies;
}

const fmt = (xs: number[]): string =>
  `p50 ${pct(xs, 50).toFixed(0)} ms, p99 ${pct(xs, 99).toFixed(0)} ms (${xs.length} calls)`;
const up = await phase();
console.log(`B's card latency, A up:   ${fmt(up)}`);
a.setOutage('http500');
const down = await phase();
console.log(
  `B's card latency, A down: ${fmt(down)}; A's lane holds ${(await svc.portals[0]!.store.stats()).pending} pending jobs`,
);
a.setOutage('none');
const back = await phase();
console.log(`B's card latency, A back: ${fmt(back)}`);
await svc.stop();
await sim.close();
await a.close();
await b.close();
