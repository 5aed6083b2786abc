/**
 * The connection opened ahead of a call's register (lib/bitrix24/spare.ts) against the emulated
 * portal: it sends nothing, the next request goes over it; one the portal closed is forgotten;
 * none is opened while the pool holds a connection; an unused one closes with the client.
 */
import t from 'tap';
import { once } from 'node:events';
import { setTimeout as timeout } from 'node:timers/promises';
import type { Socket } from 'node:net';
import { startBitrix24Emulator } from '../../../lib/sim/bitrix24/index.js';
import { createLogger } from '../../../lib/log.js';
import { installedClient } from '../../helpers/tokens.js';

async function setup(t: { teardown: (f: () => unknown) => void }) {
  const emu = await startBitrix24Emulator();
  emu.state.addUser({ ID: 1, UF_PHONE_INNER: '1001' });
  const { client } = await installedClient(emu, createLogger('silent'));
  t.teardown(async () => {
    await client.close();
    await emu.close();
  });
  const opened: Socket[] = [];
  const used = new Set<Socket>();
  emu.app_.server.on('connection', (c: Socket) => opened.push(c));
  emu.app_.server.on('request', (req: { socket: Socket }) => used.add(req.socket));
  const connection = (): Promise<[Socket]> =>
    once(emu.app_.server, 'connection', { signal: AbortSignal.timeout(5000) }) as Promise<[Socket]>;
  return { emu, client, opened, used, connection };
}

t.test('opened ahead: no request on it; the next request goes over it', async (t) => {
  const { emu, client, opened, used, connection } = await setup(t);
  const connected = connection();
  client.preconnect();
  await connected;
  t.equal(emu.journal.entries.length, 0, 'nothing sent');
  t.equal(used.size, 0);
  await client.call('user.get');
  t.equal(opened.length, 1, 'one connection in all');
  t.ok(used.has(opened[0]!), 'the request went over it');
  t.same(client.spare.counts, { opened: 1, used: 1 });
  client.preconnect();
  t.same(client.spare.counts, { opened: 1, used: 1 }, 'none opened ahead while the pool holds one');
});

t.test('one the portal closed is forgotten: the request opens its own', async (t) => {
  const { emu, client, opened, used, connection } = await setup(t);
  const connected = connection();
  client.preconnect();
  const [server] = await connected;
  const gone = client.spare.gone();
  server.destroy();
  // the client saw it close (within a deadline)
  await Promise.race([gone, timeout(5000, null, { ref: false }).then(() => Promise.reject(new Error('not gone')))]);
  await client.call('user.get');
  t.equal(emu.journal.entries.filter((r) => r.status === 200).length, 1, 'the request landed');
  t.equal(opened.length, 2);
  t.ok(used.has(opened[1]!) && !used.has(opened[0]!), 'over a new connection');
  t.same(client.spare.counts, { opened: 1, used: 0 });
});

t.test('unused, it closes with the client', async (t) => {
  const { emu, client, connection } = await setup(t);
  const connected = connection();
  client.preconnect();
  const [server] = await connected;
  const closed = once(server, 'close', { signal: AbortSignal.timeout(5000) });
  await client.close();
  await closed;
  t.equal(emu.journal.entries.length, 0, 'nothing was ever sent');
});
