/**
 * npm run build && node dist/bench/offline.js [-- --clicks 30 --poll 1000]
 * Offline mode, default poll interval: a click in the CRM (the portal queues
 * ONEXTERNALCALLSTART) → `bgapi originate` at the simulated switch, p50/p95/max; and the
 * requests per second the puller makes on its own while idle. Figures, not pass/fail.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startStack } from '../lib/demo/stack.js';
import { compose } from '../bin/compose.js';
import { installLocalApp } from '../lib/sim/bitrix24/authorize.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const CLICKS = arg('clicks', 30);
const POLL = arg('poll', 1000);
const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const dir = mkdtempSync(join(tmpdir(), 'fsb24-bench-offline-'));
const s = await startStack({
  compose,
  dataDir: join(dir, 'data'),
  install: false,
  config: { 'events.mode': 'offline', 'events.offlinePollMs': POLL },
});
installLocalApp(s.portal, `${s.service.url}/bitrix24/oauth/callback`);
// the browser's part, by hand: connect → portal → callback
const { Browser } = await import('../lib/sim/bitrix24/browser.js');
const page = await new Browser().get(`${s.service.url}/bitrix24/connect`);
if (page.status !== 200) throw new Error(`connect failed: ${page.body}`);
await s.service.portal.directory.refresh();
const latencies: number[] = [];
for (let i = 0; i < CLICKS; i++) {
  await sleep(Math.random() * POLL * 1.5); // clicks land anywhere in the poll cycle
  const t0 = performance.now();
  await s.portal.clickToCall({ userId: 11, phone: `+7916${String(1000000 + i)}` });
  await s.sim.nextCommand('bgapi originate', 10_000);
  latencies.push(performance.now() - t0);
}
const puller = s.service.portal.offline!;
const before = puller.counters.requests;
await sleep(10_000);
const idleRate = (puller.counters.requests - before) / 10;
console.log(
  `click → bgapi originate, poll ${POLL} ms, ${CLICKS} clicks: p50 ${pct(latencies, 50).toFixed(0)} ms, ` +
    `p95 ${pct(latencies, 95).toFixed(0)} ms, max ${Math.max(...latencies).toFixed(0)} ms`,
);
console.log(
  `idle: the puller's own requests ${idleRate.toFixed(2)}/s ` +
    "(under load it rides in the outbox's batches: 0/s, test/unit/offline/puller.test.ts)",
);
await s.close();
