/** The routing lookup caches what the portal really said, never a failure. */
import t from 'tap';
import { ResponsibleRouter } from '../../../lib/routing/responsible.js';
import { B24Error } from '../../../lib/bitrix24/errors.js';
import type { Bitrix24Client } from '../../../lib/bitrix24/client.js';
import type { UserDirectory } from '../../../lib/bitrix24/directory.js';
import { createLogger } from '../../../lib/log.js';
import { ManualClock } from '../../../lib/clock.js';

type Reply = () => unknown;

function router(
  replies: Reply[],
  o: { registered?: () => boolean | null } = {},
): { r: ResponsibleRouter; asked: () => number; clock: ManualClock } {
  let asked = 0;
  const clock = new ManualClock(1_000_000);
  const client = {
    call: async (method: string) => {
      if (method !== 'telephony.externalCall.searchCrmEntities') throw new Error(`unexpected ${method}`);
      const next = replies[Math.min(asked++, replies.length - 1)]!;
      return next();
    },
  } as unknown as Bitrix24Client;
  const directory = { extensionOf: () => null } as unknown as UserDirectory;
  const r = new ResponsibleRouter({
    client,
    directory,
    log: createLogger('silent'),
    deadlineMs: 5000,
    cacheSec: 60,
    clock,
    ...(o.registered ? { isRegistered: async () => o.registered!() } : {}),
  });
  return { r, asked: () => asked, clock };
}

const boris = (): unknown => [
  { ASSIGNED_BY_ID: 12, ASSIGNED_BY: { ID: '12', TIMEMAN_STATUS: 'OPENED', USER_PHONE_INNER: '1002' } },
];
const away = (): unknown => [
  { ASSIGNED_BY_ID: 12, ASSIGNED_BY: { ID: '12', TIMEMAN_STATUS: 'CLOSED', USER_PHONE_INNER: '1002' } },
];

t.test('failed lookups are not cached: the next call asks the portal again', async (t) => {
  const notInstalled = (): never => {
    throw new B24Error('B24_ERR_NOT_INSTALLED', 'the application is not installed on the portal yet (no tokens)');
  };
  const http503 = (): never => {
    throw new B24Error('B24_ERR_REST', 'telephony.externalCall.searchCrmEntities: HTTP 503', { status: 503 });
  };
  const { r, asked } = router([notInstalled, http503, boris]);
  t.match(await r.route('+79161234567'), { extension: null, reason: /not installed/, cached: false });
  t.match(await r.route('+79161234567'), { extension: null, reason: /HTTP 503/, cached: false });
  t.match(await r.route('+79161234567'), { extension: '1002', cached: false }, 'the cause is gone: routed at once');
  t.match(await r.route('+79161234567'), { extension: '1002', cached: true }, 'a real answer is cached');
  t.equal(asked(), 3);
});

t.test('"nobody responsible can take it" is a real answer: cached until it expires', async (t) => {
  const { r, asked, clock } = router([() => [], away, boris]);
  t.match(await r.route('+79160000009'), { extension: null, reason: 'unknown client', cached: false });
  t.match(await r.route('+79160000009'), { extension: null, reason: 'unknown client', cached: true });
  await clock.advance(59_000);
  t.match(await r.route('+79160000009'), { reason: 'unknown client', cached: true }, 'still cached at 59 s');
  await clock.advance(2_000);
  t.match(await r.route('+79160000009'), { extension: null, reason: /not at work/, cached: false });
  t.match(await r.route('+79160000009'), { cached: true });
  t.equal(asked(), 2);
});

t.test('registration is checked on every call, also for a cached answer', async (t) => {
  let registered = false;
  const { r, asked } = router([boris], { registered: () => registered });
  t.match(await r.route('+79161234567'), {
    extension: null,
    reason: 'extension 1002 is not registered',
    cached: false,
  });
  registered = true;
  t.match(
    await r.route('+79161234567'),
    { extension: '1002', cached: true },
    'the phone registered: rung first at once',
  );
  t.equal(asked(), 1);
});

t.test('a lookup past its deadline answers "too slow"; its late answer is cached for the next call', async (t) => {
  let answer: (v: unknown) => void = () => undefined;
  const slow = (): Promise<unknown> => new Promise((resolve) => (answer = resolve));
  const { r, asked, clock } = router([slow, boris]);
  const routed = r.route('+79161234567');
  await clock.advance(4_999);
  let settled = false;
  void routed.then(() => (settled = true));
  await clock.advance(0);
  t.equal(settled, false, 'still waiting 1 ms before the deadline');
  await clock.advance(1);
  t.match(await routed, { extension: null, reason: 'Bitrix24 too slow', cached: false });
  t.equal(r.timeouts, 1);
  answer(boris());
  await clock.advance(0);
  t.match(await r.route('+79161234567'), { extension: '1002', cached: true }, 'the late answer was kept');
  t.equal(asked(), 1);
});
