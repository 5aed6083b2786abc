/**
 * The browser connect behind a load balancer that is not sticky: two instances in one process
 * on one real PostgreSQL, one public address in front of them. The one-time state lives in the
 * shared store, so the connect page may be served by one instance and the callback by the other;
 * the connection is completed by the portal's holder; a replayed callback is refused by either.
 */
import t, { type Test } from 'tap';
import { sink } from '../helpers/log-sink.js';
import { createServer, request as forward, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { request } from 'undici';
import { stack } from '../helpers/stack.js';
import { testDatabase } from '../helpers/pg.js';
import { compose } from '../../bin/compose.js';
import { createLogger } from '../../lib/log.js';
import { Browser } from '../../lib/sim/bitrix24/browser.js';
import { installLocalApp } from '../../lib/sim/bitrix24/authorize.js';

/** One public address; `pick` says which instance gets each request; `served` says who got what. */
async function balancer(t: Test): Promise<{ url: string; pick: (path: string) => string; served: string[] }> {
  const lb = {
    url: '',
    pick: (_path: string): string => {
      throw new Error('no instance behind the balancer yet');
    },
    served: [] as string[],
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const to = new URL(req.url ?? '/', lb.pick(req.url ?? '/'));
    lb.served.push(`${to.port} ${to.pathname}`);
    const out = forward(to, { method: req.method, headers: { ...req.headers, host: to.host } }, (back) => {
      res.writeHead(back.statusCode ?? 502, back.headers);
      back.pipe(res);
    });
    out.on('error', () => res.writeHead(502).end());
    req.pipe(out);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise((r) => server.close(r)));
  const at = server.address();
  lb.url = `http://127.0.0.1:${typeof at === 'object' && at ? at.port : 0}`;
  return lb;
}

t.test('the connect page served by B, the callback by A: connected; a replay is refused by both', async (t) => {
  const url = await testDatabase(t);
  const lb = await balancer(t);
  const logs = sink();
  const log = createLogger('trace', { destination: logs.stream });
  const s = await stack(t, {
    install: false,
    log,
    config: { 'database.url': url, instanceId: 'A', publicUrl: lb.url },
  });
  const a = s.service;
  const b = compose({ config: { ...s.config, instanceId: 'B' }, log, recordingsStableMs: 0 });
  await b.start();
  t.teardown(() => b.stop());
  const port = (u: string): string => new URL(u).port;
  // not sticky: the connect page from B, everything else (the callback) at A
  lb.pick = (path) => (path.startsWith('/bitrix24/connect') ? b.url : a.url);
  installLocalApp(s.portal, `${lb.url}/bitrix24/oauth/callback`);

  const browser = new Browser();
  const r = await browser.get(`${lb.url}/bitrix24/connect`);
  t.equal(r.status, 200, r.body);
  t.match(r.body, /Connected to Bitrix24/);
  t.match(r.body, new RegExp(`Bound ONEXTERNALCALLSTART, ONEXTERNALCALLBACKSTART to ${lb.url}/bitrix24/events`));
  t.same(
    lb.served,
    [`${port(b.url)} /bitrix24/connect`, `${port(a.url)} /bitrix24/oauth/callback`],
    'the page from B, the callback at A',
  );
  t.match(await a.portal.store.tokens(), { memberId: s.portal.app.memberId }, 'the tokens stored');
  const rest = s.portal.journal.entries.filter((e) => e.method !== 'oauth.authorize');
  t.ok(rest.some((e) => e.method === 'app.info') && rest.some((e) => e.method === 'event.bind'));
  t.same([...new Set(rest.map((e) => e.agent))], ['freeswitch-bitrix24 (instance A)'], 'every REST call by the holder');

  // the same callback again (a reload, a replay): refused wherever it arrives, nothing reaches the portal
  const callback = browser.visited[2]!;
  t.match(callback, new RegExp(`^${lb.url}/bitrix24/oauth/callback\\?code=`));
  // the directory is loaded after the page has answered (not awaited by it): let it land first
  await s.portal.journal.until(() => s.portal.journal.entries.some((e) => e.method === 'user.get'));
  const seen = s.portal.journal.entries.length;
  t.match(await browser.get(callback), { status: 400, body: /state used/ }, 'at A');
  lb.pick = () => b.url;
  t.match(await browser.get(callback), { status: 400, body: /state used/ }, 'at B');
  const cookie = browser.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
  const direct = await request(new URL(new URL(callback).search, `${b.url}/bitrix24/oauth/callback`), {
    headers: { cookie },
  });
  t.equal(direct.statusCode, 400);
  t.match(await direct.body.text(), /state used/, 'at B, directly');
  t.equal(s.portal.journal.entries.length, seen, 'no second code exchange, nothing sent');

  // a state B made is used once at A even when two callbacks race to the two instances
  const racer = new Browser();
  lb.pick = (path) => (path.startsWith('/bitrix24/connect') ? b.url : a.url);
  const back = (await racer.get(`${lb.url}/bitrix24/connect`, 1)).url; // stops at the portal's redirect
  const jar = racer.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
  const at = (base: string) =>
    request(new URL(new URL(back).search, `${base}/bitrix24/oauth/callback`), { headers: { cookie: jar } }).then(
      async (res) => ({ status: res.statusCode, body: await res.body.text() }),
    );
  const both = await Promise.all([at(a.url), at(b.url)]);
  t.same(both.map((x) => x.status).sort(), [200, 400], 'one connects');
  t.match(both.find((x) => x.status === 400)?.body, /state used/, 'the other finds the state used');

  // the state and the code were never logged, by either instance
  const text = logs.text();
  t.ok(text.length > 0, 'both logged at trace');
  for (const visited of [callback, back]) {
    const q = new URL(visited).searchParams;
    t.notOk(text.includes(q.get('state')!), 'the state never logged');
    t.notOk(text.includes(q.get('code')!), 'the code never logged');
  }
});
