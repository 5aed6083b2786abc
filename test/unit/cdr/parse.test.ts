/**
 * The CDR edge against what FreeSWITCH 1.11.1's mod_json_cdr really sent and spooled
 * (test/fixtures/cdr): every encoding parses to the same typed leg, the spool files too, and
 * every bad body is refused with a clear reason.
 */
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  CdrParseError,
  CdrUnauthorized,
  checkCdrCredentials,
  parseCdrBody,
  parseCdrText,
  type CdrLeg,
} from '../../../lib/cdr/parse.js';
import { cdrCapture, cdrCall } from '../../helpers/cdr.js';
import { CDR_FIXTURES_DIR } from '../../helpers/fixtures.js';

const parse = (name: string): CdrLeg => {
  const c = cdrCapture(name);
  return parseCdrBody(c.body, c.contentType);
};

t.test('encode=false (raw JSON): the A leg of an inbound call, numbers from callflow, values decoded', async (t) => {
  const a = parse('inbound-answered.a-leg');
  t.match(a, {
    uuid: 'b035bbb9-a2da-43e1-8679-91ff4a158ea3',
    originator: null,
    direction: 'inbound',
    channelName: 'sofia/external/+79161234567@127.0.0.1:5070',
    callerNumber: '+79161234567',
    destination: '4951234567',
    startUs: 1796171960600656,
    answerUs: 1796171962660675,
    bridgeUs: 1796171962660675,
    endUs: 1796171967660648,
    hangupCause: 'NORMAL_CLEARING',
    recordings: ['/var/lib/freeswitch/recordings/b035bbb9-a2da-43e1-8679-91ff4a158ea3.wav'],
  });
  t.same(a.partners.sort(), ['2107f52b-141a-45a3-9872-00aa1b710cad', 'a7e55b86-d1f2-41c8-817d-9e0cbbe848bc']);
  t.match(a.vars, {
    sofia_profile_name: 'external',
    sip_from_user: '+79161234567', // %2B79161234567 in the capture
    sip_to_user: '4951234567',
    billsec: '5',
    sip_term_status: '200',
    domain_name: '127.0.0.1',
  });
  t.notOk('uuid' in a.vars, 'only what the call model reads is kept');
});

t.test('B legs name their A leg; a ring-group loser names nobody else', async (t) => {
  const b = parse('inbound-answered.b-leg-1001');
  t.match(b, {
    originator: 'b035bbb9-a2da-43e1-8679-91ff4a158ea3',
    direction: 'outbound',
    destination: '1001',
    recordings: [],
    vars: { dialed_user: '1001', dialed_domain: '127.0.0.1', billsec: '5' },
  });
  t.same(b.partners, ['b035bbb9-a2da-43e1-8679-91ff4a158ea3']);
  const loser = parse('inbound-answered.b-leg-1002-lose-race');
  t.match(loser, { hangupCause: 'LOSE_RACE', answerUs: 0, bridgeUs: 0, partners: [] });
  const gw = parse('outbound-answered.b-leg-gateway');
  t.equal(gw.vars.call_uuid, undefined, 'call_uuid (unreliable on B legs) is not used');
  t.match(gw, { originator: '95615bf1-8512-4898-8a46-f26cdeadd6f3', vars: { sip_gateway_name: 'pstn' } });
});

t.test('encode=base64 and encode-values=false give the same leg as raw JSON would', async (t) => {
  for (const call of ['encode-base64.outbound-answered', 'encode-values-false.outbound-answered']) {
    const [a, b] = cdrCall(call).map((c) => parseCdrBody(c.body, c.contentType));
    t.match(a, { originator: null, direction: 'inbound', callerNumber: '1003', destination: '79161234567' }, call);
    t.match(a?.vars, { user_name: '1003', sip_from_user: '1003', effective_caller_id_number: '4951234567' }, call);
    t.match(b, { originator: a?.uuid, vars: { sip_gateway_name: 'pstn', billsec: '5' } }, call);
    t.equal(a?.channelName, 'sofia/internal/1003@127.0.0.1', `${call}: values decoded (or plain)`);
  }
  const b64 = cdrCapture('encode-base64.outbound-answered.a-leg');
  t.equal(b64.contentType, 'application/x-www-form-base64-encoded');
  t.ok(b64.body.toString().startsWith('cdr='));
});

t.test('encode=true with encode-values=true cannot be decoded: refused, saying what to set', async (t) => {
  for (const c of cdrCall('encode-true.outbound-answered')) {
    t.equal(c.contentType, 'application/x-www-form-urlencoded');
    t.throws(() => parseCdrBody(c.body, c.contentType), { name: 'CdrParseError', message: /set encode=false/ });
  }
});

t.test('every spool file FreeSWITCH wrote parses, except encode=true ones', async (t) => {
  const spool = join(CDR_FIXTURES_DIR, 'spool');
  const seen: string[] = [];
  for (const dir of readdirSync(spool)) {
    for (const f of readdirSync(join(spool, dir))) {
      const text = readFileSync(join(spool, dir, f), 'utf8');
      t.ok(text.endsWith('\n'), `${dir}/${f} ends with the LF backup_cdr() writes`);
      if (dir === 'encode-true-500') {
        t.throws(() => parseCdrText(text), CdrParseError);
        continue;
      }
      const leg = parseCdrText(text);
      t.equal(leg.uuid, f.replace(/^a_/, '').replace('.cdr.json', ''), `${dir}/${f} is that leg's CDR`);
      t.equal(leg.originator === null, leg.direction === 'inbound', `${dir}/${f}: only the A leg names no originator`);
      seen.push(dir);
    }
  }
  t.same([...new Set(seen)].sort(), ['encvalues-false-prefixa-500', 'not-listening', 'retry-500']);
  // a spool file is the POST body plus LF (README "Spool"): the same leg either way
  const posted = parse('retry-500.outbound-answered.a-leg');
  const spooled = parseCdrText(readFileSync(join(spool, 'retry-500', `${posted.uuid}.cdr.json`), 'utf8'));
  t.same(spooled, posted);
});

t.test('the Content-Type decides; without one, the shape does', async (t) => {
  const c = cdrCapture('outbound-busy.b-leg-gateway');
  t.same(parseCdrBody(c.body, undefined), parseCdrBody(c.body, 'application/json'));
  t.same(parseCdrBody(c.body, 'application/json; charset=utf-8'), parseCdrBody(c.body, 'application/json'));
  const b64 = cdrCapture('encode-base64.outbound-answered.b-leg-gateway');
  t.same(parseCdrBody(b64.body, 'text/plain'), parseCdrBody(b64.body, b64.contentType));
});

t.test('bad bodies are refused with a reason', async (t) => {
  const good = JSON.parse(cdrCapture('outbound-busy.a-leg').body.toString()) as {
    variables: Record<string, string>;
    channel_data: Record<string, string>;
    callflow: unknown;
  };
  const variant = (f: (j: typeof good) => void): string => {
    const j = structuredClone(good);
    f(j);
    return JSON.stringify(j);
  };
  const cases: Array<[string, string, string | undefined, RegExp]> = [
    ['empty', '', 'application/json', /not JSON/],
    ['not JSON', '{"core-uuid": ', 'application/json', /not JSON/],
    ['an array', '[1]', 'application/json', /not a JSON object/],
    ['no variables', '{"callflow": []}', 'application/json', /no "variables"/],
    ['bad uuid', variant((j) => (j.variables.uuid = 'x')), 'application/json', /not a channel UUID/],
    [
      'no direction',
      variant((j) => {
        delete j.variables.direction;
        delete j.channel_data.direction;
      }),
      'application/json',
      /direction/,
    ],
    [
      'no start',
      variant((j) => {
        delete j.variables.start_uepoch;
        delete j.variables.start_epoch;
      }),
      'application/json',
      /start_uepoch/,
    ],
    ['end before start', variant((j) => (j.variables.end_uepoch = '1')), 'application/json', /end_uepoch is before/],
    ['no callflow', variant((j) => delete j.callflow), 'application/json', /callflow/],
    ['form without cdr=', 'x=1', 'application/x-www-form-urlencoded', /cdr= field/],
    ['base64 that is not', 'cdr=%%%', 'application/x-www-form-base64-encoded', /not base64/],
    ['garbage', '\u0000\u0001', undefined, /neither JSON/],
  ];
  for (const [what, body, type, message] of cases) {
    t.throws(() => parseCdrBody(Buffer.from(body), type), { code: 'CDR_ERR_PARSE', message }, what);
  }
});

t.test('a literal % in a value that encode-values left alone never throws', async (t) => {
  const j = JSON.parse(cdrCapture('outbound-busy.a-leg').body.toString()) as { variables: Record<string, string> };
  j.variables.sip_from_user = '100%';
  const leg = parseCdrBody(Buffer.from(JSON.stringify(j)), 'application/json');
  t.equal(leg.vars.sip_from_user, '100%', 'a value that is not what switch_url_encode writes: values are plain');
});

t.test('credentials: mod_json_cdr cred, basic', async (t) => {
  const basic = (s: string): string => `Basic ${Buffer.from(s).toString('base64')}`;
  t.doesNotThrow(() => checkCdrCredentials(undefined, ''), 'none configured: any post');
  t.doesNotThrow(() => checkCdrCredentials(basic('fs:s3cret'), 'fs:s3cret'));
  t.throws(() => checkCdrCredentials(undefined, 'fs:s3cret'), CdrUnauthorized);
  t.throws(() => checkCdrCredentials(basic('fs:wrong'), 'fs:s3cret'), { code: 'CDR_ERR_UNAUTHORIZED' });
  t.throws(() => checkCdrCredentials('Digest x', 'fs:s3cret'), CdrUnauthorized);
});
