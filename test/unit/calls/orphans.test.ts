/** Calls that ended while the service was down, finished from what the outbox stored of them. */
import t from 'tap';
import { orphanFinish, ORPHAN_REASON, type UnfinishedCall } from '../../../lib/calls/orphans.js';
import type { RegisterEffect } from '../../../lib/calls/effects.js';

const register = (type: 1 | 2 | 4, extension: string | null): RegisterEffect => ({
  kind: 'register',
  call: 'c1',
  externalCallId: 'c1',
  type,
  extension,
  phone: '+79161234567',
  line: '4951234567',
  startIso: '2025-03-14T12:00:00+00:00',
  show: true,
  crmCreate: true,
});
const T0_MS = Date.UTC(2025, 2, 14, 12, 0, 0);
const connectedAt = (extension: string | null, ms: number): UnfinishedCall['connected'] => ({
  kind: 'connected',
  call: 'c1',
  extension,
  atUs: ms * 1000,
});

t.test('each kind of stored call finishes as it should', async (t) => {
  const rows: Array<[string, UnfinishedCall, number, object]> = [
    [
      'incoming, answered by 1002: 200 for 1002, talked until the last event the previous run saw',
      { call: 'c1', register: register(2, '1001'), connected: connectedAt('1002', T0_MS), recordings: [] },
      T0_MS + 42_400,
      { direction: 'incoming', status: '200', duration: 42, extension: '1002', candidates: ['1002'] },
    ],
    [
      'answered a moment before the service died: at least one second',
      { call: 'c1', register: register(2, '1001'), connected: connectedAt('1001', T0_MS), recordings: [] },
      T0_MS + 100,
      { status: '200', duration: 1 },
    ],
    [
      'incoming, nobody answered: missed, for the one it was registered for',
      { call: 'c1', register: register(2, '1001'), connected: null, recordings: [] },
      T0_MS + 60_000,
      { direction: 'incoming', status: '304', duration: 0, extension: '1001', candidates: ['1001'] },
    ],
    [
      'incoming held in the IVR, registered for nobody: missed, no candidates',
      { call: 'c1', register: register(2, null), connected: null, recordings: [] },
      T0_MS,
      { direction: 'incoming', status: '304', extension: null, candidates: [] },
    ],
    [
      'outgoing, not answered: OTHER (the cause is unknown)',
      { call: 'c1', register: register(1, '1001'), connected: null, recordings: [] },
      T0_MS + 60_000,
      { direction: 'outgoing', status: 'OTHER', duration: 0, extension: '1001' },
    ],
    [
      'outgoing, answered: 200',
      { call: 'c1', register: register(1, '1001'), connected: connectedAt('1001', T0_MS), recordings: [] },
      T0_MS + 10_000,
      { direction: 'outgoing', status: '200', duration: 10, extension: '1001' },
    ],
    [
      'callback, answered',
      { call: 'c1', register: register(4, '1003'), connected: connectedAt('1003', T0_MS), recordings: [] },
      T0_MS + 5_000,
      { direction: 'callback', status: '200', duration: 5, extension: '1003' },
    ],
    [
      'callback, not answered: OTHER',
      { call: 'c1', register: register(4, '1003'), connected: null, recordings: [] },
      T0_MS + 5_000,
      { direction: 'callback', status: 'OTHER', duration: 0, extension: '1003' },
    ],
    [
      'click-to-call (Bitrix24 registered it, no register stored), answered',
      { call: 'c1', register: null, connected: connectedAt('1001', T0_MS), recordings: [] },
      T0_MS + 7_000,
      { direction: 'outgoing', status: '200', duration: 7, extension: '1001' },
    ],
    [
      'click-to-call, not answered: OTHER, nobody known',
      { call: 'c1', register: null, connected: null, recordings: [] },
      T0_MS,
      { direction: 'outgoing', status: 'OTHER', duration: 0, extension: null, candidates: [] },
    ],
  ];
  for (const [name, stored, lastSeenMs, expected] of rows) {
    const fin = orphanFinish(stored, lastSeenMs * 1000, true);
    t.match(fin, { kind: 'finish', call: 'c1', addToChat: true, reason: ORPHAN_REASON, ...expected }, name);
  }
});

t.test('ADD_TO_CHAT follows the setting; stored payloads of another kind are ignored', async (t) => {
  t.match(orphanFinish({ call: 'c1', register: register(2, '1001'), connected: null, recordings: [] }, T0_MS, false), {
    addToChat: false,
  });
  const odd: UnfinishedCall = {
    call: 'c1',
    register: { kind: 'adopt', call: 'c1', b24CallId: 'X' },
    connected: null,
    recordings: [],
  };
  t.match(orphanFinish(odd, T0_MS, true), { direction: 'outgoing', status: 'OTHER', extension: null });
});
