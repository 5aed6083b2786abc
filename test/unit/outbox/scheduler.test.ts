/**
 * The scheduler on a fake clock against the portal emulator (its bucket and its
 * operating-time window on the same clock): recovery after an outage drains at once,
 * Bitrix24's per-method time limit is provoked and respected, and the offline pull rides
 * in the batches that go out anyway.
 */
import t from 'tap';
import { startBitrix24Emulator, type Bitrix24Emulator, type PortalRequest } from '../../../lib/sim/bitrix24/index.js';
import { Bitrix24Client } from '../../../lib/bitrix24/client.js';
import { OperatingLimits, RateLimiter } from '../../../lib/bitrix24/limiter.js';
import { SqliteStore as Store } from '../../../lib/store/sqlite.js';
import { Outbox, type OutboxOptions } from '../../../lib/outbox/scheduler.js';
import { OfflinePuller } from '../../../lib/offline/puller.js';
import { ManualClock } from '../../../lib/clock.js';
import { createLogger } from '../../../lib/log.js';
import type { Effect } from '../../../lib/calls/effects.js';
import { installedTokens } from '../../helpers/tokens.js';

const USERS: Record<string, number> = { '1001': 11, '1002': 12 };

async function setup(
  t: { teardown: (f: () => unknown) => void },
  emuOpts: Parameters<typeof startBitrix24Emulator>[0] = {},
  extra: Partial<OutboxOptions> = {},
) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 9, 0, 0));
  const emu = await startBitrix24Emulator({ now: () => clock.now(), ...emuOpts });
  for (const [ext, id] of Object.entries(USERS)) emu.state.addUser({ ID: id, UF_PHONE_INNER: ext });
  emu.app.installed = true;
  const store = new Store(':memory:');
  await store.setTokens(installedTokens(emu));
  const log = createLogger('silent');
  const client = new Bitrix24Client({
    mode: 'oauth',
    oauthUrl: emu.url,
    store,
    limiter: new RateLimiter(50, 2, clock),
    operating: new OperatingLimits(480, clock),
    timeoutMs: 5000,
    log,
  });
  const recordings = {
    check: async () => ({ failed: 'none here' }),
    base64: async () => '',
    upload: async () => undefined,
    landed: async () => undefined,
  };
  const outbox = new Outbox({
    store,
    client,
    directory: { userFor: (e) => (e ? (USERS[e] ?? null) : null) },
    defaultUserId: 11,
    cardWindowMs: 0,
    log,
    recordings,
    clock,
    retryBaseMs: 500,
    ...extra,
  });
  outbox.start();
  t.teardown(async () => {
    await outbox.stop();
    await client.close();
    await emu.close();
    await store.close();
  });
  /** Let `ms` of fake time pass in steps, each time until nothing is under way. */
  const run = async (ms: number, step = 250): Promise<void> => {
    for (let left = ms; left > 0; left -= step) {
      await clock.advance(Math.min(step, left));
      await outbox.quiet();
    }
  };
  return { clock, emu, store, client, outbox, run };
}

let n = 0;
function call(ext = '1001'): Effect[] {
  const c = `call-${++n}`;
  return [
    {
      kind: 'register',
      call: c,
      externalCallId: c,
      type: 2,
      extension: ext,
      phone: `+7916${1000000 + n}`,
      line: '4951234567',
      startIso: '2026-01-01T09:00:00+00:00',
      show: true,
      crmCreate: false,
    },
    {
      kind: 'finish',
      call: c,
      direction: 'incoming',
      extension: ext,
      candidates: [],
      duration: 30,
      status: '200',
      addToChat: false,
    },
  ];
}
const sub = (
  emu: Bitrix24Emulator,
  method: string,
  pred: (r: PortalRequest) => boolean = () => true,
): PortalRequest[] => emu.journal.entries.filter((r) => r.method === method && pred(r));

t.test('a portal outage: one probe every 5 s, then the backlog drains at once', async (t) => {
  const { emu, client, outbox, run, clock, store } = await setup(t);
  emu.setOutage('reset');
  const before = client.requests;
  // 60 s of outage at 2 calls/s
  for (let i = 0; i < 120; i++) {
    await outbox.submit(call());
    await run(500);
  }
  const probes = client.requests - before;
  t.ok(probes >= 11 && probes <= 13, `one request at most every 5 s while down (${probes} in 60 s)`);
  t.equal((await store.stats()).pending, 240, 'everything kept');
  emu.setOutage('none');
  const back = clock.now();
  await run(10_000);
  t.equal(sub(emu, 'telephony.externalcall.finish', (r) => r.status === 200).length, 120, 'every call finished');
  const last = Math.max(...sub(emu, 'telephony.externalcall.finish').map((r) => r.at));
  t.ok(
    last - back <= 6000,
    `the backlog landed ${last - back} ms after the portal came back (next probe within 5 s, then at once)`,
  );
  t.ok(emu.journal.entries.filter((r) => r.method === 'batch').length <= 6, 'in full batches');
  t.equal(sub(emu, 'telephony.externalcall.register', (r) => r.status === 200).length, 120, 'registered once each');
});

t.test('the operating-time limit: provoked with the real error, then respected until the window moves', async (t) => {
  const { emu, outbox, run, clock } = await setup(t, {
    operatingCost: (m) => (m === 'telephony.externalcall.register' ? 100 : 0.01),
  });
  const t0 = clock.now();
  for (let i = 0; i < 8; i++) await outbox.submit(call());
  await run(2000);
  const refused = sub(emu, 'telephony.externalcall.register', (r) => r.error === 'OPERATION_TIME_LIMIT');
  t.equal(refused.length, 3, 'five registers use 500 s; the portal blocks the rest with OPERATION_TIME_LIMIT');
  t.equal(refused[0]?.status, 429);
  await run(4 * 60_000, 5000);
  await outbox.submit([{ kind: 'show', call: `call-${n - 7}`, extensions: ['1002'] }]);
  await run(60_000, 5000);
  t.equal(
    sub(emu, 'telephony.externalcall.register', (r) => r.error === 'OPERATION_TIME_LIMIT').length,
    3,
    'held: no register tried while blocked',
  );
  t.equal(sub(emu, 'telephony.externalcall.finish', (r) => r.status === 200).length, 5, 'other methods keep working');
  await run(6 * 60_000, 5000);
  const late = sub(emu, 'telephony.externalcall.register', (r) => r.status === 200).slice(5);
  t.equal(late.length, 3, 'the held registers land once the window moved');
  t.ok(
    late.every((r) => r.at >= t0 + 600_000),
    'not before the oldest minute expired',
  );
  t.equal(sub(emu, 'telephony.externalcall.finish', (r) => r.status === 200).length, 8);
});

t.test('the operating-time limit: a method past half its budget is paced and never blocked', async (t) => {
  const { emu, outbox, run } = await setup(t, {
    operatingCost: (m) => (m === 'telephony.externalcall.register' ? 60 : 0.01),
  });
  // a call every 5 s: unpaced, the ninth register would be refused 45 s in
  for (let i = 0; i < 12; i++) {
    await outbox.submit(call());
    await run(5000, 1000);
  }
  await run(20 * 60_000, 5000);
  t.equal(
    sub(emu, 'telephony.externalcall.register', (r) => r.error === 'OPERATION_TIME_LIMIT').length,
    0,
    'never blocked',
  );
  t.equal(sub(emu, 'telephony.externalcall.register', (r) => r.status === 200).length, 12, 'every call registered');
  const times = sub(emu, 'telephony.externalcall.register').map((r) => r.at);
  t.ok(times[11]! - times[0]! > 60_000, 'spread out instead of sent as they came');
});

t.test('offline mode under load: the pull rides in the batches, no request of its own', async (t) => {
  let puller: OfflinePuller | null = null;
  const { emu, client, store, outbox, run, clock } = await setup(
    t,
    {},
    {
      piggyback: {
        take: () => puller?.piggyback() ?? null,
        done: (o) => puller?.onPiggybackResult(o) ?? Promise.resolve(),
      },
    },
  );
  puller = new OfflinePuller({
    client,
    store,
    log: createLogger('silent'),
    portal: async () => ({ domain: emu.domain, memberId: emu.app.memberId }),
    validate: () => null,
    handle: async () => undefined,
    pollMs: 1000,
    clock,
  });
  await puller.start();
  t.teardown(() => puller?.stop());
  await run(3000); // idle: recovery and the first reads go on their own
  const own = (): number => sub(emu, 'event.offline.get', (r) => !r.batch).length;
  const before = own();
  t.ok(before >= 1, 'idle, it polls on its own');
  // a call every 400 ms for a minute: batches go out every few hundred ms
  for (let i = 0; i < 150; i++) {
    await outbox.submit(call());
    await run(400, 200);
  }
  t.equal(own(), before, 'no request of its own while batches go out');
  const rode = sub(emu, 'event.offline.get', (r) => r.batch === true).length;
  t.ok(
    rode >= 55 && rode <= 80,
    `pulled ${rode} times in 60 s inside batches (every other batch: 500 ms apart at least)`,
  );
  t.equal(sub(emu, 'telephony.externalcall.finish', (r) => r.status === 200).length, 150, 'every call finished');
});

t.test('the store failing under the outbox (a database restarting): it tries again, nothing is lost', async (t) => {
  const { emu, store, outbox, run } = await setup(t);
  const pending = store.pending.bind(store);
  let failed = 0;
  store.pending = async () => {
    if (failed < 3) {
      failed++;
      throw new Error('Connection terminated unexpectedly');
    }
    return pending();
  };
  await outbox.submit(call());
  await run(1000);
  t.equal(sub(emu, 'telephony.externalcall.register').length, 0, 'nothing sent while the store fails');
  t.equal(failed, 1, 'not read again at once');
  await run(15_000);
  t.equal(failed, 3, 'read again every few seconds');
  t.equal(sub(emu, 'telephony.externalcall.register', (r) => r.status === 200).length, 1, 'then registered');
  t.equal(sub(emu, 'telephony.externalcall.finish', (r) => r.status === 200).length, 1, 'and finished');
});
