/**
 * The call model fed with the real captures (fixtures/esl): the exact effects each
 * produces. Both formats of a scenario are different calls and must give the same
 * effects apart from ids and times.
 */
import t from 'tap';
import { fixtureEvents } from '../../helpers/fixtures.js';
import { toChannelEvent } from '../../../lib/events/channel-event.js';
import { EslEvent } from '../../../lib/esl/codec.js';
import { CallModel } from '../../../lib/calls/model.js';
import type { Effect } from '../../../lib/calls/effects.js';

function run(name: string): Effect[] {
  const m = new CallModel();
  const out: Effect[] = [];
  for (const e of fixtureEvents(name)) {
    const ce = toChannelEvent(e);
    if (ce) out.push(...m.apply(ce));
  }
  t.equal(m.liveCalls, 0, `${name}: no call left open`);
  return out;
}

/** Effects with the call key and start time blanked, to compare the plain and json runs. */
function shape(effects: Effect[]): unknown[] {
  return effects.map((e) => {
    const x: Record<string, unknown> = { ...e, call: 'C' };
    if ('externalCallId' in x) x.externalCallId = 'C';
    if ('startIso' in x) x.startIso = 'T';
    if ('atUs' in x) x.atUs = 'T';
    if ('path' in x) x.path = String(x.path).replace(/[0-9a-f-]{36}/, 'C');
    return x;
  });
}

t.test(
  'inbound ring group answered by 1001: one register, show/hide, finish 200 with talk time, recording',
  async (t) => {
    for (const fmt of ['plain', 'json']) {
      const eff = run(`inbound-ringgroup-answered.${fmt}.txt`);
      t.same(
        shape(eff),
        [
          // the recorder starts at once (record_session before the bridge): kept from here on
          { kind: 'recording', call: 'C', path: '/var/lib/freeswitch/recordings/C.wav' },
          {
            kind: 'register',
            call: 'C',
            externalCallId: 'C',
            type: 2,
            extension: '1001',
            phone: '+79161234567',
            line: '4951234567',
            startIso: 'T',
            show: true,
            crmCreate: true,
          },
          { kind: 'show', call: 'C', extensions: ['1002'] },
          { kind: 'hide', call: 'C', extensions: ['1002'] },
          { kind: 'connected', call: 'C', extension: '1001', atUs: 'T' },
          {
            kind: 'finish',
            call: 'C',
            direction: 'incoming',
            extension: '1001',
            candidates: ['1001', '1002'],
            duration: 5,
            status: '200',
            addToChat: true,
          },
          { kind: 'attach', call: 'C', path: '/var/lib/freeswitch/recordings/C.wav' },
        ],
        fmt,
      );
    }
    const eff = run('inbound-ringgroup-answered.plain.txt');
    t.equal(
      (eff[1] as { externalCallId: string }).externalCallId,
      'f001d57b-1a63-44d4-b27d-3f019304fb31',
      'EXTERNAL_CALL_ID is the call UUID',
    );
    t.equal((eff[1] as { startIso: string }).startIso, '2026-11-24T23:14:34+00:00');
  },
);

t.test('inbound ring group missed: finish 304 with no employee, the ringing ones as candidates', async (t) => {
  for (const fmt of ['plain', 'json']) {
    const eff = run(`inbound-ringgroup-missed.${fmt}.txt`);
    t.same(
      shape(eff).slice(3),
      [
        {
          kind: 'finish',
          call: 'C',
          direction: 'incoming',
          extension: null,
          candidates: ['1001', '1002'],
          duration: 0,
          status: '304',
          addToChat: true,
        },
        { kind: 'attach', call: 'C', path: '/var/lib/freeswitch/recordings/C.wav' },
      ],
      fmt,
    );
  }
});

t.test('the legacy race: both phones answer, the loser never makes the call missed', async (t) => {
  const eff = run('legacy/inbound-call.plain.txt');
  t.match(
    eff.find((e) => e.kind === 'finish'),
    { extension: '1001', status: '200', duration: 5 },
  );
});

t.test('outbound answered and busy', async (t) => {
  for (const fmt of ['plain', 'json']) {
    t.same(
      shape(run(`outbound-answered.${fmt}.txt`)),
      [
        {
          kind: 'register',
          call: 'C',
          externalCallId: 'C',
          type: 1,
          extension: '1003',
          phone: '79161234567',
          line: '4951234567',
          startIso: 'T',
          show: true,
          crmCreate: true,
        },
        { kind: 'connected', call: 'C', extension: '1003', atUs: 'T' },
        {
          kind: 'finish',
          call: 'C',
          direction: 'outgoing',
          extension: '1003',
          candidates: ['1003'],
          duration: 4,
          status: '200',
          addToChat: true,
        },
      ],
      fmt,
    );
    t.match(run(`outbound-busy.${fmt}.txt`)[1], { kind: 'finish', extension: '1003', duration: 0, status: '486' }, fmt);
  }
});

t.test(
  'click-to-call: the CALL_ID from the originate is adopted, never registered again; talk time is the client leg',
  async (t) => {
    for (const fmt of ['plain', 'json']) {
      t.same(
        shape(run(`click2call-answered.${fmt}.txt`)),
        [
          { kind: 'adopt', call: 'C', b24CallId: 'externalCall.test.1' },
          { kind: 'show', call: 'C', extensions: ['1001'] },
          { kind: 'connected', call: 'C', extension: '1001', atUs: 'T' },
          {
            kind: 'finish',
            call: 'C',
            direction: 'outgoing',
            extension: '1001',
            candidates: ['1001'],
            duration: 4,
            status: '200',
            addToChat: true,
          },
        ],
        fmt,
      );
    }
    t.same(
      run('click2call-user-not-registered.plain.txt'),
      [],
      'no channel, no effect (the originate result handles it)',
    );
  },
);

t.test(
  'placed calls recorded on answer (execute_on_answer): the recording from RECORD_STOP is attached after the finish',
  async (t) => {
    for (const name of ['click2call-recorded', 'callback-recorded', 'callback-context']) {
      for (const fmt of ['plain', 'json']) {
        const eff = run(`${name}.${fmt}.txt`);
        const aLeg = fixtureEvents(`${name}.${fmt}.txt`)
          .find((e) => e.name === 'CHANNEL_CREATE')
          ?.get('Unique-ID');
        t.same(
          shape(eff).slice(-2),
          [
            {
              kind: 'finish',
              call: 'C',
              direction: name === 'click2call-recorded' ? 'outgoing' : 'callback',
              extension: '1001',
              candidates: ['1001'],
              duration: 4,
              status: '200',
              addToChat: true,
            },
            { kind: 'attach', call: 'C', path: '/var/lib/freeswitch/recordings/C.wav' },
          ],
          `${name}.${fmt}`,
        );
        t.match(
          eff.at(-1),
          { kind: 'attach', path: `/var/lib/freeswitch/recordings/${aLeg}.wav` },
          `${name}.${fmt}: the A leg's file`,
        );
        t.match(
          eff[0],
          { kind: 'adopt', b24CallId: /^externalCall\.lab\.\d+$/ },
          `${name}.${fmt}: never registered again`,
        );
      }
    }
    // before the context was installed: the employee answered, then NO_ROUTE_DESTINATION at once
    t.match(
      run('callback-context-missing.plain.txt').find((e) => e.kind === 'finish'),
      { kind: 'finish', duration: 0 },
    );
  },
);

t.test('an originate that is not ours (legacy click2call) is still an outgoing call', async (t) => {
  const eff = run('legacy/click2call.plain.txt');
  t.match(eff[0], { kind: 'register', type: 1, extension: '1001', phone: '79161234567' });
  t.match(
    eff.find((e) => e.kind === 'finish'),
    { kind: 'finish', status: '200', duration: 9 },
  );
});

/**
 * The capture with the dialplan's `set b24_record_path=…` added to the first leg's events (the
 * snippets in conf/freeswitch set it before record_session); the capture's own RECORD_* are kept.
 */
function runNamed(name: string, path: (firstUuid: string) => string): Effect[] {
  const m = new CallModel();
  const out: Effect[] = [];
  let first: string | undefined;
  for (const e of fixtureEvents(name)) {
    first ??= e.name === 'CHANNEL_CREATE' ? e.get('Unique-ID') : undefined;
    const onFirst = first !== undefined && e.get('Unique-ID') === first;
    const named = onFirst ? new EslEvent([...e.headers, ['variable_b24_record_path', path(first!)]], e.body) : e;
    const ce = toChannelEvent(named, ['b24_record_path']);
    if (ce) out.push(...m.apply(ce));
  }
  return out;
}

t.test('rejected before answer: the recorder never started (no RECORD_START), so no attach waits for it', async (t) => {
  for (const fmt of ['plain', 'json']) {
    const eff = runNamed(`outbound-busy.${fmt}.txt`, (u) => `/var/lib/freeswitch/recordings/${u}.wav`);
    t.same(
      eff.map((e) => e.kind),
      ['register', 'finish'],
      `${fmt}: nothing recorded`,
    );
    const missed = runNamed(`inbound-ringgroup-missed.${fmt}.txt`, (u) => `/var/lib/freeswitch/recordings/${u}.wav`);
    const attached = shape(missed.filter((e) => e.kind === 'attach'));
    t.same(
      attached,
      [{ kind: 'attach', call: 'C', path: '/var/lib/freeswitch/recordings/C.wav' }],
      `${fmt}: missed, recorded`,
    );
  }
});

t.test('registrations and api replies alone produce nothing', async (t) => {
  t.same(run('registrations.plain.txt'), []);
  t.same(run('registrations.json.txt'), []);
});
