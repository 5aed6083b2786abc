/**
 * Simulator + emulator + service wired together on free loopback ports: what the demo
 * runs and what the integration tests drive.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFreeswitchSim, type FreeswitchSim, type FreeswitchSimOptions } from '../sim/freeswitch/index.js';
import { startBitrix24Emulator, type Bitrix24Emulator, type EmulatorOptions } from '../sim/bitrix24/index.js';
import type { Compose, ComposeOptions, Runtime } from '../runtime.js';
import { loadConfig, type ConfigShape } from '../config.js';
import { createLogger, type Logger } from '../log.js';

export interface StackOptions {
  dataDir?: string;
  recordingsDir?: string;
  sim?: FreeswitchSimOptions;
  emulator?: EmulatorOptions;
  config?: Record<string, unknown>;
  log?: Logger;
  extraRoutes?: ComposeOptions['extraRoutes'];
  /** bin/compose.ts's compose: the demo and the tests run the service exactly as `start` does. */
  compose: Compose;
  /** Seed the portal with the office's users and CRM (default true). */
  seed?: boolean;
  install?: boolean;
}

export interface Stack {
  sim: FreeswitchSim;
  portal: Bitrix24Emulator;
  service: Runtime;
  config: Readonly<ConfigShape>;
  /** Stop the service only (the switch and the portal keep their state). */
  stopService(): Promise<void>;
  /** Kill the service as `kill -9` would (no shutdown); `restartService` then starts a new one. */
  crashService(): void;
  /** Start a new service on the same data directory. */
  restartService(): Promise<Runtime>;
  /** Resolves when the service's event socket is up. */
  eslReady(): Promise<void>;
  close(): Promise<void>;
}

export const OFFICE = [
  { ID: 1, NAME: 'Olga', LAST_NAME: 'Admin', UF_PHONE_INNER: '' },
  { ID: 11, NAME: 'Anna', LAST_NAME: 'Sales', UF_PHONE_INNER: '1001' },
  { ID: 12, NAME: 'Boris', LAST_NAME: 'Sales', UF_PHONE_INNER: '1002' },
  { ID: 13, NAME: 'Clara', LAST_NAME: 'Support', UF_PHONE_INNER: '1003' },
  { ID: 14, NAME: 'Dmitri', LAST_NAME: 'Support', UF_PHONE_INNER: '1004' },
] as const;

/** The service's settings against the emulated portal: its app, no directory refresh, the test office's habits. */
export function standOverrides(
  portal: Bitrix24Emulator,
  dataDir: string,
  recordingsDir: string,
): Record<string, unknown> {
  return {
    'http.port': 0,
    dataDir,
    'b24.portalUrl': portal.url,
    'b24.clientId': portal.app.clientId,
    'b24.clientSecret': portal.app.clientSecret,
    'b24.oauthUrl': portal.url,
    'b24.directoryRefreshSec': 0,
    'calls.gateway': 'pstn',
    'calls.defaultUserId': 1,
    'calls.cardWindowMs': 0,
    'recordings.dirs': [recordingsDir],
    logLevel: 'silent',
  };
}

export async function startStack(o: StackOptions): Promise<Stack> {
  const base = o.dataDir ?? mkdtempSync(join(tmpdir(), 'fsb24-'));
  const recordingsDir = o.recordingsDir ?? join(base, 'recordings');
  const sim = await startFreeswitchSim({ recordingsDir, ...o.sim });
  const portal = await startBitrix24Emulator(o.emulator);
  if (o.seed !== false) {
    for (const u of OFFICE) portal.state.addUser({ ...u });
    portal.state.addCrm({ TYPE: 'CONTACT', ID: 797, NAME: 'John Doe', PHONES: ['+79161234567'], ASSIGNED_BY_ID: 12 });
  }
  const config = loadConfig({
    overrides: {
      'esl.host': sim.host,
      'esl.port': sim.port,
      ...standOverrides(portal, o.dataDir ?? join(base, 'data'), recordingsDir),
      ...o.config,
    },
  });
  const log = o.log ?? createLogger(config.logLevel);
  const make = (): Runtime =>
    o.compose({ config, log, recordingsStableMs: 0, ...(o.extraRoutes ? { extraRoutes: o.extraRoutes } : {}) });
  let service = make();
  const ready = (svc: Runtime): Promise<void> =>
    svc.switch.listener.connected
      ? Promise.resolve()
      : new Promise((r) => svc.switch.listener.once('ready', () => r()));
  let readyP = ready(service);
  await service.start();
  if (o.install !== false) {
    const status = await portal.install(`${service.url}/bitrix24/events`);
    if (status !== 200) throw new Error(`install failed: HTTP ${status}`);
    // the install handler binds both events; then the directory is loaded for the calls
    await portal.journal.until(() => portal.state.handlers.length >= 2, 5000);
    await service.portal.directory.refresh();
  }
  await readyP;
  const s: Stack = {
    sim,
    portal,
    get service() {
      return service;
    },
    config,
    async stopService() {
      await service.stop();
    },
    crashService() {
      service.crash();
    },
    async restartService() {
      service = make();
      readyP = ready(service);
      await service.start();
      await service.portal.directory.refresh();
      await readyP;
      return service;
    },
    eslReady: () => ready(service),
    async close() {
      await service.stop().catch(() => undefined);
      await sim.close();
      await portal.close();
    },
  } as Stack;
  return s;
}
