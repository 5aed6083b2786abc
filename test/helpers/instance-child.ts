/**
 * One instance of the service in its own process, started as `freeswitch-bitrix24 start` starts
 * it (config from the environment): so a test can kill -9 it and see what the others do. It
 * answers its parent's questions over IPC: `health` (its /healthz body) and `stop`.
 */
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import { compose } from '../../bin/compose.js';

const config = loadConfig({ env: process.env });
const svc = compose({ config, log: createLogger(config.logLevel), recordingsStableMs: 0 });
// every take and leave of a lease, as it happens (the parent awaits them instead of polling)
svc.cluster?.onChange((h) => process.send?.({ holds: h.holds }));
await svc.start();
process.on('message', (m: { cmd: string; id?: number }) => {
  if (m.cmd === 'health') void Promise.resolve(svc.health()).then((h) => process.send?.({ id: m.id, health: h }));
  if (m.cmd === 'stop') void svc.stop().then(() => process.exit(0));
});
process.send?.({ ready: true, url: svc.url, holds: svc.cluster?.health().holds ?? [] });
