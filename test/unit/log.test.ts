/**
 * Redaction is precise: secrets never reach the log, and the URLs logged on purpose (the
 * listen address, the handler bound at Bitrix24) do, with only a secret inside them hidden.
 */
import t from 'tap';
import { sink } from '../helpers/log-sink.js';
import { createLogger, scrub } from '../../lib/log.js';
import { stack } from '../helpers/stack.js';
import { inboundCall } from '../../lib/sim/freeswitch/index.js';

t.test('a secret key is hidden whole; a URL or an error keeps all but its secret', async (t) => {
  const s = sink();
  const log = createLogger('info', { destination: s.stream });
  log.info({ url: 'http://127.0.0.1:8090' }, 'listen address');
  log.info({ handler: 'https://pbx.example.com/bitrix24/events' }, 'bound');
  log.info(
    {
      url: 'https://example.bitrix24.com/rest/1/w3bh00ks3cret/',
      uploadUrl: 'https://example.bitrix24.com/upload/?auth=upl0adt0ken&x=1',
    },
    'webhook',
  );
  log.info({ req: { url: '/recordings/aWQ/x.wav?exp=1&sig=s1gnatur3' } }, 'fetch');
  log.info({ url: 'https://admin:p4ssw0rd@proxy.example.com/' }, 'proxy');
  log.warn(
    { err: new Error('POST https://example.bitrix24.com/rest/7/an0th3rs3cret/batch.json: refresh_token=r3fr3sh') },
    'failed',
  );
  log.info(
    { esl: { password: 'esl-p4ss' }, b24: { webhookUrl: 'https://x/rest/1/wh2/', clientSecret: 'cl13nts3cret' } },
    'config',
  );
  log.info(
    {
      tokens: { accessToken: 'acc3ss', refreshToken: 'r3fr', applicationToken: 'appt0k' },
      access_token: 'at0k',
      auth: { application_token: 'apt' },
    },
    'tokens',
  );
  const out = s.text();
  for (const secret of [
    'w3bh00ks3cret',
    'upl0adt0ken',
    's1gnatur3',
    'p4ssw0rd',
    'an0th3rs3cret',
    'r3fr3sh',
    'esl-p4ss',
    'wh2',
    'cl13nts3cret',
    'acc3ss',
    'r3fr"',
    'appt0k',
    'at0k',
    '"apt"',
  ]) {
    t.notMatch(out, secret, `${secret} never logged`);
  }
  for (const kept of [
    '"url":"http://127.0.0.1:8090"',
    '"handler":"https://pbx.example.com/bitrix24/events"',
    'https://example.bitrix24.com/rest/1/[redacted]/',
    'https://example.bitrix24.com/upload/?auth=[redacted]&x=1',
    '/recordings/aWQ/x.wav?exp=1&sig=[redacted]',
    'https://admin:[redacted]@proxy.example.com/',
    'POST https://example.bitrix24.com/rest/7/[redacted]/batch.json: refresh_token=[redacted]',
  ]) {
    t.ok(out.includes(kept), `${kept} logged`);
  }
});

t.test("the browser connect's one-time state and code are hidden in a logged URL", async (t) => {
  t.equal(
    scrub('GET https://pbx.example.com/bitrix24/oauth/callback?code=c0de&state=5tate&domain=x.bitrix24.com'),
    'GET https://pbx.example.com/bitrix24/oauth/callback?code=[redacted]&state=[redacted]&domain=x.bitrix24.com',
  );
  t.equal(
    scrub('https://x.bitrix24.com/oauth/authorize/?client_id=local.1&state=5tate'),
    'https://x.bitrix24.com/oauth/authorize/?client_id=local.1&state=[redacted]',
  );
  t.equal(scrub('lease state=held, exit code=0'), 'lease state=held, exit code=0', 'not outside a query');
});

t.test('scrub leaves the OAuth REST path and ordinary text alone', async (t) => {
  t.equal(
    scrub('https://example.bitrix24.com/rest/telephony.externalcall.register.json'),
    'https://example.bitrix24.com/rest/telephony.externalcall.register.json',
  );
  t.equal(
    scrub('event socket connect failed: connect ECONNREFUSED 127.0.0.1:8021'),
    'event socket connect failed: connect ECONNREFUSED 127.0.0.1:8021',
  );
});

t.test('a whole install and call logged at trace: no secret in the output, the listen URL in it', async (t) => {
  const s = sink();
  const st = await stack(t, { log: createLogger('trace', { destination: s.stream }) });
  const r = await inboundCall(st.sim.sw, {
    caller: '+79161234567',
    did: '4951234567',
    extensions: ['1001'],
    talkMs: 2000,
  });
  await st.portal.journal.next((e) => e.method === 'telephony.externalcall.finish');
  await st.service.portal.outbox.idle();
  const tokens = (await st.service.store.tokens())!;
  const out = s.text();
  t.ok(r.uuid && out.includes(r.uuid), 'the call is in the log');
  for (const [name, secret] of Object.entries({
    clientSecret: st.portal.app.clientSecret,
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    applicationToken: tokens.applicationToken,
    eslPassword: `"${st.config.esl.password}"`,
  })) {
    t.notOk(out.includes(secret), `${name} never logged`);
  }
  t.ok(
    out.includes(`"url":"${st.service.url}"`),
    'the listen URL the handlers were bound to is logged (FSB24_PUBLIC_URL unset)',
  );
});
