/**
 * How the HTTP app answers errors (httpReplyOf): a refused event says why; anything unexpected is
 * a 500 that says nothing, and the log has the whole error.
 */
import t from 'tap';
import { Writable } from 'node:stream';
import { buildApp, Unauthorized } from '../../../lib/http/app.js';
import { createLogger } from '../../../lib/log.js';

const EVENT =
  'event=ONEXTERNALCALLSTART&data[CALL_ID]=externalCall.1&auth[member_id]=m&auth[application_token]=a&auth[domain]=p.bitrix24.ru';

function app(verify: () => void) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const a = buildApp({
    log: createLogger('info', { destination: sink }),
    bodyLimit: 1024,
    events: { verify, handle: async () => {} },
    health: async () => ({ ok: true, body: {} }),
  });
  const post = (payload: string) =>
    a.inject({
      method: 'POST',
      url: '/bitrix24/events',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload,
    });
  return { a, lines, post };
}

t.test('an unexpected error while verifying an event: 500, a generic body, the error logged', async (t) => {
  const { a, lines, post } = app(() => {
    throw new Error('SQLITE_BUSY: /var/lib/fsb24/state.db is locked');
  });
  t.teardown(() => a.close());
  const res = await post(EVENT);
  t.equal(res.statusCode, 500);
  t.same(res.json(), { error: 'HTTP_ERR_INTERNAL', message: 'internal error' });
  t.match(lines, [
    { level: 50, msg: 'bitrix24 event refused', err: { type: 'Error', message: /SQLITE_BUSY/, stack: /at / } },
  ]);
});

t.test('a refused event: 401 with its code and reason, a warning', async (t) => {
  const { a, lines, post } = app(() => {
    throw new Unauthorized('application_token does not match this installation');
  });
  t.teardown(() => a.close());
  const res = await post(EVENT);
  t.equal(res.statusCode, 401);
  t.same(res.json(), { error: 'HTTP_ERR_UNAUTHORIZED', message: 'application_token does not match this installation' });
  t.match(lines, [{ level: 40, err: { code: 'HTTP_ERR_UNAUTHORIZED' } }]);
});

t.test('a body over the limit: 413; a malformed event: 400', async (t) => {
  const { a, post } = app(() => {});
  t.teardown(() => a.close());
  const big = await post(`${EVENT}&data[X]=${'x'.repeat(2000)}`);
  t.equal(big.statusCode, 413);
  t.same(big.json(), { error: 'FST_ERR_CTP_BODY_TOO_LARGE', message: 'request body is too large' });
  const bad = await post('event=ONEXTERNALCALLSTART&auth[member_id]=m&auth[application_token]=t');
  t.equal(bad.statusCode, 400);
  t.match(bad.json(), { error: 'HTTP_ERR_BAD_EVENT' });
});
