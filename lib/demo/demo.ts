/**
 * The demo: a day in a small office played through the simulator, the service and the
 * emulator on free local ports, then what the portal ended up with as a table.
 */
import { startStack, OFFICE, type Stack } from './stack.js';
import type { Compose } from '../runtime.js';
import { inboundCall, outboundCall } from '../sim/freeswitch/index.js';
import type { FinishedCall } from '../sim/bitrix24/state.js';

export interface DemoRow {
  call: number;
  type: string;
  client: string;
  line: string;
  employee: string;
  status: string;
  duration: string;
  recording: string;
  cardShownTo: string;
}

const TYPES: Record<string, string> = {
  '1': 'outgoing',
  '2': 'incoming',
  '3': 'incoming (redirected)',
  '4': 'callback',
  '5': 'info',
};
const STATUS: Record<string, string> = {
  '200': '200 answered',
  '304': '304 missed',
  '486': '486 busy',
  '603': '603 declined',
  '603-S': '603-S cancelled',
  '480': '480 unavailable',
  '404': '404 bad number',
  '503': '503 unavailable',
};

export async function runDemo(
  out: (line: string) => void,
  opts: { speed?: number; compose: Compose },
): Promise<{ rows: DemoRow[]; stack: Stack }> {
  const s = await startStack({
    compose: opts.compose,
    sim: {
      speed: opts.speed ?? 25,
      pstn: { '+74957654321': { mode: 'answer', talkMs: 31_000 }, '+79260000000': { mode: 'answer', talkMs: 12_000 } },
    },
  });
  const sw = s.sim.sw;
  const step = async (title: string, fn: () => Promise<unknown>): Promise<void> => {
    const started = Date.now();
    await fn();
    await s.service.portal.outbox.idle();
    out(`  ✓ ${title} (${Date.now() - started} ms)`);
  };
  const finishes = (): number => s.portal.state.finished.length;
  const landed = async (n: number): Promise<void> => {
    while (finishes() < n) await s.portal.journal.next((r) => r.method === 'telephony.externalcall.finish', 20_000);
  };
  out(
    `FreeSWITCH simulator on ${s.sim.host}:${s.sim.port}, ` +
      `Bitrix24 emulator at ${s.portal.url}, service at ${s.service.url}`,
  );
  out('A day in the office:');
  await step('incoming call, ring group 1001+1002, answered by the second phone, recorded', async () => {
    sw.setExtension('1001', { mode: 'noanswer' });
    sw.setExtension('1002', { mode: 'answer', ringMs: 4000 });
    await inboundCall(sw, { caller: '+79161234567', did: '4951234567', extensions: ['1001', '1002'], talkMs: 63_000 });
    await landed(1);
  });
  await step('incoming call nobody answers: the caller gives up', async () => {
    sw.setExtension('1002', { mode: 'noanswer' });
    await inboundCall(sw, {
      caller: '+74991112233',
      did: '4951234567',
      extensions: ['1001', '1002'],
      callerGivesUpMs: 15_000,
    });
    await landed(2);
  });
  await step('incoming call to a busy employee', async () => {
    sw.setExtension('1004', { mode: 'busy', ringMs: 500 });
    await inboundCall(sw, { caller: '+78122223344', did: '4957654321', extensions: ['1004'], record: false });
    await landed(3);
  });
  await step('outgoing call from 1003', async () => {
    await outboundCall(sw, { extension: '1003', number: '+74957654321', talkMs: 31_000 });
    await landed(4);
  });
  await step('click-to-call from the CRM (Anna → +79260000000)', async () => {
    sw.setExtension('1001', { mode: 'answer', ringMs: 2000 });
    await s.portal.clickToCall({ userId: 11, phone: '+79260000000', lineNumber: '4951234567' });
    await landed(5);
  });
  await step('callback request from a CRM form (client of Boris)', async () => {
    sw.setExtension('1002', { mode: 'answer', ringMs: 2000 });
    await s.portal.callbackRequest({
      phone: '+79161234567',
      text: 'Callback ordered on the website',
      lineNumber: '4951234567',
      crmEntityType: 'CONTACT',
      crmEntityId: 797,
    });
    await landed(6);
  });
  await step('incoming call answered by 1001, blind transfer to 1003', async () => {
    sw.setExtension('1001', { mode: 'answer', ringMs: 1500 });
    sw.setExtension('1003', { mode: 'answer', ringMs: 2000 });
    await inboundCall(sw, {
      caller: '+79035556677',
      did: '4951234567',
      extensions: ['1001'],
      talkMs: 20_000,
      transfer: { to: '1003', kind: 'blind', afterMs: 15_000 },
    });
    await landed(7);
  });
  await step('routed call: the client of Boris rings Boris first', async () => {
    sw.setExtension('1002', { mode: 'answer', ringMs: 1000 });
    const route = async (): Promise<string> =>
      (await fetch(`${s.service.url}/route?caller=%2B79161234567&did=4951234567`)).text();
    await inboundCall(sw, {
      caller: '+79161234567',
      did: '4951234567',
      extensions: ['1001', '1003'],
      route,
      timeoutMs: 15_000,
      talkMs: 45_000,
    });
    await landed(8);
  });
  const rows = table(s);
  return { rows, stack: s };
}

export function table(s: Stack): DemoRow[] {
  const name = (id: number): string => {
    const u = OFFICE.find((x) => x.ID === id);
    return u ? `${u.NAME}${u.UF_PHONE_INNER ? ` (${u.UF_PHONE_INNER})` : ''}` : `user ${id}`;
  };
  return s.portal.state.finished.map((f: FinishedCall, i) => ({
    call: i + 1,
    type: TYPES[f.INCOMING] ?? f.INCOMING,
    client: f.PHONE_NUMBER,
    line: f.PORTAL_NUMBER,
    employee: name(f.PORTAL_USER_ID),
    status: STATUS[f.CALL_FAILED_CODE] ?? f.CALL_FAILED_CODE,
    duration: `${f.CALL_DURATION} s`,
    recording: s.portal.state.files.some((x) => x.CALL_ID === f.CALL_ID) ? 'attached' : '-',
    cardShownTo:
      [...(s.portal.state.everShown.get(f.CALL_ID) ?? [])].map((id) => name(id).split(' ')[0]).join(', ') || '-',
  }));
}

export function render(rows: DemoRow[]): string {
  const head: Record<keyof DemoRow, string> = {
    call: '#',
    type: 'type',
    client: 'client',
    line: 'line',
    employee: 'employee',
    status: 'status',
    duration: 'duration',
    recording: 'recording',
    cardShownTo: 'card shown to',
  };
  const keys = Object.keys(head) as Array<keyof DemoRow>;
  const cells = [head, ...rows].map((r) => keys.map((k) => String(r[k])));
  const widths = keys.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string =>
    c
      .map((x, i) => x.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
