/**
 * Registrations are per directory domain: the same extension exists in every tenant domain
 * (fixtures/esl/tenants: 1001 registers in a.pbx.test and in b.pbx.test), and each one
 * comes and goes on its own.
 */
import t from 'tap';
import { fixtureEvents } from '../../helpers/fixtures.js';
import { Registrations } from '../../../lib/esl/registrations.js';
import type { EslEvent } from '../../../lib/esl/codec.js';

/** A switch that answers `show registrations as json` with these rows. */
function esl(rows: Array<{ reg_user: string; realm: string }>, connected = true) {
  const asked: string[] = [];
  return {
    asked,
    port: {
      connected,
      api: async (cmd: string): Promise<string> => {
        asked.push(cmd);
        return rows.length === 0 ? '{"row_count": 0}\n' : JSON.stringify({ row_count: rows.length, rows });
      },
    },
  };
}

const registers = (name: string): EslEvent[] =>
  fixtureEvents(name).filter((e) => e.get('Event-Subclass')?.startsWith('sofia::'));

t.test("the tenants' register events: 1001 in a.pbx.test and in b.pbx.test, each its own", async (t) => {
  const sw = esl([]);
  const r = new Registrations(sw.port);
  t.equal(await r.has('1001', 'a.pbx.test'), false, 'nobody registered yet');
  const events = registers('tenants/tenant-a-register.plain.txt');
  t.same(
    events.map((e) => [e.get('from-user'), e.get('realm')]),
    [
      ['1001', 'a.pbx.test'],
      ['1001', 'b.pbx.test'],
    ],
  );
  r.onEvent(events[0]!);
  t.equal(await r.has('1001', 'a.pbx.test'), true);
  t.equal(await r.has('1001', 'b.pbx.test'), false, "a's 1001 is not b's");
  t.equal(await r.has('1001', 'A.PBX.TEST'), true, 'domains compare in lower case');
  t.equal(await r.has('1001'), true, 'no domain asked: any');
  r.onEvent(events[1]!);
  t.equal(await r.has('1001', 'b.pbx.test'), true);
  t.same(sw.asked, ['show registrations as json'], 'the switch was asked once');
});

t.test('unregister and expire (fixtures/esl/registrations.*) remove the user from its domain only', async (t) => {
  const sw = esl([
    { reg_user: '1005', realm: '127.0.0.1' },
    { reg_user: '1004', realm: '127.0.0.1' },
    { reg_user: '1004', realm: 'b.pbx.test' },
  ]);
  const r = new Registrations(sw.port);
  t.equal(await r.has('1004', 'b.pbx.test'), true, 'read from show registrations (realm)');
  for (const e of registers('registrations.json.txt')) r.onEvent(e);
  t.equal(await r.has('1004', '127.0.0.1'), false, 'unregistered (sofia::unregister)');
  t.equal(await r.has('1004', 'b.pbx.test'), true, 'still registered in the other domain');
  t.equal(await r.has('1005'), false, 'expired (sofia::expire names user and realm)');
  t.equal(await r.has('1001', '127.0.0.1'), true, 'registered by a refresh');
});

t.test('a switch that cannot say gives null', async (t) => {
  t.equal(await new Registrations(esl([], false).port).has('1001'), null, 'not connected');
  const broken = { connected: true, api: async () => 'not json' };
  t.equal(await new Registrations(broken).has('1001'), null, 'unreadable list');
});
