/**
 * The portal emulator of the office benchmark in its own process (bench/calls.ts), so
 * the benchmark's processes are the service, the switch simulator and this: the card
 * latency does not wait for the simulator, and each one's CPU seconds are its own.
 * It reads its journal as it grows (never from the start again) and answers the
 * benchmark's questions over IPC: what landed, when registers arrived, totals.
 */
import { startBitrix24Emulator } from '../lib/sim/bitrix24/index.js';
import type { PortalRequest } from '../lib/sim/bitrix24/state.js';

export type PortalAsk =
  | { cmd: 'users'; users: Array<{ ID: number; NAME?: string; UF_PHONE_INNER: string }> }
  | { cmd: 'install'; url: string }
  | { cmd: 'reset' }
  /** Serve the requests a call's card and end make once, to itself, before the measured calls. */
  | { cmd: 'warm' }
  /** The calls that ended: [EXTERNAL_CALL_ID (uuid), recorded]. */
  | { cmd: 'expect'; calls: Array<[string, boolean]> }
  | { cmd: 'landed' }
  | { cmd: 'registers' }
  | { cmd: 'totals' }
  | { cmd: 'stop' };

export interface PortalTotals {
  requests: number;
  commands: number;
  limited: number;
  /** Recordings the portal stored, and their bytes. */
  files: number;
  fileBytes: number;
  /** CPU seconds of this process since the last reset. */
  cpu: number;
}

const [burst, drain] = (process.argv[2] ?? '50,2').split(',').map(Number) as [number, number];
const portal = await startBitrix24Emulator({ burst, drainPerSec: drain });

/** What the journal said so far, read incrementally from `seen` on. */
let seen = 0;
const registers = new Map<string, { callId: string; at: number }>();
const finishes = new Map<string, number>();
const attaches = new Map<string, number>();
const totals = { requests: 0, commands: 0, limited: 0, files: 0, fileBytes: 0 };
let expected: Array<[string, boolean]> = [];
let cpuBase = process.cpuUsage();

function read(): void {
  const entries = portal.journal.entries;
  for (; seen < entries.length; seen++) {
    const r: PortalRequest = entries[seen]!;
    if (!r.batch) totals.requests++;
    if (r.batch || (r.method !== 'batch' && r.method !== 'upload')) totals.commands++;
    if (r.error === 'QUERY_LIMIT_EXCEEDED' || r.error === 'OPERATION_TIME_LIMIT') totals.limited++;
    // the emulator would keep every recording's base64 (GBs in 5 minutes): the journal forgets it
    if (typeof r.params.FILE_CONTENT === 'string') r.params.FILE_CONTENT = '';
    if (r.status !== 200) continue;
    if (r.method === 'telephony.externalcall.register')
      registers.set(String(r.params.EXTERNAL_CALL_ID), {
        callId: String((r.result as { CALL_ID: string }).CALL_ID),
        at: r.at,
      });
    if (r.method === 'telephony.externalcall.finish') finishes.set(String(r.params.CALL_ID), r.at);
    if (r.method === 'telephony.externalcall.attachrecord' || r.method === 'upload')
      attaches.set(String(r.params.CALL_ID ?? r.params.callId), r.at);
  }
}

/** Landed: registered, finished and (when recorded) its recording attached; `at`: when the last of it did. */
function landed(): { landed: number; at: number } {
  read();
  const files = new Set(portal.state.files.map((f) => f.CALL_ID));
  let n = 0;
  let at = 0;
  for (const [uuid, recorded] of expected) {
    const id = registers.get(uuid)?.callId;
    if (!id || !finishes.has(id) || (recorded && !files.has(id))) continue;
    n++;
    at = Math.max(at, finishes.get(id)!, recorded ? (attaches.get(id) ?? 0) : 0);
  }
  return { landed: n, at };
}

/** nor the files' bytes: their size and CALL_ID are all the benchmark reads */
function slim(): void {
  read();
  for (const f of portal.state.files) {
    if (f.bytes.length === 0) continue;
    totals.files++;
    totals.fileBytes += f.bytes.length;
    (f as { bytes: Buffer }).bytes = Buffer.alloc(0);
  }
}
setInterval(slim, 2000).unref();

/**
 * The emulator's own first requests (compiling its batch and telephony handlers: ~5 ms on the
 * first register here, under 1 ms after) are not the service's card latency: it serves a
 * call's requests to itself, over HTTP, before the benchmark resets it and the calls begin.
 */
async function warm(): Promise<void> {
  const auth = portal.issueTokens(1).access_token;
  const post = async (method: string, body: Record<string, unknown>): Promise<unknown> => {
    const res = await fetch(`${portal.restUrl}${method}.json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, auth }),
    });
    return res.json();
  };
  const reg = 'telephony.externalcall.register?USER_ID=1&PHONE_NUMBER=%2B79160000000&TYPE=2&CRM_CREATE=0&SHOW=1';
  await post('batch', {
    halt: 0,
    cmd: {
      r: `${reg}&EXTERNAL_CALL_ID=warm-1`,
      s: 'telephony.externalcall.show?USER_ID[0]=1&CALL_ID=$result[r][CALL_ID]',
    },
  });
  const one = (await post('telephony.externalcall.register', {
    USER_ID: 1,
    PHONE_NUMBER: '+79160000000',
    TYPE: 1,
    EXTERNAL_CALL_ID: 'warm-2',
  })) as { result: { CALL_ID: string } };
  await post('batch', {
    halt: 0,
    cmd: {
      h: `telephony.externalcall.hide?CALL_ID=${one.result.CALL_ID}&USER_ID[0]=1`,
      f: `telephony.externalcall.finish?CALL_ID=${one.result.CALL_ID}&USER_ID=1&DURATION=1&STATUS_CODE=200`,
    },
  });
}

process.on('message', (m: PortalAsk) => {
  const answer = (v: unknown): void => void process.send?.(v);
  switch (m.cmd) {
    case 'users':
      for (const u of m.users) portal.state.addUser(u);
      return answer({ ok: true });
    case 'install':
      void (async () => {
        await portal.install(m.url);
        while (portal.state.handlers.length < 2) await new Promise((r) => setTimeout(r, 10));
        answer({ ok: true });
      })();
      return;
    case 'reset':
      portal.journal.clear();
      portal.bucket.reset();
      seen = 0;
      registers.clear();
      finishes.clear();
      attaches.clear();
      slim();
      Object.assign(totals, { requests: 0, commands: 0, limited: 0, files: 0, fileBytes: 0 });
      cpuBase = process.cpuUsage();
      return answer({ ok: true });
    case 'warm':
      void warm().then(
        () => answer({ ok: true }),
        (err: unknown) => answer({ ok: false, error: String(err) }),
      );
      return;
    case 'expect':
      expected = m.calls;
      return answer({ ok: true });
    case 'landed':
      return answer(landed());
    case 'registers':
      read();
      return answer([...registers].map(([uuid, r]) => [uuid, r.at]));
    case 'totals': {
      slim();
      const cpu = process.cpuUsage(cpuBase);
      return answer({ ...totals, cpu: (cpu.user + cpu.system) / 1e6 } satisfies PortalTotals);
    }
    case 'stop':
      void portal.close().then(() => process.exit(0));
      return;
  }
});
// the benchmark is gone (stopped or killed): so is its portal
process.on('disconnect', () => process.exit(0));
process.send?.({ url: portal.url, clientId: portal.app.clientId, clientSecret: portal.app.clientSecret });
