/**
 * The shipped inbound snippet (conf/freeswitch/dialplan/public-bitrix24.xml) run end to
 * end: the simulated switch hunts it for the DID, calls the service as mod_curl does
 * (URL encoding, timeouts from the snippet itself), and rings whoever it says. A
 * catch-all after the snippet (as on a real switch: "unknown number" → 404) must never
 * take a call the snippet matched.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { stack } from '../helpers/stack.js';
import {
  inboundCall,
  dialplanContext,
  parseDialplan,
  type CurlClock,
  type DialplanPlan,
} from '../../lib/sim/freeswitch/index.js';
import { loadConfig } from '../../lib/config.js';
import type { Stack } from '../../lib/demo/stack.js';
import type { PortalRequest } from '../../lib/sim/bitrix24/index.js';

const SNIPPET = readFileSync(new URL('../../conf/freeswitch/dialplan/public-bitrix24.xml', import.meta.url), 'utf8');
const CATCH_ALL = `<include><extension name="unknown-number">
  <condition field="destination_number" expression="^(.*)$"><action application="respond" data="404"/></condition>
</extension></include>`;
const defaults = loadConfig({ env: {} });
const shippedOrigin = `http://${defaults.http.host}:${defaults.http.port}`;

const finishOf =
  (s: Stack, phone: string) =>
  (r: PortalRequest): boolean =>
    r.method === 'telephony.externalcall.finish' &&
    r.status === 200 &&
    s.portal.state.finished.some((f) => f.CALL_ID === r.params.CALL_ID && f.PHONE_NUMBER === phone);

/** A curl timer the test fires: no real waiting. */
function manualClock(): CurlClock & { fire(ms: number): void; pending(): number[] } {
  let timers: Array<{ ms: number; resolve: () => void }> = [];
  return {
    after: (ms) => new Promise<void>((resolve) => timers.push({ ms, resolve })),
    fire(ms) {
      const due = timers.filter((x) => x.ms <= ms);
      timers = timers.filter((x) => x.ms > ms);
      for (const x of due) x.resolve();
    },
    pending: () => timers.map((x) => x.ms),
  };
}

async function listen(
  t: { teardown: (fn: () => unknown) => void },
  onSocket: (s: Socket) => void,
): Promise<{ url: string; connected: Promise<void> }> {
  let hit!: () => void;
  const connected = new Promise<void>((r) => (hit = r));
  const sockets: Socket[] = [];
  const server: Server = createServer((sock) => {
    sockets.push(sock);
    hit();
    onSocket(sock);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const addr = server.address() as { port: number };
  return { url: `http://127.0.0.1:${addr.port}`, connected };
}

t.test('the snippet as shipped: the lookup URL, its timeouts, and the service deadline below them', async (t) => {
  const [ext] = parseDialplan(SNIPPET);
  const actions = ext!.conditions.flatMap((c) => c.actions);
  const curl = actions.find((a) => a.app === 'curl');
  t.ok(curl?.inline, 'the lookup runs inline, during the hunt');
  t.equal(new URL(curl!.data.split(' ')[0]!).origin, shippedOrigin, 'it asks the service where it listens by default');
  const seconds = (name: string): number =>
    Number(actions.find((a) => a.app === 'set' && a.data.startsWith(`${name}=`))?.data.split('=')[1]);
  t.ok(
    seconds('curl_connect_timeout') >= 1 && Number.isInteger(seconds('curl_connect_timeout')),
    'a connect timeout in whole seconds',
  );
  t.ok(
    Number.isInteger(seconds('curl_timeout')) && seconds('curl_timeout') * 1000 > defaults.routing.deadlineMs,
    'the service answers before curl gives up',
  );
  t.ok(seconds('curl_timeout') <= 2, 'a silent service costs a call at most that long');
});

t.test('an E.164 caller reaches the responsible manager through the shipped snippet', async (t) => {
  const s = await stack(t);
  let plan!: DialplanPlan;
  const ctx = dialplanContext([SNIPPET, CATCH_ALL], { rewriteUrl: (u) => u.replace(shippedOrigin, s.service.url) });
  await inboundCall(s.sim.sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: [],
    dialplan: async (sw, a) => (plan = await ctx(sw, a)),
  });
  t.equal(plan.extension, 'bitrix24-did-4951234567');
  t.match(plan.requests, [
    {
      url: `${shippedOrigin}/route?caller=%2B79161234567&did=4951234567&domain=${s.sim.sw.domain}`,
      code: 200,
      body: '1002',
    },
  ]);
  // the snippet rings user/<ext>@${domain_name}: the switch's own domain here
  const domain = s.sim.sw.domain;
  t.same(plan.bridges, [
    { extensions: ['1002'], timeoutMs: 15_000, domain },
    { extensions: ['1001', '1002'], timeoutMs: 30_000, domain },
  ]);
  const fin = await s.portal.journal.next(finishOf(s, '+79161234567'));
  t.match(fin.params, { USER_ID: 12, STATUS_CODE: '200' }, 'Boris, the responsible manager, took it');
});

t.test('empty, failed and slow answers ring the group, never the rest of the context', async (t) => {
  const s = await stack(t);
  const run = async (caller: string, serviceUrl: string, clock?: CurlClock): Promise<DialplanPlan> => {
    let plan!: DialplanPlan;
    const ctx = dialplanContext([SNIPPET, CATCH_ALL], {
      rewriteUrl: (u) => u.replace(shippedOrigin, serviceUrl),
      ...(clock ? { clock } : {}),
    });
    await inboundCall(s.sim.sw, {
      caller,
      did: '4951234567',
      extensions: [],
      dialplan: async (sw, a) => (plan = await ctx(sw, a)),
    });
    return plan;
  };
  const group = [{ extensions: ['1001', '1002'], timeoutMs: 30_000 }];

  // nobody responsible: the service answers nothing
  const empty = await run('+79160000009', s.service.url);
  t.match(empty, { refused: null, requests: [{ code: 200, body: '' }], bridges: group }, 'empty answer: the group');
  t.match((await s.portal.journal.next(finishOf(s, '+79160000009'))).params, { USER_ID: 11, STATUS_CODE: '200' });

  // the service is not running: connection refused
  const down = await listen(t, (sock) => sock.destroy());
  const refused = await run('+79160000010', down.url);
  t.match(refused, { refused: null, requests: [{ code: 0, body: '' }], bridges: group }, 'service down: the group');

  // an error page (the service or a proxy in front of it failing)
  const failing = await listen(t, (sock) => {
    sock.once('data', () =>
      sock.end(
        'HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: 17\r\n\r\n{"error":"boom"}\n',
      ),
    );
  });
  const broken = await run('+79160000011', failing.url);
  t.match(
    broken,
    { refused: null, requests: [{ code: 500, body: '{"error":"boom"}\n' }], bridges: group },
    'HTTP 500: the group',
  );

  // the service accepts and never answers (SIGSTOP): curl gives up at curl_timeout
  const hung = await listen(t, () => undefined);
  const clock = manualClock();
  const call = run('+79160000012', hung.url, clock);
  await hung.connected;
  t.same(clock.pending().sort(), [1000, 1000], 'connect and total timeouts of 1 s armed');
  clock.fire(1000);
  const slow = await call;
  t.match(
    slow,
    { refused: null, waitedMs: 1000, requests: [{ code: 0, body: '', timedOut: true }], bridges: group },
    'no answer within 1 s: the group',
  );
  const answered = (): number =>
    s.portal.state.finished.filter((f) => /^\+7916000001[012]$/.test(f.PHONE_NUMBER) && f.CALL_FAILED_CODE === '200')
      .length;
  await s.portal.journal.until(() => answered() === 3);
  t.equal(answered(), 3, 'all answered by the group');
});

t.test('the catch-all still takes numbers the snippet does not serve', async (t) => {
  const s = await stack(t);
  let plan!: DialplanPlan;
  const ctx = dialplanContext([SNIPPET, CATCH_ALL], { rewriteUrl: (u) => u.replace(shippedOrigin, s.service.url) });
  await inboundCall(s.sim.sw, {
    caller: '+79161234567',
    did: '4950000000',
    extensions: [],
    dialplan: async (sw, a) => (plan = await ctx(sw, a)),
  });
  t.match(plan, {
    extension: 'unknown-number',
    requests: [],
    refused: { cause: 'UNALLOCATED_NUMBER', sipStatus: '404' },
  });
});

t.test("/route reads an unencoded + as the caller's +, and logs what it refuses at debug", async (t) => {
  const logged: Array<Record<string, unknown>> = [];
  const { createLogger } = await import('../../lib/log.js');
  const log = createLogger('debug', {
    destination: { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) },
  });
  const s = await stack(t, { log });
  const get = (q: string) => s.service.app.inject({ method: 'GET', url: `/route?${q}` });
  const plus = await get('caller=+79161234567&did=4951234567');
  t.equal(plus.statusCode, 200);
  t.equal(plus.body, '1002', "a raw + (decoded as a space) is the caller's +");
  t.equal((await get('caller=%2079161234567')).body, '1002', 'an encoded leading space too');
  for (const [q, reason] of [
    ['did=4951234567', /no caller/],
    ['caller=', /empty caller/],
    ['caller=abc', /not a phone number/],
    ['caller=1&caller=2', /more than once/],
  ] as const) {
    const r = await get(q);
    t.equal(r.statusCode, 400, q);
    t.equal(r.body, '', `${q}: an empty body (mod_curl would hand any body to the dialplan)`);
    t.match(
      logged.filter((l) => l.msg === 'routing lookup refused').at(-1),
      { level: 20, reason },
      `${q}: logged with the reason`,
    );
  }
});
