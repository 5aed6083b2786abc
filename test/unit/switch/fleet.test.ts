/**
 * Several switches: where a phone is looked for, and which switch's first connect settles
 * which calls that ended while the service was down.
 */
import t from 'tap';
import { OrphanSweep, Switches, switchOfCall } from '../../../lib/switch/fleet.js';
import type { SwitchUnit } from '../../../lib/switch/unit.js';
import type { UnfinishedCall } from '../../../lib/calls/orphans.js';

interface Fake {
  name: string;
  registered: boolean | null;
  directory: boolean | null;
  asked: string[];
}

function fleet(...fakes: Array<Omit<Fake, 'asked'>>): { switches: Switches; asked: string[][] } {
  const asked = fakes.map(() => [] as string[]);
  const units = fakes.map(
    (f, i) =>
      ({
        name: f.name,
        isRegistered: async (ext: string, domain: string | null) => {
          asked[i]!.push(`registered ${ext}@${domain}`);
          return f.registered;
        },
        inDirectory: async (ext: string, domain: string | null) => {
          asked[i]!.push(`directory ${ext}@${domain}`);
          return f.directory;
        },
      }) as unknown as SwitchUnit,
  );
  return { switches: new Switches(units), asked };
}

t.test('registered first, then the directory in the configured order, else 480 or 503', async (t) => {
  let f = fleet(
    { name: 'fs1', registered: false, directory: true },
    { name: 'fs2', registered: true, directory: true },
  );
  t.same(await f.switches.locate('1001', 'b.pbx.test'), { switch: 'fs2' }, 'where the phone is registered');
  t.same(f.asked, [['registered 1001@b.pbx.test'], ['registered 1001@b.pbx.test']], 'no directory asked');
  f = fleet(
    { name: 'fs1', registered: false, directory: false },
    { name: 'fs2', registered: false, directory: true },
    { name: 'fs3', registered: false, directory: true },
  );
  t.same(await f.switches.locate('1003', null), { switch: 'fs2' }, 'the first whose directory has it');
  f = fleet({ name: 'fs1', registered: false, directory: false }, { name: 'fs2', registered: false, directory: false });
  t.same(await f.switches.locate('1004', 'a.pbx.test'), {
    switch: null,
    status: '480',
    reason: 'extension 1004@a.pbx.test is on no switch',
  });
  f = fleet({ name: 'fs1', registered: null, directory: null }, { name: 'fs2', registered: false, directory: false });
  t.same(await f.switches.locate('1004', null), {
    switch: null,
    status: '503',
    reason: 'the PBX is not reachable (switch fs1)',
  });
  f = fleet({ name: 'default', registered: null, directory: null });
  t.same(await f.switches.locate('1001', null), { switch: 'default' }, 'one switch: that one');
  t.same(f.asked, [[]], 'unasked: it says itself what became of the call');
});

t.test('registered anywhere: true; nowhere: false; a switch that cannot say and none that has it: null', async (t) => {
  t.equal(
    await fleet(
      { name: 'a', registered: null, directory: null },
      { name: 'b', registered: true, directory: null },
    ).switches.isRegistered('1001', null),
    true,
  );
  t.equal(
    await fleet(
      { name: 'a', registered: false, directory: null },
      { name: 'b', registered: false, directory: null },
    ).switches.isRegistered('1001', null),
    false,
  );
  t.equal(
    await fleet(
      { name: 'a', registered: null, directory: null },
      { name: 'b', registered: false, directory: null },
    ).switches.isRegistered('1001', null),
    null,
  );
});

const call = (uuid: string, sw?: string, by: 'register' | 'connected' = 'register'): UnfinishedCall => {
  const register = {
    kind: 'register' as const,
    call: uuid,
    externalCallId: uuid,
    type: 2 as const,
    extension: '1001',
    phone: '+79161234567',
    line: null,
    startIso: '2026-12-02T00:00:00+00:00',
    show: true,
    crmCreate: false,
    ...(sw && by === 'register' ? { switch: sw } : {}),
  };
  const connected =
    sw && by === 'connected'
      ? { kind: 'connected' as const, call: uuid, extension: '1001', atUs: 1, switch: sw }
      : null;
  return { call: uuid, register: by === 'register' ? register : null, connected, recordings: [] };
};

t.test("a call recorded on a switch is settled at that switch's first connect only", async (t) => {
  t.equal(switchOfCall(call('c1', 'fs2')), 'fs2');
  t.equal(switchOfCall(call('c2', 'fs1', 'connected')), 'fs1', 'a click-to-call: its connection names it');
  t.equal(switchOfCall(call('c3')), null, 'stored before switches were recorded');
  const calls = [call('c1', 'fs2'), call('c2', 'fs1', 'connected'), call('c3'), call('c4', 'gone')];
  const sweep = new OrphanSweep(['fs1', 'fs2']);
  const live1 = new Set(['x1']);
  const first = sweep.connected('fs1', live1, (u) => u === 'k1');
  t.equal(first.length, 1, 'fs2 has not connected: the unnamed calls wait');
  t.same(
    calls.filter(first[0]!.owns).map((c) => c.call),
    ['c2'],
  );
  t.equal(first[0]!.live, live1);
  t.same(
    sweep.connected('fs1', new Set(), () => false),
    [],
    'a reconnect settles nothing again',
  );
  const second = sweep.connected('fs2', new Set(['x2']), (u) => u === 'k2');
  t.equal(second.length, 2, 'every switch has connected: the unnamed ones too');
  t.same(
    calls.filter(second[0]!.owns).map((c) => c.call),
    ['c1'],
  );
  t.same(
    calls.filter(second[1]!.owns).map((c) => c.call),
    ['c3', 'c4'],
    'unnamed, or named after a switch no longer configured',
  );
  t.same([...second[1]!.live].sort(), ['x1', 'x2'], 'against what is live on every switch');
  t.ok(second[1]!.known('k1') && second[1]!.known('k2') && !second[1]!.known('k3'), 'and what any model follows');
});

t.test('one switch: everything at its first connect, as before there were several', async (t) => {
  const sweep = new OrphanSweep(['default']);
  const groups = sweep.connected('default', new Set(), () => false);
  const calls = [call('c1', 'default'), call('c3')];
  t.same(
    groups.flatMap((g) => calls.filter(g.owns)).map((c) => c.call),
    ['c1', 'c3'],
  );
});
