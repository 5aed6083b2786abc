/**
 * A call's CDRs replayed into the call model (lib/cdr/replay.ts): the effects a back-filled call
 * gets, and the proof that they are the live model's own — the same scenario captured on the event
 * socket (fixtures/esl) and as CDRs (fixtures/cdr) ends with the same finish.
 */
import t from 'tap';
import { parseCdrBody, type CdrLeg } from '../../../lib/cdr/parse.js';
import { eventsOf, replay } from '../../../lib/cdr/replay.js';
import { CallModel, defaultModelConfig } from '../../../lib/calls/model.js';
import { toChannelEvent } from '../../../lib/events/channel-event.js';
import type { Effect } from '../../../lib/calls/effects.js';
import { cdrCall } from '../../helpers/cdr.js';
import { fixtureEvents } from '../../helpers/fixtures.js';

const legsOf = (call: string): CdrLeg[] => cdrCall(call).map((c) => parseCdrBody(c.body, c.contentType));
const aOf = (legs: CdrLeg[]): string => (legs.find((l) => l.originator === null) as CdrLeg).uuid;

t.test(
  'inbound answered: registered for who answered, at the real start; 200 with billsec; its recording',
  async (t) => {
    const legs = legsOf('inbound-answered');
    const call = aOf(legs);
    t.same(replay(legs, call, defaultModelConfig).effects, [
      {
        kind: 'register',
        call,
        externalCallId: call,
        type: 2,
        extension: '1001',
        phone: '+79161234567',
        line: '4951234567',
        startIso: '2026-12-02T00:39:20+00:00', // start_uepoch 1796171960600656
        show: false,
        crmCreate: true,
      },
      {
        kind: 'finish',
        call,
        direction: 'incoming',
        extension: '1001',
        candidates: ['1001', '1002'],
        duration: 5,
        status: '200',
        addToChat: true,
      },
      { kind: 'attach', call, path: `/var/lib/freeswitch/recordings/${call}.wav` },
    ]);
  },
);

t.test('inbound missed, outbound answered and busy', async (t) => {
  const pick = (effects: Effect[]): unknown[] =>
    effects.map((e) =>
      e.kind === 'register'
        ? { kind: e.kind, type: e.type, extension: e.extension, phone: e.phone, line: e.line, start: e.startIso }
        : e.kind === 'finish'
          ? { kind: e.kind, extension: e.extension, candidates: e.candidates, duration: e.duration, status: e.status }
          : { kind: e.kind },
    );
  const missed = legsOf('inbound-missed');
  t.same(pick(replay(missed, aOf(missed), defaultModelConfig).effects), [
    {
      kind: 'register',
      type: 2,
      extension: '1001',
      phone: '+79161234567',
      line: '4951234567',
      start: '2026-12-02T00:39:10+00:00',
    },
    { kind: 'finish', extension: null, candidates: ['1001', '1002'], duration: 0, status: '304' },
    { kind: 'attach' }, // a missed call is recorded too (fixtures/cdr/README.md), and live attaches it
  ]);
  const out = legsOf('outbound-answered');
  t.match(pick(replay(out, aOf(out), defaultModelConfig).effects), [
    { kind: 'register', type: 1, extension: '1003', phone: '79161234567', line: '4951234567' },
    { kind: 'finish', extension: '1003', duration: 5, status: '200' },
  ]);
  const busy = legsOf('outbound-busy');
  t.same(pick(replay(busy, aOf(busy), defaultModelConfig).effects).slice(1), [
    { kind: 'finish', extension: '1003', candidates: ['1003'], duration: 0, status: '486' },
  ]);
});

t.test("the service's call settings apply as live: lines, gateway lines, number rules", async (t) => {
  const cfg = {
    ...defaultModelConfig,
    lines: { '4951234567': 'main' },
    gatewayLines: { pstn: 'trunk-line' },
    numberRules: [{ match: '^7(\\d{10})$', replace: '+7$1' }],
  };
  const inbound = legsOf('inbound-answered');
  t.match(replay(inbound, aOf(inbound), cfg).effects[0], { line: 'main' });
  const out = legsOf('outbound-answered');
  t.match(replay(out, aOf(out), cfg).effects[0], { line: 'trunk-line', phone: '+79161234567' });
});

t.test('the legs become the events the switch sends, in its order', async (t) => {
  const legs = legsOf('inbound-answered');
  const evs = eventsOf(legs, aOf(legs));
  t.equal(evs[0]?.name, 'CHANNEL_CREATE');
  t.equal(evs[0]?.uuid, aOf(legs), 'the A leg first');
  t.same(
    evs.filter((e) => e.name === 'CHANNEL_BRIDGE').map((e) => [e.bridgeA, e.bridgeB]),
    [[aOf(legs), 'a7e55b86-d1f2-41c8-817d-9e0cbbe848bc']],
  );
  const times = evs.map((e) => e.atUs);
  t.same(
    times,
    [...times].sort((a, b) => a - b),
    'in time order',
  );
  t.equal(evs.at(-1)?.name, 'CHANNEL_DESTROY');
});

/** The live model on an ESL capture: its register and finish, ids and times left out. */
function live(name: string): Effect[] {
  const m = new CallModel();
  const out: Effect[] = [];
  for (const e of fixtureEvents(name)) {
    const ce = toChannelEvent(e);
    if (ce) out.push(...m.apply(ce));
  }
  return out;
}

const gist = (effects: Effect[]): unknown => {
  const reg = effects.find((e) => e.kind === 'register');
  const fin = effects.find((e) => e.kind === 'finish');
  return {
    register: reg?.kind === 'register' ? { type: reg.type, phone: reg.phone, line: reg.line } : null,
    // each capture's own talk time (billsec 4 in the ESL capture, 5 in the CDR one): asserted above
    finish: fin?.kind === 'finish' ? { ...fin, call: 'C', duration: fin.duration > 0 } : null,
    attached: effects.filter((e) => e.kind === 'attach').length,
  };
};

t.test('one classifier: the same scenario live (event socket) and back-filled (CDRs) ends the same', async (t) => {
  const pairs: Array<[string, string]> = [
    ['inbound-ringgroup-answered.json.txt', 'inbound-answered'],
    ['inbound-ringgroup-missed.json.txt', 'inbound-missed'],
    ['outbound-answered.json.txt', 'outbound-answered'],
    ['outbound-busy.json.txt', 'outbound-busy'],
  ];
  for (const [esl, cdr] of pairs) {
    const legs = legsOf(cdr);
    t.same(gist(replay(legs, aOf(legs), defaultModelConfig).effects), gist(live(esl)), `${esl} ~ ${cdr}`);
  }
});
