/**
 * What crosses the database between instances, read like outside input: an originate is an
 * originate and nothing else, a job's outcome survives the trip, an event travels without
 * its secrets.
 */
import t from 'tap';
import {
  BadMessage,
  eventToWire,
  fromWire,
  parseEventMessage,
  parseOriginate,
  parseRouteAnswer,
  toWire,
  installToWire,
  parseInstall,
  parseInstallAnswer,
  parseConnectGrant,
  parseConnectPage,
} from '../../../lib/cluster/messages.js';
import { EslJobLost } from '../../../lib/esl/errors.js';

t.test('an originate, and nothing else, is placed for another instance', async (t) => {
  const cmd = 'originate {origination_uuid=1}user/1001 &park()';
  t.same(parseOriginate({ cmd, jobUuid: 'j1' }), { cmd, jobUuid: 'j1' });
  t.throws(() => parseOriginate({ cmd: 'uuid_kill 1', jobUuid: 'j1' }), BadMessage);
  t.throws(() => parseOriginate({ cmd: 'originate x\nshutdown', jobUuid: 'j1' }), BadMessage);
  t.throws(() => parseOriginate({ cmd, jobUuid: 7 }), BadMessage);
  t.throws(() => parseOriginate('originate x'), { code: 'CLUSTER_ERR_MESSAGE' });
});

t.test("a job's outcome survives the trip", async (t) => {
  t.same(fromWire(toWire({ jobUuid: 'j1', ok: true, body: '+OK 1' }), 'j1'), {
    jobUuid: 'j1',
    ok: true,
    body: '+OK 1',
  });
  t.same(fromWire(toWire({ jobUuid: 'j1', ok: false, body: '-ERR USER_BUSY' }), 'j1'), {
    jobUuid: 'j1',
    ok: false,
    body: '-ERR USER_BUSY',
  });
  const lost = fromWire(
    toWire({ jobUuid: 'j1', ok: false, lost: new EslJobLost('ESL_ERR_JOB_TIMEOUT', 'j1', 'late') }),
    'j1',
  );
  t.ok(lost.lost instanceof EslJobLost);
  t.equal(lost.lost?.code, 'ESL_ERR_JOB_TIMEOUT');
  t.throws(() => fromWire({ ok: 'yes', body: '' }, 'j1'), BadMessage);
});

t.test('an event travels without its tokens', async (t) => {
  const ev = {
    event: 'ONEXTERNALCALLSTART',
    data: { CALL_ID: 'externalCall.1', USER_ID: '11' },
    auth: { domain: 'b24.example.com', memberId: 'm1', applicationToken: 'secret', accessToken: 'secret2' },
  };
  const wire = eventToWire(ev);
  t.notMatch(JSON.stringify(wire), /secret/);
  t.same(parseEventMessage(JSON.parse(JSON.stringify(wire))), {
    event: 'ONEXTERNALCALLSTART',
    data: { CALL_ID: 'externalCall.1', USER_ID: '11' },
    auth: { domain: 'b24.example.com', memberId: 'm1', applicationToken: '' },
  });
  t.throws(() => parseEventMessage({ event: 'X', data: [], domain: 'd', memberId: 'm' }), BadMessage);
  t.same(parseRouteAnswer({ extension: '1002', userId: 12, reason: 'responsible', cached: true }), {
    extension: '1002',
    userId: 12,
    reason: 'responsible',
    cached: true,
  });
  t.same(parseRouteAnswer({ extension: 5 }), { extension: null, userId: null, reason: '', cached: false });
});

t.test("an install crosses with the tokens the portal's holder proves; a connect with its code", async (t) => {
  const auth = {
    domain: 'a.bitrix24.com',
    memberId: 'm1',
    applicationToken: 'app',
    accessToken: 'at',
    refreshToken: 'rt',
    clientEndpoint: 'https://a.bitrix24.com/rest/',
    expires: 1800000000,
    scope: 'telephony,user',
  };
  const ev = { event: 'ONAPPINSTALL', data: { VERSION: '1' }, auth };
  t.same(parseInstall(JSON.parse(JSON.stringify(installToWire(ev)))), ev);
  t.throws(() => parseInstall({ ...ev, event: 'ONEXTERNALCALLSTART' }), { message: /not an ONAPPINSTALL/ });
  t.throws(() => parseInstall({ ...ev, auth: { ...auth, expires: 'soon' } }), { message: /expires is not a number/ });
  t.throws(() => parseInstall({ ...ev, auth: { ...auth, memberId: undefined } }), { message: /memberId/ });
  t.same(parseInstallAnswer({ refused: null }), { refused: null });
  t.same(parseInstallAnswer({ refused: 'another installation' }), { refused: 'another installation' });
  t.same(parseConnectGrant({ code: 'c1' }), { code: 'c1', memberId: undefined });
  t.throws(() => parseConnectGrant({ code: 1 }), BadMessage);
  const page = { status: 200, title: 'Connected to Bitrix24', lines: ['done'] };
  t.same(parseConnectPage(page), page);
  t.throws(() => parseConnectPage({ ...page, status: 9000 }), { message: /bad status/ });
  t.throws(() => parseConnectPage({ ...page, lines: [1] }), { message: /lines/ });
});
