/**
 * `show channels as json` and `show calls as json` of the simulator have the columns, in the
 * order, of FreeSWITCH 1.11.1 (fixtures/esl/api-replies: the replies during a bridged ring-group
 * call), and the values a resync reads: the bridge's pair, its call_created_epoch, callstate.
 */
import t from 'tap';
import { fixtureFrames } from '../../helpers/fixtures.js';
import { frameHeader } from '../../../lib/esl/frame.js';
import { SimSwitch } from '../../../lib/sim/freeswitch/index.js';
import { show } from '../../../lib/sim/freeswitch/reports.js';

type Rows = { row_count: number; rows?: Array<Record<string, string>> };

/** The captured `show channels` and `show calls` replies taken during the call. */
function captured(): { channels: Rows; calls: Rows } {
  const bodies = fixtureFrames('api-replies.json.txt')
    .filter((f) => frameHeader(f, 'Content-Type') === 'api/response' && f.body)
    .map((f) => f.body!.toString('utf8'))
    .filter((b) => b.startsWith('{"row_count":') && !b.includes('reg_user'));
  return { channels: JSON.parse(bodies[0]!) as Rows, calls: JSON.parse(bodies[1]!) as Rows };
}

t.test('a bridged call: the columns of the real tables, in their order', async (t) => {
  const real = captured();
  const sw = new SimSwitch({});
  const a = sw.trunkInbound('+79161234567', '4951234567');
  sw.create(a);
  sw.progressMedia(a);
  const b = sw.userOutbound('1001', a);
  sw.create(b);
  sw.progress(b);
  await sw.wait(2000);
  sw.answer(b);
  sw.answer(a);
  sw.bridge(a, b);
  const channels = JSON.parse(show(sw, 'channels as json')) as Rows;
  const calls = JSON.parse(show(sw, 'calls as json')) as Rows;
  t.equal(channels.row_count, real.channels.row_count);
  for (const [i, row] of (real.channels.rows ?? []).entries())
    t.same(Object.keys(channels.rows![i]!), Object.keys(row), `show channels, row ${i}`);
  t.equal(calls.row_count, real.calls.row_count, 'one row for the bridged pair');
  t.same(Object.keys(calls.rows![0]!), Object.keys(real.calls.rows![0]!), 'show calls');
  t.match(calls.rows![0], {
    uuid: a.uuid,
    b_uuid: b.uuid,
    callstate: 'ACTIVE',
    b_callstate: 'ACTIVE',
    call_created_epoch: String(Math.floor(sw.nowUs() / 1e6)),
  });
  // as captured: the bridge wrote its row 2 s after the channels were created
  const r = real.calls.rows![0]!;
  t.equal(Number(r.call_created_epoch) - Number(r.created_epoch), 2);
});

t.test('a leg not bridged yet: a row of its own, its b_* columns and call_created_epoch empty', async (t) => {
  const sw = new SimSwitch({});
  const a = sw.trunkInbound('+79161234567', '4951234567');
  sw.create(a);
  const calls = JSON.parse(show(sw, 'calls as json')) as Rows;
  t.equal(calls.row_count, 1);
  t.match(calls.rows![0], { uuid: a.uuid, b_uuid: '', b_callstate: '', call_created_epoch: '' });
});
