/** A call's phase: every (phase, event) pair, and whole lives folded from their events. */
import t from 'tap';
import { initialPhase, nextPhase, type CallPhase, type PhaseEvent } from '../../../lib/calls/phase.js';

t.test('every phase under every event', async (t) => {
  const table: Array<[CallPhase, PhaseEvent, CallPhase]> = [
    ['dialing', 'ring', 'ringing'],
    ['dialing', 'bridge', 'answered'],
    ['dialing', 'end', 'finished'],
    ['held', 'ring', 'ringing'],
    ['held', 'bridge', 'answered'],
    ['held', 'end', 'finished'],
    ['ringing', 'ring', 'ringing'],
    ['ringing', 'bridge', 'answered'],
    ['ringing', 'end', 'finished'],
    ['answered', 'ring', 'answered'],
    ['answered', 'bridge', 'answered'],
    ['answered', 'end', 'finished'],
    ['finished', 'ring', 'finished'],
    ['finished', 'bridge', 'finished'],
    ['finished', 'end', 'finished'],
  ];
  for (const [from, ev, to] of table) t.equal(nextPhase(from, ev), to, `${from} + ${ev} → ${to}`);
});

t.test('a call starts held when it comes in, dialing otherwise', async (t) => {
  t.equal(initialPhase('inbound'), 'held');
  t.equal(initialPhase('outbound'), 'dialing');
  t.equal(initialPhase('pending'), 'dialing');
  t.equal(initialPhase('internal'), 'dialing');
});

t.test('lives of calls, event by event', async (t) => {
  const lives: Array<{
    name: string;
    kind: 'inbound' | 'pending' | 'outbound';
    events: PhaseEvent[];
    phases: CallPhase[];
  }> = [
    {
      name: 'a ring group, answered',
      kind: 'inbound',
      events: ['ring', 'ring', 'bridge', 'end'],
      phases: ['ringing', 'ringing', 'answered', 'finished'],
    },
    { name: 'an IVR the caller leaves before any phone rings', kind: 'inbound', events: ['end'], phases: ['finished'] },
    {
      name: 'a blind transfer: the new phone rings in an answered call',
      kind: 'inbound',
      events: ['ring', 'bridge', 'ring', 'bridge', 'end'],
      phases: ['ringing', 'answered', 'answered', 'answered', 'finished'],
    },
    {
      name: 'an outgoing call nobody picks up',
      kind: 'pending',
      events: ['ring', 'end'],
      phases: ['ringing', 'finished'],
    },
    {
      name: 'a click-to-call: the employee, then the client',
      kind: 'outbound',
      events: ['ring', 'ring', 'bridge', 'end'],
      phases: ['ringing', 'ringing', 'answered', 'finished'],
    },
    {
      name: 'events after the end change nothing',
      kind: 'inbound',
      events: ['ring', 'end', 'bridge', 'ring'],
      phases: ['ringing', 'finished', 'finished', 'finished'],
    },
  ];
  for (const life of lives) {
    let phase = initialPhase(life.kind);
    const seen: CallPhase[] = [];
    for (const ev of life.events) seen.push((phase = nextPhase(phase, ev)));
    t.same(seen, life.phases, life.name);
  }
});
