/**
 * The events of one read of the event socket: their effects go to the portals together (one
 * outbox write), in the order of the events, and before anything the switch does next.
 */
import t from 'tap';
import { SwitchUnit } from '../../../lib/switch/unit.js';
import { defaultModelConfig, CallModel } from '../../../lib/calls/model.js';
import { toChannelEvent } from '../../../lib/events/channel-event.js';
import type { Effect } from '../../../lib/calls/effects.js';
import { ManualClock } from '../../../lib/clock.js';
import { createLogger } from '../../../lib/log.js';
import { fixtureEvents } from '../../helpers/fixtures.js';

function unit(): { sw: SwitchUnit; sunk: Effect[][] } {
  const sunk: Effect[][] = [];
  const sw = new SwitchUnit(
    { name: 'fs1', host: '127.0.0.1', port: 1, password: 'x', model: defaultModelConfig, recordVariables: [] },
    { sink: (effects) => sunk.push(effects), orphans: () => new Map() },
    new ManualClock(),
    createLogger('silent'),
  );
  return { sw, sunk };
}

/** What a model fed the same events one by one makes of them (the order each portal must keep). */
function oneByOne(events: ReturnType<typeof fixtureEvents>): string[] {
  const model = new CallModel(defaultModelConfig);
  const out: string[] = [];
  for (const e of events) {
    const ce = toChannelEvent(e);
    if (ce) for (const x of model.apply(ce)) out.push(`${x.kind} ${x.call}`);
  }
  return out;
}

t.test('the effects of one read are sunk once, in the order of its events', async (t) => {
  const events = fixtureEvents('inbound-ringgroup-answered.json.txt');
  const { sw, sunk } = unit();
  // a read of the socket hands its events over one after the other, in one turn
  for (const e of events) sw.listener.emit('event', e);
  t.same(sunk, [], 'nothing sunk while the read is handled');
  await Promise.resolve();
  t.equal(sunk.length, 1, 'one hand-over for the whole read');
  const expected = oneByOne(events);
  t.ok(expected.length > 1, 'the call makes several effects');
  t.same(
    sunk.flat().map((x) => `${x.kind} ${x.call}`),
    expected,
    'the effects of every event, in order',
  );
});

t.test('a stop hands over what the read made before the socket closes', async (t) => {
  const events = fixtureEvents('outbound-answered.json.txt');
  const { sw, sunk } = unit();
  for (const e of events) sw.listener.emit('event', e);
  sw.stop();
  t.same(
    sunk.flat().map((x) => `${x.kind} ${x.call}`),
    oneByOne(events),
    'sunk at the stop, not lost',
  );
  await Promise.resolve();
  t.equal(sunk.length, 1, 'and not a second time');
});
