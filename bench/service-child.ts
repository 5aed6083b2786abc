/** The service alone in its own process, so the benchmark measures its memory only. */
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { compose } from '../bin/compose.js';

const config = loadConfig({ env: process.env });
const svc = compose({ config, log: createLogger(config.logLevel), recordingsStableMs: 0 });
await svc.start();
process.on('message', async (m: { cmd: string }) => {
  if (m.cmd === 'stats') {
    const outbox = await svc.store.stats();
    const rss = process.memoryUsage().rss;
    // the kernel's high-water mark: exact, and no sampling timer adding CPU seconds to the figures
    const peak = process.resourceUsage().maxRSS * 1024;
    const m = process.memoryUsage();
    const cpu = process.cpuUsage();
    process.send?.({
      rss,
      peak,
      cpu: (cpu.user + cpu.system) / 1e6,
      heap: m.heapUsed,
      heapTotal: m.heapTotal,
      external: m.external,
      url: svc.url,
      liveCalls: svc.switch.model.liveCalls,
      holds: svc.cluster?.health().holds, // several instances on PostgreSQL (bench/cluster-run.ts)
      events: svc.switch.counters.events,
      outbox,
    });
  }
  if (m.cmd === 'stop') void svc.stop().then(() => process.exit(0));
});
// the benchmark is gone (stopped or killed): so is its service
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true, url: svc.url });
