/**
 * A CDR leg crossing the database to the back-fill's owner (lib/cdr/wire.ts): every captured leg
 * comes back as it left, small enough for a NOTIFY; anything else is refused with the field named.
 */
import t from 'tap';
import { parseCdrBody } from '../../../lib/cdr/parse.js';
import { cdrLegFromWire } from '../../../lib/cdr/wire.js';
import { cdrCall } from '../../helpers/cdr.js';

t.test('every leg of the captures crosses as it left, under the 7,000 bytes of a NOTIFY', async (t) => {
  for (const prefix of ['inbound-answered', 'inbound-missed', 'outbound-answered', 'outbound-busy'])
    for (const c of cdrCall(prefix)) {
      const leg = parseCdrBody(c.body, c.contentType);
      const wire = JSON.stringify(leg);
      t.ok(Buffer.byteLength(wire) < 6000, `${c.name}: ${Buffer.byteLength(wire)} bytes`);
      t.same(cdrLegFromWire(JSON.parse(wire)), leg, c.name);
    }
});

t.test('a message that is not a leg is refused, naming the field', async (t) => {
  const [a] = cdrCall('outbound-answered');
  const leg = parseCdrBody(a!.body, a!.contentType);
  const bad: Array<[unknown, RegExp]> = [
    [null, /not an object/],
    [[leg], /not an object/],
    [{ ...leg, uuid: 'nope' }, /uuid is not a uuid/],
    [{ ...leg, originator: 7 }, /originator is not text/],
    [{ ...leg, direction: 'sideways' }, /bad direction/],
    [{ ...leg, endUs: -1 }, /endUs is no time/],
    [{ ...leg, partners: [1] }, /partners is not a list of text/],
    [{ ...leg, vars: { x: 1 } }, /variable x is not text/],
  ];
  for (const [v, why] of bad) t.throws(() => cdrLegFromWire(v), { name: 'CdrParseError', message: why });
});
