/** The REST client on the emulator: refresh once for many, rate limits by code, outages, webhooks. */
import t from 'tap';
import { startBitrix24Emulator } from '../../../lib/sim/bitrix24/index.js';
import { OperatingLimits, RateLimiter } from '../../../lib/bitrix24/limiter.js';
import { ManualClock } from '../../../lib/clock.js';
import { UserDirectory } from '../../../lib/bitrix24/directory.js';
import { createLogger } from '../../../lib/log.js';
import { installedClient } from '../../helpers/tokens.js';
import { Bitrix24Client, type ClientOptions } from '../../../lib/bitrix24/client.js';

const log = createLogger('silent');

async function setup(t: { teardown: (f: () => unknown) => void }) {
  const emu = await startBitrix24Emulator();
  emu.state.addUser({ ID: 1, UF_PHONE_INNER: '1001' });
  emu.state.addUser({ ID: 2, UF_PHONE_INNER: '' });
  emu.state.addUser({ ID: 3, UF_PHONE_INNER: '1003', ACTIVE: false });
  const { client, store } = await installedClient(emu, log);
  t.teardown(async () => {
    await client.close();
    await emu.close();
  });
  return { emu, store, client };
}

t.test('expired token: ten concurrent calls share one refresh; the new refresh token is stored', async (t) => {
  const { emu, store, client } = await setup(t);
  const before = (await store.tokens())!.refreshToken;
  emu.expireTokens();
  const results = await Promise.all(Array.from({ length: 10 }, () => client.call('user.get')));
  t.equal(results.length, 10);
  const after = (await store.tokens())!.refreshToken;
  t.not(after, before, 'rotated');
  t.equal(emu.journal.entries.filter((r) => r.error === 'expired_token').length, 10);
});

t.test('two instances on one store: one refreshes under the lock, the other uses what it stored', async (t) => {
  const { emu, store, client } = await setup(t);
  let held: Promise<void> = Promise.resolve();
  // the cluster's lease, as a mutex: one holder at a time, in order
  const refreshLock = async <T>(fn: () => Promise<T>): Promise<T> => {
    const before = held;
    let release!: () => void;
    held = new Promise((r) => (release = r));
    await before;
    try {
      return await fn();
    } finally {
      release();
    }
  };
  const locked = (c: Bitrix24Client): Bitrix24Client =>
    new Bitrix24Client({ ...(c as unknown as { o: ClientOptions }).o, refreshLock });
  const a = locked(client);
  const b = locked(client);
  t.teardown(() => Promise.all([a.close(), b.close()]));
  let refreshes = 0;
  const setTokens = store.setTokens.bind(store);
  store.setTokens = async (tk) => {
    refreshes++;
    return setTokens(tk);
  };
  emu.expireTokens();
  const results = await Promise.all([a.call('user.get'), b.call('user.get'), a.call('user.get'), b.call('user.get')]);
  t.equal(results.length, 4, 'every call went through');
  t.equal(refreshes, 1, 'one refresh: the second instance found fresh tokens under the lock');
  t.equal(emu.journal.entries.filter((r) => r.error === 'expired_token').length, 4);
});

t.test('a spent refresh token is an auth error that says to reinstall', async (t) => {
  const { emu, store, client } = await setup(t);
  const tokens = (await store.tokens())!;
  await store.setTokens({ ...tokens, refreshToken: 'spent' });
  emu.expireTokens();
  await t.rejects(client.call('user.get'), { code: 'B24_ERR_AUTH', message: /reinstall/ });
});

t.test('QUERY_LIMIT_EXCEEDED and OPERATION_TIME_LIMIT are rate limits; 5xx and resets are retryable', async (t) => {
  const { emu, client } = await setup(t);
  emu.bucket.burst = 0;
  await t.rejects(client.call('user.get'), { code: 'B24_ERR_RATE_LIMIT' });
  emu.bucket.burst = 50;
  emu.blockedMethods.add('user.get');
  await t.rejects(client.call('user.get'), { code: 'B24_ERR_RATE_LIMIT' });
  emu.blockedMethods.clear();
  emu.setOutage('http500');
  const e1 = (await client.call('user.get').catch((e: unknown) => e)) as { retryable: boolean };
  t.equal(e1.retryable, true);
  emu.setOutage('reset');
  const e2 = (await client.call('user.get').catch((e: unknown) => e)) as { code: string; retryable: boolean };
  t.equal(e2.code, 'B24_ERR_NETWORK');
  t.equal(e2.retryable, true);
  emu.setOutage('none');
  const e3 = (await client
    .call('telephony.externalcall.finish', { CALL_ID: 'nope', USER_ID: 1 })
    .catch((e: unknown) => e)) as { retryable: boolean; detail: { description: string } };
  t.equal(e3.retryable, false, 'a business error is not retried');
  t.match(e3.detail.description, /Call is not found/);
});

t.test('user directory: all pages, empty extensions never map, the last good map survives a failure', async (t) => {
  const { emu, client } = await setup(t);
  for (let i = 10; i < 130; i++) emu.state.addUser({ ID: i, UF_PHONE_INNER: String(3000 + i) });
  const dir = new UserDirectory(client, log);
  t.equal(await dir.refresh(), true);
  t.equal(dir.size, 121, 'every page read (active users with an extension)');
  t.equal(dir.userFor('1001'), 1);
  t.equal(dir.userFor(''), null);
  t.equal(dir.userFor('1003'), null, 'an inactive user does not map');
  t.equal(dir.extensionOf(129), '3129');
  emu.setOutage('http500');
  t.equal(await dir.refresh(), false);
  t.equal(dir.userFor('1001'), 1, 'kept');
});

t.test('rate limiter on a fake clock: burst, then the drain rate; urgent requests first', async (t) => {
  const clock = new ManualClock();
  const lim = new RateLimiter(5, 2, clock);
  for (let i = 0; i < 4; i++) await lim.acquire();
  t.equal(clock.pending, 0, 'the burst goes at once (one slot kept in reserve)');
  const order: string[] = [];
  const a = lim.acquire().then(() => order.push('normal'));
  const b = lim.acquire(true).then(() => order.push('urgent'));
  await clock.advance(1);
  t.same(order, ['urgent'], 'the urgent one first, as soon as the reserve allows');
  await clock.advance(498);
  t.same(order, ['urgent'], 'the next one waits for the drain (2/s)');
  await clock.advance(2);
  await Promise.all([a, b]);
  t.same(order, ['urgent', 'normal']);
  lim.saturate();
  let got = false;
  const c = lim.acquire().then(() => (got = true));
  await clock.advance(400);
  t.notOk(got, 'after QUERY_LIMIT_EXCEEDED the bucket is taken as full');
  await clock.advance(200);
  await c;
  t.ok(got);
});

t.test('operating time per method: at once under half the budget, paced past it, held near the limit', async (t) => {
  const clock = new ManualClock(1_000_000);
  const op = new OperatingLimits(480, clock);
  t.equal(op.readyAt('m'), 0, 'unknown method: at once');
  op.note('m', { duration: 0.2, operating: 100, operating_reset_at: 1600 });
  t.equal(op.readyAt('m'), 0, 'under half of 480 s: at once');
  op.note('m', { duration: 10, operating: 300, operating_reset_at: 1600 });
  op.sent('m', 1);
  t.ok(op.readyAt('m') > clock.now(), 'past half: the next call is spaced out');
  op.note('m', { operating: 476, operating_reset_at: 1600 });
  t.equal(op.readyAt('m'), 1_601_000, 'near the limit: after the oldest minute expires');
  op.blocked('n');
  t.ok(op.readyAt('n') >= clock.now() + 60_000, 'OPERATION_TIME_LIMIT without a known window: a minute');
  t.equal(op.totals().find((x) => x.method === 'm')?.spentSec, 10.2);
});
