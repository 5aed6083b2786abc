/** A restart mid-call: the switch's tables, as the ESL layer hands them over, rebuild the call. */
import t from 'tap';
import { synthesize } from '../../../lib/calls/resync.js';
import { CallModel, defaultModelConfig } from '../../../lib/calls/model.js';
import type { Snapshot } from '../../../lib/esl/listener.js';

const row = (uuid: string, o: Partial<Snapshot['channels'][number]>): Snapshot['channels'][number] => ({
  uuid,
  direction: 'inbound',
  name: '',
  cid_num: '',
  dest: '',
  callstate: 'ACTIVE',
  call_uuid: uuid,
  created_epoch: '1741953600',
  presence_id: '',
  ...o,
});

const nothing = { placed: () => false, knowsBridge: () => false };

t.test(
  'a bridged incoming call the model did not know: registered for the employee, connected since the bridge',
  async (t) => {
    const trunk = row('a-leg', {
      name: 'sofia/external/+79161234567@203.0.113.5',
      cid_num: '+79161234567',
      dest: '4951234567',
    });
    const phone = row('b-leg', {
      direction: 'outbound',
      name: 'sofia/internal/1001@192.0.2.10',
      cid_num: '+79161234567',
      dest: '1001',
      call_uuid: 'a-leg',
      created_epoch: '1741953601',
      presence_id: '1001@pbx.example',
    });
    // the ESL layer's snapshot is what synthesize takes: no mapping at the caller
    const snap: Snapshot = {
      channels: [phone, trunk],
      calls: [{ uuid: 'a-leg', b_uuid: 'b-leg', call_created_epoch: '1741953605' }],
    };
    const events = synthesize(snap.channels, snap.calls, nothing, 1741953700 * 1e6);
    t.same(
      events.map((e) => `${e.name} ${e.uuid}`),
      ['CHANNEL_CREATE a-leg', 'CHANNEL_CREATE b-leg', 'CHANNEL_BRIDGE a-leg'],
    );
    t.ok(
      events.every((e) => e.synthetic),
      'made up, not sent by the switch',
    );
    const model = new CallModel(defaultModelConfig);
    const effects = events.flatMap((e) => model.apply(e));
    t.match(effects, [
      { kind: 'register', call: 'a-leg', type: 2, extension: '1001', phone: '+79161234567', line: '4951234567' },
      { kind: 'connected', call: 'a-leg', extension: '1001', atUs: 1741953605 * 1e6 },
    ]);
  },
);

t.test('legs the model knows are left alone; an unbridged row adds no bridge', async (t) => {
  const snap: Snapshot = {
    channels: [row('known', { name: 'sofia/internal/1001@192.0.2.10' })],
    calls: [{ uuid: 'known', b_uuid: '', call_created_epoch: '' }],
  };
  t.same(synthesize(snap.channels, snap.calls, { placed: (u) => u === 'known', knowsBridge: () => false }, 0), []);
});

t.test('legs the model placed but did not see bridged (a gap) get the bridge the switch shows', async (t) => {
  const trunk = row('a-leg', { name: 'sofia/external/+79161234567@203.0.113.5', cid_num: '+79161234567' });
  const phone = row('b-leg', { direction: 'outbound', name: 'sofia/internal/1001@192.0.2.10', call_uuid: 'a-leg' });
  const calls = [{ uuid: 'a-leg', b_uuid: 'b-leg', call_created_epoch: '1741953605' }];
  const placed = (): boolean => true;
  t.same(
    synthesize([trunk, phone], calls, { placed, knowsBridge: () => false }, 0).map((e) => [e.name, e.atUs]),
    [['CHANNEL_BRIDGE', 1741953605 * 1e6]],
    'the bridge, at the time the switch wrote it',
  );
  t.same(synthesize([trunk, phone], calls, { placed, knowsBridge: () => true }, 0), [], 'seen already: nothing');
});

t.test('a child row before its parent in the same second is made up after it', async (t) => {
  const trunk = row('a-leg', { name: 'sofia/external/+79161234567@203.0.113.5' });
  const phone = row('b-leg', { direction: 'outbound', name: 'sofia/internal/1001@192.0.2.10', call_uuid: 'a-leg' });
  t.same(
    synthesize([phone, trunk], [], nothing, 0).map((e) => e.uuid),
    ['a-leg', 'b-leg'],
  );
});
