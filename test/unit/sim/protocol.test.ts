/**
 * The simulator's event socket as mod_event_socket answers (freeswitch-esl.md §1.2-§1.4,
 * replies as in fixtures/esl): raw bytes in, exact replies out.
 */
import t from 'tap';
import net from 'node:net';
import { startFreeswitchSim } from '../../../lib/sim/freeswitch/index.js';
import { FrameParser, frameHeader, type Frame } from '../../../lib/esl/frame.js';
import { decodeJsonEvent } from '../../../lib/esl/codec.js';
import { killLeg } from '../../../lib/sim/freeswitch/index.js';

/** A raw connection: send a command block, await the next frame. */
async function raw(port: number): Promise<{
  send: (block: string) => void;
  next: () => Promise<Frame>;
  reply: (cmd: string) => Promise<string | undefined>;
  closed: Promise<void>;
  end: () => void;
}> {
  const sock = net.connect({ port, host: '127.0.0.1' });
  const parser = new FrameParser();
  const queue: Frame[] = [];
  const waiters: Array<(f: Frame) => void> = [];
  sock.on('data', (c) => {
    for (const f of parser.push(c)) {
      const w = waiters.shift();
      if (w) w(f);
      else queue.push(f);
    }
  });
  const closed = new Promise<void>((r) => sock.on('close', () => r()));
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const next = (): Promise<Frame> =>
    queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r));
  return {
    send: (block) => sock.write(block),
    next,
    /** Send one command and read the Reply-Text of the frame that answers it. */
    reply: async (cmd) => {
      sock.write(`${cmd}\n\n`);
      return frameHeader(await next(), 'Reply-Text');
    },
    closed,
    end: () => sock.destroy(),
  };
}

const text = (f: Frame): string | undefined => frameHeader(f, 'Reply-Text');

/** A raw connection past the greeting and `auth ClueCon`. */
async function authed(
  t: { teardown: (f: () => unknown) => void },
  port: number,
): Promise<Awaited<ReturnType<typeof raw>>> {
  const c = await raw(port);
  t.teardown(() => c.end());
  await c.next();
  c.send('auth ClueCon\n\n');
  await c.next();
  return c;
}

t.test('greeting, auth, unauthenticated commands, exit with the disconnect notice', async (t) => {
  const sim = await startFreeswitchSim();
  t.teardown(() => sim.close());
  const c = await raw(sim.port);
  t.equal(frameHeader(await c.next(), 'Content-Type'), 'auth/request');
  t.equal(await c.reply('api status'), '-ERR command not found');
  t.equal(await c.reply('auth ClueCon'), '+OK accepted');
  t.equal(await c.reply('exit'), '+OK bye');
  const notice = await c.next();
  t.equal(frameHeader(notice, 'Content-Type'), 'text/disconnect-notice');
  t.equal(notice.body?.toString(), 'Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n');
  await c.closed;
  const bad = await raw(sim.port);
  await bad.next();
  bad.send('auth nope\n\n');
  t.equal(text(await bad.next()), '-ERR invalid');
  t.equal(frameHeader(await bad.next(), 'Content-Type'), 'text/disconnect-notice');
  await bad.closed;
});

t.test('event, filter, nixevent, noevents; bgapi with our Job-UUID; api replies', async (t) => {
  const sim = await startFreeswitchSim();
  t.teardown(() => sim.close());
  const c = await authed(t, sim.port);
  t.equal(await c.reply('event json'), '-ERR no keywords supplied');
  t.equal(
    await c.reply('event json CHANNEL_CREATE BACKGROUND_JOB CUSTOM sofia::register'),
    '+OK event listener enabled json',
  );
  t.equal(await c.reply('filter Event-Name'), '-ERR invalid syntax');
  t.equal(
    await c.reply('filter Event-Subclass sofia::register'),
    '+OK filter added. [Event-Subclass]=[sofia::register]',
  );
  sim.sw.register('1001');
  const reg = await c.next();
  t.equal(frameHeader(reg, 'Content-Type'), 'text/event-json');
  t.equal(decodeJsonEvent(reg.body!).get('Event-Subclass'), 'sofia::register');
  t.equal(await c.reply('filter delete Event-Subclass'), '+OK filter deleted. [Event-Subclass][]');
  c.send('bgapi status\nJob-UUID: 2b6e4f1a-9c3d-4e5f-8a7b-6c5d4e3f2a10\n\n');
  const reply = await c.next();
  t.equal(text(reply), '+OK Job-UUID: 2b6e4f1a-9c3d-4e5f-8a7b-6c5d4e3f2a10');
  t.equal(frameHeader(reply, 'Job-UUID'), '2b6e4f1a-9c3d-4e5f-8a7b-6c5d4e3f2a10');
  const job = decodeJsonEvent((await c.next()).body!);
  t.equal(job.name, 'BACKGROUND_JOB');
  t.equal(job.get('Job-UUID'), '2b6e4f1a-9c3d-4e5f-8a7b-6c5d4e3f2a10');
  t.equal(job.get('Job-Command'), 'status');
  t.match(job.body, /^UP /);
  c.send('api show channels as json\n\n');
  const empty = await c.next();
  t.equal(frameHeader(empty, 'Content-Type'), 'api/response');
  t.equal(empty.body?.toString(), '{"row_count": 0}\n');
  c.send('api uuid_kill 7ac6494e-4913-45c8-94bf-2b3521d7637c\n\n');
  t.equal((await c.next()).body?.toString(), '-ERR No such channel!\n');
  t.equal(await c.reply('nixevent'), '-ERR no keywords supplied');
  t.equal(await c.reply('nixevent CHANNEL_CREATE'), '+OK events nixed');
  t.equal(await c.reply('noevents'), '+OK no longer listening for events');
  t.equal(await c.reply('noevents'), '-ERR not listening for events');
  t.equal(await c.reply('frobnicate'), '-ERR command not found');
});

t.test('live channels: show channels / calls, uuid_getvar / setvar, uuid_kill ends the call', async (t) => {
  const sim = await startFreeswitchSim();
  t.teardown(() => sim.close());
  const c = await authed(t, sim.port);
  const sw = sim.sw;
  const a = sw.trunkInbound('+79161234567', '4951234567');
  sw.create(a);
  const b = sw.userOutbound('1001', a);
  sw.create(b);
  sw.answer(b);
  sw.answer(a);
  sw.bridge(a, b);
  const api = async (cmd: string): Promise<string> => {
    c.send(`api ${cmd}\n\n`);
    return (await c.next()).body?.toString() ?? '';
  };
  const channels = JSON.parse(await api('show channels as json')) as {
    row_count: number;
    rows: Array<Record<string, string>>;
  };
  t.equal(channels.row_count, 2);
  t.match(channels.rows[0], {
    uuid: a.uuid,
    direction: 'inbound',
    callstate: 'ACTIVE',
    dest: '4951234567',
    cid_num: '+79161234567',
  });
  const calls = JSON.parse(await api('show calls as json')) as {
    row_count: number;
    rows: Array<Record<string, string>>;
  };
  t.equal(calls.row_count, 1);
  t.match(calls.rows[0], { uuid: a.uuid, b_uuid: b.uuid, b_presence_id: '1001@127.0.0.1' });
  t.equal(await api(`uuid_setvar ${a.uuid} b24_test 42`), '+OK\n');
  t.equal(await api(`uuid_getvar ${a.uuid} b24_test`), '42');
  t.equal(await api(`uuid_getvar ${a.uuid} nothing_here`), '_undef_');
  t.equal(await api(`uuid_exists ${b.uuid}`), 'true');
  t.match(await api('sofia status profile internal reg'), /User:\s+\t1001@127\.0\.0\.1/);
  const gone = new Promise<void>((r) =>
    sw.subscribe(
      (e) =>
        e.headers[0]?.[1] === 'CHANNEL_DESTROY' && e.headers.some(([k, v]) => k === 'Unique-ID' && v === a.uuid) && r(),
    ),
  );
  killLeg(sw, a, 'NORMAL_CLEARING');
  await gone;
  t.equal(await api('show calls as json'), '{"row_count": 0}\n');
});

t.test('uuid_transfer sends the caller to another extension (a blind transfer)', async (t) => {
  const { inboundCall } = await import('../../../lib/sim/freeswitch/index.js');
  const { runApi } = await import('../../../lib/sim/freeswitch/api.js');
  const sim = await startFreeswitchSim({ recordingsDir: '/tmp/fsb24-xfer' });
  t.teardown(() => sim.close());
  const sw = sim.sw;
  sw.setExtension('1001', { ringMs: 1000 });
  const names: string[] = [];
  let firstBridge: () => void = () => undefined;
  const bridgedOnce = new Promise<void>((r) => (firstBridge = r));
  const bridged = new Promise<void>((resolve) =>
    sw.subscribe((e) => {
      const get = (h: string) => e.headers.find(([k]) => k === h)?.[1];
      names.push(`${get('Event-Name')}:${get('Caller-Destination-Number')}`);
      const bridges = names.filter((n) => n.startsWith('CHANNEL_BRIDGE')).length;
      if (get('Event-Name') === 'CHANNEL_BRIDGE' && bridges === 1) firstBridge();
      if (get('Event-Name') === 'CHANNEL_BRIDGE' && bridges === 2) resolve();
    }),
  );
  const call = inboundCall(sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001'],
    talkMs: -1,
    record: false,
  });
  await bridgedOnce;
  const a = [...sw.legs.values()].find((l) => l.init.direction === 'inbound')!;
  t.equal(await runApi({ sw }, `uuid_transfer ${a.uuid} 1003 XML default`), '+OK\n');
  t.equal(await runApi({ sw }, 'uuid_transfer 7ac6494e-4913-45c8-94bf-2b3521d7637c 1003'), '-ERR No such channel!\n');
  await bridged;
  t.ok(names.includes('CHANNEL_CREATE:1003'), 'the target rang');
  void call;
});
