/**
 * The first call after a start (issue 12, unloaded card latency): the service rehearses a
 * captured call at start without a trace anywhere (no request to the portal, no command to
 * the switch, nothing stored or counted), and a call that starts while no connection to the
 * portal is open opens one ahead, over which its register then goes.
 */
import t from 'tap';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { stack } from '../helpers/stack.js';
import { createLogger } from '../../lib/log.js';
import type { PortalRequest } from '../../lib/sim/bitrix24/index.js';

const register = (r: PortalRequest): boolean => r.method === 'telephony.externalcall.register' && r.status === 200;

t.test(
  'a start rehearses a call: nothing reaches the portal or the switch, nothing is stored or counted',
  async (t) => {
    const lines: string[] = [];
    const log = createLogger('debug', { destination: { write: (l: string) => void lines.push(l) } });
    const s = await stack(t, { log });
    await s.stopService();
    lines.length = 0;
    const [requests, commands] = [s.portal.journal.entries.length, s.sim.commands.entries.length];
    const svc = await s.restartService();
    const warmed = lines
      .map((l) => JSON.parse(l) as { msg: string; ms?: number })
      .find((l) => l.msg.startsWith('call path'));
    t.type(warmed?.ms, 'number', 'the start rehearsed the call path');
    // the start's own requests: the directory (the stack loads it once more)
    t.same(
      [...new Set(s.portal.journal.entries.slice(requests).map((r) => r.method))],
      ['user.get'],
      'no telephony request, no batch',
    );
    t.same(
      s.sim.commands.entries.slice(commands).map((c) => c.line.split(' ').slice(0, 2).join(' ')),
      ['auth ClueCon', 'event json', 'api show', 'api show'],
      'the connect only: no originate, no uuid_* command',
    );
    t.match(await svc.store.stats(), { pending: 0, failed: 0, done: 0 }, 'no job stored');
    t.equal(svc.switch.model.liveCalls, 0, 'no call in the model');
    t.notMatch(await svc.metrics.registry.metrics(), /fsb24_calls_total\{/, 'no call counted');
    // the first real call after it is registered as itself, once
    const sw = s.sim.sw;
    const a = sw.trunkInbound('+79161234567', '4951234567');
    sw.create(a);
    sw.create(sw.userOutbound('1001', a));
    const reg = await s.portal.journal.next(register);
    t.match(reg.params, { EXTERNAL_CALL_ID: a.uuid, USER_ID: 11, PHONE_NUMBER: '+79161234567', TYPE: 2 });
    t.equal(s.portal.journal.entries.filter(register).length, 1, 'one register');
  },
);

t.test(
  'a call starting while no connection to the portal is open: one opens ahead, the register goes over it',
  async (t) => {
    // the register waits for a phone to ring (no hold timer runs out meanwhile)
    const s = await stack(t, { config: { 'calls.registerHoldMs': 600_000 } });
    const client = s.service.portal.client;
    await client.close(); // the pool's idle connection is gone, as after a quiet minute
    const server = s.portal.app_.server;
    const opened: Socket[] = [];
    const used = new Set<Socket>();
    server.on('connection', (c: Socket) => opened.push(c));
    server.on('request', (req: { socket: Socket }) => used.add(req.socket));
    const before = s.portal.journal.entries.length;
    const sw = s.sim.sw;
    const a = sw.trunkInbound('+79161234567', '4951234567');
    const connected = once(server, 'connection', { signal: AbortSignal.timeout(5000) });
    sw.create(a);
    await connected;
    t.equal(opened.length, 1, 'a connection opened at the trunk leg');
    t.equal(s.portal.journal.entries.length, before, 'no request on it yet');
    t.same(client.spare.counts, { opened: 1, used: 0 });
    sw.create(sw.userOutbound('1001', a));
    const reg = await s.portal.journal.next(register);
    t.equal(reg.params.EXTERNAL_CALL_ID, a.uuid);
    t.equal(opened.length, 1, 'no other connection opened');
    t.ok(used.has(opened[0]!), 'the register went over the connection opened ahead');
    t.same(client.spare.counts, { opened: 1, used: 1 });
    // a call starting now, with that connection open, opens none ahead
    const b = sw.trunkInbound('+79161234568', '4951234567');
    sw.create(b);
    sw.create(sw.userOutbound('1002', b));
    t.equal((await s.portal.journal.next(register)).params.EXTERNAL_CALL_ID, b.uuid);
    t.same(client.spare.counts, { opened: 1, used: 1 }, 'none opened ahead: the pool had its connection');
  },
);
