/**
 * The card policy (lib/calls/cards.ts): the decision table, then the model asking it, events
 * in and effects out, for each policy and each kind of call.
 */
import t from 'tap';
import { cardStep, originOf, wantsCard, type CardMoment, type CardOrigin } from '../../../lib/calls/cards.js';
import type { CardPolicy } from '../../../lib/calls/config.js';
import type { Effect } from '../../../lib/calls/effects.js';
import type { ModelConfig } from '../../../lib/calls/model.js';
import type { SimSwitch } from '../../../lib/sim/freeswitch/index.js';
import { modelOn } from '../../helpers/model.js';

t.test('the decision table: policy × origin × moment → visible, hidden or left alone', async (t) => {
  // [moment, origin, ring, answer, never]
  type Want = boolean | null;
  const table: Array<[CardMoment, CardOrigin, Want, Want, Want]> = [
    ['rings', 'incoming', true, null, false],
    ['rings', 'placed', true, null, false],
    ['rings', 'dialled', true, null, false],
    ['rings', 'internal', false, false, false],
    ['answers', 'incoming', true, true, false],
    ['answers', 'placed', null, true, false],
    ['answers', 'dialled', null, null, false],
    ['answers', 'internal', false, false, false],
    ['taken', 'incoming', false, false, false],
    ['stops', 'incoming', false, false, false],
    ['assigned', 'incoming', null, null, false],
    ['assigned', 'dialled', null, null, false],
  ];
  const policies: CardPolicy[] = ['ring', 'answer', 'never'];
  for (const [moment, origin, ...wants] of table) {
    policies.forEach((p, i) => t.equal(wantsCard(p, origin, moment), wants[i], `${p}: ${origin} ${moment}`));
  }
});

t.test('a phone that stops ringing hides the card only when nothing else keeps it', async (t) => {
  const none = { talking: false, ringingElsewhere: false, callerGone: false };
  t.equal(wantsCard('ring', 'incoming', 'stops', none), false, 'lost the race: hidden');
  t.equal(wantsCard('ring', 'incoming', 'stops', { ...none, talking: true }), null, 'they talk on another leg');
  t.equal(
    wantsCard('ring', 'incoming', 'stops', { ...none, ringingElsewhere: true }),
    null,
    'another phone of theirs rings',
  );
  t.equal(wantsCard('ring', 'incoming', 'stops', { ...none, callerGone: true }), null, 'the finish closes the cards');
});

t.test('steps and origins', async (t) => {
  const steps: Array<[boolean, boolean | null, 'show' | 'hide' | null]> = [
    [false, true, 'show'],
    [true, true, null],
    [true, false, 'hide'],
    [false, false, null],
    [true, null, null],
    [false, null, null],
  ];
  for (const [shown, want, step] of steps) t.equal(cardStep(shown, want), step, `shown ${shown}, wanted ${want}`);
  t.equal(originOf({ kind: 'inbound', b24CallId: null }), 'incoming');
  t.equal(originOf({ kind: 'outbound', b24CallId: 'CID' }), 'placed');
  t.equal(originOf({ kind: 'outbound', b24CallId: null }), 'dialled');
  t.equal(originOf({ kind: 'pending', b24CallId: null }), 'dialled');
  t.equal(originOf({ kind: 'internal', b24CallId: null }), 'internal');
});

const CLIENT = '+79161234567';

/** Effects as `kind ext,ext` (register: `register show` or `register`), with step marks between them. */
function traced(cfg: Partial<ModelConfig>): {
  sw: SimSwitch;
  mark: (m: string) => void;
  trace: string[];
  tick: (us: number) => void;
} {
  const { sw, model, effects } = modelOn(cfg);
  const trace: string[] = [];
  const flush = (): void => {
    for (const e of effects.splice(0) as Effect[]) {
      if (e.kind === 'register') trace.push(e.show ? `register show ${e.extension ?? ''}` : 'register');
      else if (e.kind === 'show' || e.kind === 'hide') trace.push(`${e.kind} ${e.extensions.join(',')}`);
      else trace.push(e.kind);
    }
  };
  return {
    sw,
    trace,
    mark: (m) => {
      flush();
      trace.push(`| ${m}`);
    },
    tick: (us) => {
      effects.push(...model.tick(us));
      flush();
    },
  };
}

type Scenario = (s: ReturnType<typeof traced>) => void;

const scenarios: Record<string, Scenario> = {
  /** 1001 and 1002 ring, 1002 answers, 1001 loses the race, then the call ends. */
  'incoming ring group': ({ sw, mark }) => {
    const a = sw.trunkInbound(CLIENT, '4951234567');
    sw.create(a);
    const b1 = sw.userOutbound('1001', a);
    const b2 = sw.userOutbound('1002', a);
    sw.create(b1);
    sw.create(b2);
    mark('ringing');
    sw.answer(b2);
    sw.hangup(b1, 'LOSE_RACE', { disposition: 'send_cancel' });
    sw.complete(b1);
    mark('lost');
    sw.answer(a);
    sw.bridge(a, b2);
    mark('bridged');
    sw.hangup(a, 'NORMAL_CLEARING', { sipTermStatus: '200', disposition: 'recv_bye' });
    sw.hangup(b2, 'NORMAL_CLEARING', { disposition: 'send_bye' });
    sw.complete(b2);
    sw.complete(a);
  },
  /** Both phones ring; the caller hangs up first. */
  'incoming, the caller gives up': ({ sw, mark }) => {
    const a = sw.trunkInbound(CLIENT, '4951234567');
    sw.create(a);
    const b1 = sw.userOutbound('1001', a);
    const b2 = sw.userOutbound('1002', a);
    sw.create(b1);
    sw.create(b2);
    mark('ringing');
    sw.hangup(a, 'ORIGINATOR_CANCEL', { sipTermStatus: '487', disposition: 'recv_cancel' });
    for (const b of [b1, b2]) sw.hangup(b, 'ORIGINATOR_CANCEL', { disposition: 'send_cancel' });
    sw.complete(b1);
    sw.complete(b2);
    sw.complete(a);
  },
  /** 1001 dials the client from the phone; the client answers. */
  'dialled from the phone': ({ sw, mark }) => {
    const a = sw.extensionInbound('1001', CLIENT);
    sw.create(a);
    const b = sw.gatewayOutbound(CLIENT, a);
    sw.create(b);
    mark('ringing');
    sw.answer(b);
    sw.answer(a);
    sw.bridge(a, b);
    mark('bridged');
    sw.hangup(a, 'NORMAL_CLEARING', { disposition: 'recv_bye' });
    sw.hangup(b, 'NORMAL_CLEARING', { disposition: 'send_bye' });
    sw.complete(b);
    sw.complete(a);
  },
  /** Click-to-call: 1001's phone rings first, they pick up, then the client's phone rings and answers. */
  'placed by Bitrix24': ({ sw, mark }) => {
    const a = sw.userOutbound('1001', null, {
      vars: [
        ['b24_call_id', 'CID'],
        ['b24_client', CLIENT],
      ],
    });
    sw.create(a);
    mark('ringing');
    sw.answer(a);
    mark('picked up');
    const b = sw.gatewayOutbound(CLIENT, a);
    sw.create(b);
    sw.answer(b);
    sw.bridge(a, b);
    mark('bridged');
    sw.hangup(a, 'NORMAL_CLEARING', { disposition: 'send_bye' });
    sw.hangup(b, 'NORMAL_CLEARING', { disposition: 'recv_bye' });
    sw.complete(b);
    sw.complete(a);
  },
  /** An IVR nobody leaves: registered when the hold runs out, for nobody. */
  'incoming held in the IVR': ({ sw, mark, tick }) => {
    const a = sw.trunkInbound(CLIENT, '4951234567');
    sw.create(a);
    sw.answer(a);
    mark('held');
    tick(sw.nowUs() + 1_000_000);
  },
};

t.test('the model asks the policy: effects per scenario and policy', async (t) => {
  const rows: Array<[string, Partial<ModelConfig>, string[]]> = [
    [
      'incoming ring group',
      { cardPolicy: 'ring' },
      ['register show 1001', 'show 1002', '| ringing', 'hide 1001', '| lost', 'connected', '| bridged', 'finish'],
    ],
    [
      'incoming ring group',
      { cardPolicy: 'answer' },
      ['register', '| ringing', '| lost', 'show 1002', 'connected', '| bridged', 'finish'],
    ],
    [
      'incoming ring group',
      { cardPolicy: 'never' },
      ['register', '| ringing', '| lost', 'connected', '| bridged', 'finish'],
    ],
    [
      'incoming ring group',
      { cardPolicyByExtension: { '1001': 'never' } },
      ['register', 'show 1002', '| ringing', '| lost', 'connected', '| bridged', 'finish'],
    ],
    [
      'incoming ring group',
      { cardPolicyByExtension: { '1002': 'answer' } },
      ['register show 1001', '| ringing', 'hide 1001', '| lost', 'show 1002', 'connected', '| bridged', 'finish'],
    ],
    [
      'incoming, the caller gives up',
      { cardPolicy: 'ring' },
      ['register show 1001', 'show 1002', '| ringing', 'finish'],
    ],
    [
      'dialled from the phone',
      { cardPolicy: 'ring' },
      ['register show 1001', '| ringing', 'connected', '| bridged', 'finish'],
    ],
    ['dialled from the phone', { cardPolicy: 'answer' }, ['register', '| ringing', 'connected', '| bridged', 'finish']],
    ['dialled from the phone', { cardPolicy: 'never' }, ['register', '| ringing', 'connected', '| bridged', 'finish']],
    [
      'placed by Bitrix24',
      { cardPolicy: 'ring' },
      ['adopt', 'show 1001', '| ringing', '| picked up', 'connected', '| bridged', 'finish'],
    ],
    [
      'placed by Bitrix24',
      { cardPolicy: 'answer' },
      ['adopt', '| ringing', 'show 1001', '| picked up', 'connected', '| bridged', 'finish'],
    ],
    [
      'placed by Bitrix24',
      { cardPolicy: 'never' },
      ['adopt', '| ringing', '| picked up', 'connected', '| bridged', 'finish'],
    ],
    ['incoming held in the IVR', { cardPolicy: 'ring', registerHoldMs: 300 }, ['| held', 'register']],
  ];
  for (const [name, cfg, expected] of rows) {
    const s = traced(cfg);
    scenarios[name]!(s);
    s.mark('end');
    t.same(s.trace, [...expected, '| end'], `${name}, ${JSON.stringify(cfg)}`);
  }
});
