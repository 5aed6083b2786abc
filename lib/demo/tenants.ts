/**
 * `demo --tenants`: two companies on one switch (FusionPBX-style domains), each connected
 * to its own Bitrix24 portal: one simulator with two domains, two emulated portals, one
 * service with FSB24_TENANTS. Each company's calls land on its own portal only. Both
 * companies have extensions 1001 and 1002 (each domain its own directory, as in FusionPBX).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFreeswitchSim, inboundCall, outboundCall, type FreeswitchSim } from '../sim/freeswitch/index.js';
import { startBitrix24Emulator, type Bitrix24Emulator } from '../sim/bitrix24/index.js';
import type { Compose, Runtime } from '../runtime.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../log.js';

export interface Company {
  name: string;
  domain: string;
  did: string;
  users: Array<{ ID: number; NAME: string; UF_PHONE_INNER: string }>;
  portal: Bitrix24Emulator;
}

export interface TenantRow {
  company: string;
  portal: string;
  type: string;
  client: string;
  line: string;
  employee: string;
  status: string;
  recording: string;
}

export interface TenantsDemo {
  rows: TenantRow[];
  companies: Company[];
  sim: FreeswitchSim;
  service: Runtime;
  close(): Promise<void>;
}

const APP = { clientId: 'local.demo.tenants', clientSecret: 'demo-tenants-secret' };
const TYPES: Record<string, string> = { '1': 'outgoing', '2': 'incoming' };

export async function runTenantsDemo(
  out: (line: string) => void,
  opts: { speed?: number; compose: Compose },
): Promise<TenantsDemo> {
  const dir = mkdtempSync(join(tmpdir(), 'fsb24-tenants-demo-'));
  const office = { '1001': {}, '1002': {} };
  const sim = await startFreeswitchSim({
    recordingsDir: join(dir, 'rec'),
    speed: opts.speed ?? 25,
    domains: { 'alpha.pbx.test': { extensions: office }, 'beta.pbx.test': { extensions: office } },
  });
  const companies: Company[] = [
    {
      name: 'Alpha',
      domain: 'alpha.pbx.test',
      did: '4951110000',
      users: [
        { ID: 11, NAME: 'Anna', UF_PHONE_INNER: '1001' },
        { ID: 12, NAME: 'Artem', UF_PHONE_INNER: '1002' },
      ],
      portal: await startBitrix24Emulator(APP),
    },
    {
      name: 'Beta',
      domain: 'beta.pbx.test',
      did: '4952220000',
      users: [
        { ID: 21, NAME: 'Bella', UF_PHONE_INNER: '1001' },
        { ID: 22, NAME: 'Boris', UF_PHONE_INNER: '1002' },
      ],
      portal: await startBitrix24Emulator(APP),
    },
  ];
  for (const c of companies) for (const u of c.users) c.portal.state.addUser({ ...u, LAST_NAME: c.name });
  const [alpha, beta] = companies as [Company, Company];
  const config = loadConfig({
    overrides: {
      'esl.host': sim.host,
      'esl.port': sim.port,
      'http.port': 0,
      dataDir: join(dir, 'data'),
      'b24.clientId': APP.clientId,
      'b24.clientSecret': APP.clientSecret,
      'b24.oauthUrl': alpha.portal.url,
      'b24.directoryRefreshSec': 0,
      'calls.gateway': 'pstn',
      'calls.cardWindowMs': 0,
      'recordings.dirs': [join(dir, 'rec')],
      logLevel: 'silent',
      tenants: JSON.stringify(
        Object.fromEntries(companies.map((c) => [c.portal.url, { domains: [c.domain], lines: [c.did] }])),
      ),
    },
  });
  const service = opts.compose({ config, log: createLogger('silent'), recordingsStableMs: 0 });
  const ready = new Promise<void>((r) => service.switch.listener.once('ready', () => r()));
  await service.start();
  await ready;
  for (const c of companies) {
    const status = await c.portal.install(`${service.url}/bitrix24/events`);
    if (status !== 200) throw new Error(`${c.name}: install failed: HTTP ${status}`);
    await c.portal.journal.until(() => c.portal.state.handlers.length >= 2, 5000);
  }
  for (const p of service.portals) await p.directory.refresh();
  out(`One FreeSWITCH simulator on ${sim.host}:${sim.port} with two domains, one service at ${service.url}:`);
  for (const c of companies)
    out(`  ${c.name}: domain ${c.domain} (extensions 1001, 1002), DID ${c.did} → Bitrix24 emulator at ${c.portal.url}`);
  const sw = sim.sw;
  const landed = async (c: Company, n: number): Promise<void> => {
    while (c.portal.state.finished.length < n)
      await c.portal.journal.next((r) => r.method === 'telephony.externalcall.finish', 20_000);
  };
  const step = async (title: string, fn: () => Promise<unknown>): Promise<void> => {
    await fn();
    for (const p of service.portals) await p.outbox.idle();
    out(`  ✓ ${title}`);
  };
  await step('Alpha and Beta are called at the same time, each on its own DID', async () => {
    sw.setExtension('1001', { mode: 'answer', ringMs: 2000 }, alpha.domain);
    sw.setExtension('1001', { mode: 'answer', ringMs: 3000 }, beta.domain);
    sw.setExtension('1002', { mode: 'noanswer' }, beta.domain);
    await Promise.all([
      inboundCall(sw, {
        caller: '+79161234567',
        did: alpha.did,
        extensions: ['1001', '1002'],
        domain: alpha.domain,
        talkMs: 20_000,
      }),
      inboundCall(sw, {
        caller: '+79031112233',
        did: beta.did,
        extensions: ['1001', '1002'],
        domain: beta.domain,
        talkMs: 30_000,
      }),
    ]);
    await Promise.all([landed(alpha, 1), landed(beta, 1)]);
  });
  await step("Beta's Boris (1002) calls a client", async () => {
    sw.setExtension('1002', { mode: 'answer', ringMs: 1000 }, beta.domain);
    await outboundCall(sw, {
      extension: '1002',
      number: '+74957654321',
      domain: beta.domain,
      callerId: beta.did,
      talkMs: 12_000,
    });
    await landed(beta, 2);
  });
  await step("Alpha's Artem (1002) clicks a number in Alpha's CRM: user/1002@alpha.pbx.test rings", async () => {
    sw.setExtension('1002', { mode: 'answer', ringMs: 1000 }, alpha.domain);
    await alpha.portal.clickToCall({ userId: 12, phone: '+79260000000', lineNumber: alpha.did });
    await landed(alpha, 2);
  });
  const rows = companies.flatMap((c) =>
    c.portal.state.finished.map((f) => ({
      company: c.name,
      portal: new URL(c.portal.url).host,
      type: TYPES[f.INCOMING] ?? f.INCOMING,
      client: f.PHONE_NUMBER,
      line: f.PORTAL_NUMBER,
      employee: c.users.find((u) => u.ID === f.PORTAL_USER_ID)?.NAME ?? `user ${f.PORTAL_USER_ID} (not ${c.name}'s)`,
      status: f.CALL_FAILED_CODE,
      recording: c.portal.state.files.some((x) => x.CALL_ID === f.CALL_ID) ? 'attached' : '-',
    })),
  );
  return {
    rows,
    companies,
    sim,
    service,
    async close() {
      await service.stop().catch(() => undefined);
      await sim.close();
      for (const c of companies) await c.portal.close();
    },
  };
}

export function renderTenants(rows: TenantRow[]): string {
  const head: TenantRow = {
    company: 'company',
    portal: 'portal',
    type: 'type',
    client: 'client',
    line: 'line',
    employee: 'employee',
    status: 'status',
    recording: 'recording',
  };
  const keys = Object.keys(head) as Array<keyof TenantRow>;
  const cells = [head, ...rows].map((r) => keys.map((k) => r[k]));
  const widths = keys.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string =>
    c
      .map((x, i) => x.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
