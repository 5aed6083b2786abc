/**
 * The error family (lib/errors.ts): every class's name and code, and the tables that decide what
 * happens to an error (retry it, which HTTP status, which log level) are pinned here. A change to
 * any of them is a change users see (codes appear in replies and logs): it must show up in a diff.
 */
import t from 'tap';
import { Writable } from 'node:stream';
import {
  ERROR_CODES,
  Fsb24Error,
  httpReplyOf,
  httpStatusOf,
  logLevelOf,
  retryable,
  type ErrorCode,
} from '../../lib/errors.js';
import { B24Error, type B24ErrorCode } from '../../lib/bitrix24/errors.js';
import { EslError, EslJobLost, type EslErrorCode } from '../../lib/esl/errors.js';
import { FrameError } from '../../lib/esl/frame.js';
import { EventDecodeError } from '../../lib/esl/codec.js';
import { EventParseError } from '../../lib/events/channel-event.js';
import { BadEvent } from '../../lib/bitrix24/event-body.js';
import { Unauthorized } from '../../lib/bitrix24/event-body.js';
import { InstallRefused } from '../../lib/portal/install.js';
import { ConfigError } from '../../lib/config.js';
import { UnsafeValue } from '../../lib/originate/build.js';
import { OfflineBindError } from '../../lib/offline/bind.js';
import { BadMessage, NoHolder } from '../../lib/cluster/messages.js';
import { CdrParseError, CdrUnauthorized } from '../../lib/cdr/parse.js';
import { createLogger } from '../../lib/log.js';

/** One error of each code, built by the class that carries it. */
function sample(code: ErrorCode): Fsb24Error {
  switch (code) {
    case 'ESL_ERR_JOB_TIMEOUT':
    case 'ESL_ERR_CONNECTION_LOST':
      return new EslJobLost(code, 'job-1', 'lost');
    case 'ESL_ERR_FRAME':
      return new FrameError('bad frame');
    case 'ESL_ERR_EVENT_DECODE':
      return new EventDecodeError('bad event');
    case 'EVENT_ERR_PARSE':
      return new EventParseError('no Unique-ID', undefined);
    case 'HTTP_ERR_BAD_EVENT':
      return new BadEvent('bad body');
    case 'HTTP_ERR_UNAUTHORIZED':
      return new Unauthorized('wrong application_token');
    case 'HTTP_ERR_INSTALL_REFUSED':
      return new InstallRefused('not verified');
    case 'CFG_ERR_INVALID':
      return new ConfigError('bad key');
    case 'ORIG_ERR_UNSAFE':
      return new UnsafeValue('client', 'not a phone number');
    case 'OFFLINE_ERR_BIND':
      return new OfflineBindError('ACCESS_DENIED');
    case 'CLUSTER_ERR_MESSAGE':
      return new BadMessage('originate: cmd is not text');
    case 'CLUSTER_ERR_NO_HOLDER':
      return new NoHolder('switch:default', null, 'nobody took it');
    case 'CDR_ERR_PARSE':
      return new CdrParseError('not JSON');
    case 'CDR_ERR_UNAUTHORIZED':
      return new CdrUnauthorized('no credentials');
    default:
      return code.startsWith('B24_')
        ? new B24Error(code as B24ErrorCode, 'portal', { status: 400, error: 'ERROR_CORE' })
        : new EslError(code as EslErrorCode, 'switch');
  }
}

const CODES = Object.keys(ERROR_CODES) as ErrorCode[];
const table = <T>(f: (e: Fsb24Error) => T): Record<string, T> =>
  Object.fromEntries(CODES.map((c) => [c, f(sample(c))]));

t.test('every code, with the class (name) that carries it', async (t) => {
  t.same(
    table((e) => e.name),
    {
      B24_ERR_REST: 'B24Error',
      B24_ERR_RATE_LIMIT: 'B24Error',
      B24_ERR_AUTH: 'B24Error',
      B24_ERR_NOT_INSTALLED: 'B24Error',
      B24_ERR_NETWORK: 'B24Error',
      B24_ERR_TIMEOUT: 'B24Error',
      B24_ERR_BAD_REPLY: 'B24Error',
      ESL_ERR_AUTH: 'EslError',
      ESL_ERR_CLOSED: 'EslError',
      ESL_ERR_TIMEOUT: 'EslError',
      ESL_ERR_COMMAND: 'EslError',
      ESL_ERR_UNSAFE_COMMAND: 'EslError',
      ESL_ERR_NOT_CONNECTED: 'EslError',
      ESL_ERR_FRAME: 'FrameError',
      ESL_ERR_EVENT_DECODE: 'EventDecodeError',
      ESL_ERR_JOB_TIMEOUT: 'EslJobLost',
      ESL_ERR_CONNECTION_LOST: 'EslJobLost',
      EVENT_ERR_PARSE: 'EventParseError',
      HTTP_ERR_BAD_EVENT: 'BadEvent',
      HTTP_ERR_UNAUTHORIZED: 'Unauthorized',
      HTTP_ERR_INSTALL_REFUSED: 'InstallRefused',
      CFG_ERR_INVALID: 'ConfigError',
      ORIG_ERR_UNSAFE: 'UnsafeValue',
      OFFLINE_ERR_BIND: 'OfflineBindError',
      CLUSTER_ERR_MESSAGE: 'BadMessage',
      CLUSTER_ERR_NO_HOLDER: 'NoHolder',
      CDR_ERR_PARSE: 'CdrParseError',
      CDR_ERR_UNAUTHORIZED: 'CdrUnauthorized',
    },
  );
  for (const code of CODES) {
    const e = sample(code);
    t.equal(e.code, code);
    t.ok(e instanceof Fsb24Error && e instanceof Error, `${code} is one of the family`);
    t.match(code, /^(B24|ESL|EVENT|HTTP|CFG|ORIG|OFFLINE|CDR|CLUSTER)_ERR_[A-Z_]+$/, 'one scheme: <AREA>_ERR_<WHAT>');
    t.equal(e.constructor.name, e.name, 'name is the class');
  }
});

t.test('context and cause travel with the error', async (t) => {
  const cause = new Error('ECONNRESET');
  const b = new B24Error('B24_ERR_NETWORK', 'user.get: reset', { method: 'user.get' }, { cause });
  t.same(b.context, { method: 'user.get' });
  t.equal(b.detail, b.context);
  t.equal(b.cause, cause);
  t.same(new EventParseError('x', 'abc').context, { uuid: 'abc' });
  t.equal(new EventParseError('x', 'abc').uuid, 'abc');
  t.same(new UnsafeValue('client', 'bad').context, { field: 'client' });
  t.equal(new UnsafeValue('client', 'bad').message, 'client: bad');
  t.same(new EslJobLost('ESL_ERR_JOB_TIMEOUT', 'j1', 'late').context, { jobUuid: 'j1' });
});

t.test('retryable: one rule for the whole service', async (t) => {
  t.same(table(retryable), {
    B24_ERR_REST: false,
    B24_ERR_RATE_LIMIT: true,
    B24_ERR_AUTH: true,
    B24_ERR_NOT_INSTALLED: true,
    B24_ERR_NETWORK: true,
    B24_ERR_TIMEOUT: true,
    B24_ERR_BAD_REPLY: true,
    ESL_ERR_AUTH: false,
    ESL_ERR_CLOSED: true,
    ESL_ERR_TIMEOUT: true,
    ESL_ERR_COMMAND: false,
    ESL_ERR_UNSAFE_COMMAND: false,
    ESL_ERR_NOT_CONNECTED: true,
    ESL_ERR_FRAME: true,
    ESL_ERR_EVENT_DECODE: false,
    ESL_ERR_JOB_TIMEOUT: true,
    ESL_ERR_CONNECTION_LOST: true,
    EVENT_ERR_PARSE: false,
    HTTP_ERR_BAD_EVENT: false,
    HTTP_ERR_UNAUTHORIZED: false,
    HTTP_ERR_INSTALL_REFUSED: false,
    CFG_ERR_INVALID: false,
    ORIG_ERR_UNSAFE: false,
    OFFLINE_ERR_BIND: false,
    CLUSTER_ERR_MESSAGE: false,
    CLUSTER_ERR_NO_HOLDER: true,
    CDR_ERR_PARSE: false,
    CDR_ERR_UNAUTHORIZED: false,
  });
  const rest = (status: number, error: string) => new B24Error('B24_ERR_REST', 'x', { status, error });
  t.equal(retryable(rest(500, 'ERROR_UNEXPECTED_ANSWER')), true, 'the portal failed: later');
  t.equal(retryable(rest(400, 'INTERNAL_SERVER_ERROR')), true);
  t.equal(retryable(rest(503, 'OVERLOAD_LIMIT')), true);
  t.equal(retryable(rest(400, 'ERROR_CORE')), false, 'a business error is final');
  t.equal(retryable(rest(404, 'ERROR_METHOD_NOT_FOUND')), false);
  t.equal(new B24Error('B24_ERR_BAD_REPLY', 'HTTP 403, not a JSON envelope').retryable, true, 'a proxy page: later');
  t.equal(retryable(new TypeError('a bug')), true, 'outside the family: the durable work waits, the log shows it');
});

t.test('httpStatusOf: the caller’s fault 4xx, a peer’s 502/503/504, ours 500', async (t) => {
  t.same(table(httpStatusOf), {
    B24_ERR_REST: 502,
    B24_ERR_RATE_LIMIT: 503,
    B24_ERR_AUTH: 502,
    B24_ERR_NOT_INSTALLED: 503,
    B24_ERR_NETWORK: 502,
    B24_ERR_TIMEOUT: 504,
    B24_ERR_BAD_REPLY: 502,
    ESL_ERR_AUTH: 503,
    ESL_ERR_CLOSED: 503,
    ESL_ERR_TIMEOUT: 504,
    ESL_ERR_COMMAND: 502,
    ESL_ERR_UNSAFE_COMMAND: 500,
    ESL_ERR_NOT_CONNECTED: 503,
    ESL_ERR_FRAME: 502,
    ESL_ERR_EVENT_DECODE: 502,
    ESL_ERR_JOB_TIMEOUT: 504,
    ESL_ERR_CONNECTION_LOST: 503,
    EVENT_ERR_PARSE: 502,
    HTTP_ERR_BAD_EVENT: 400,
    HTTP_ERR_UNAUTHORIZED: 401,
    HTTP_ERR_INSTALL_REFUSED: 403,
    CFG_ERR_INVALID: 500,
    ORIG_ERR_UNSAFE: 400,
    OFFLINE_ERR_BIND: 502,
    CLUSTER_ERR_MESSAGE: 500,
    CLUSTER_ERR_NO_HOLDER: 503,
    CDR_ERR_PARSE: 400,
    CDR_ERR_UNAUTHORIZED: 401,
  });
  const fastify = (statusCode: number, code: string) => Object.assign(new Error('fastify says'), { statusCode, code });
  t.equal(httpStatusOf(fastify(413, 'FST_ERR_CTP_BODY_TOO_LARGE')), 413);
  t.equal(httpStatusOf(fastify(415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE')), 415);
  t.equal(httpStatusOf(fastify(503, 'X')), 500, 'a 5xx from outside the family is ours');
  t.equal(httpStatusOf(new Error('boom')), 500);
  t.equal(httpStatusOf(undefined), 500);
});

t.test('httpReplyOf: a 4xx says what was wrong; a 5xx says nothing that could leak', async (t) => {
  t.same(httpReplyOf(new BadEvent('no data[CALL_ID]')), {
    status: 400,
    body: { error: 'HTTP_ERR_BAD_EVENT', message: 'no data[CALL_ID]' },
  });
  t.same(httpReplyOf(new Unauthorized('application_token does not match')), {
    status: 401,
    body: { error: 'HTTP_ERR_UNAUTHORIZED', message: 'application_token does not match' },
  });
  t.same(
    httpReplyOf(
      Object.assign(new Error('Request body is too large'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' }),
    ),
    {
      status: 413,
      body: { error: 'FST_ERR_CTP_BODY_TOO_LARGE', message: 'request body is too large' },
    },
  );
  t.same(httpReplyOf(new Error('ENOENT: /var/lib/secret/path')), {
    status: 500,
    body: { error: 'HTTP_ERR_INTERNAL', message: 'internal error' },
  });
  t.same(httpReplyOf(new B24Error('B24_ERR_TIMEOUT', 'user.get: no reply in time')), {
    status: 504,
    body: { error: 'B24_ERR_TIMEOUT', message: 'internal error' },
  });
});

t.test('logLevelOf: refusals and passing outages warn, the rest is an error', async (t) => {
  t.equal(logLevelOf(new BadEvent('x')), 'warn');
  t.equal(logLevelOf(new B24Error('B24_ERR_NETWORK', 'x')), 'warn');
  t.equal(logLevelOf(new EslError('ESL_ERR_AUTH', 'x')), 'error');
  t.equal(logLevelOf(new ConfigError('x')), 'error');
  t.equal(logLevelOf(new Error('a bug')), 'error');
});

t.test('logs pass { err }: stack, code, context and causes kept, secrets scrubbed', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const log = createLogger('info', { destination: sink });
  const cause = new Error('connect ECONNREFUSED https://p.bitrix24.ru/rest/1/s3cr3t/user.get.json?auth=t0ken');
  const err = new B24Error('B24_ERR_NETWORK', 'user.get: refused', { method: 'user.get' }, { cause });
  log.warn({ err }, 'bitrix24 request failed');
  const rec = JSON.parse(lines.join('')) as { err: Record<string, unknown> };
  t.match(rec.err, { type: 'B24Error', code: 'B24_ERR_NETWORK', context: { method: 'user.get' } });
  t.match(rec.err.message, /^user\.get: refused: connect ECONNREFUSED/, 'the causes are in the message');
  t.match(rec.err.stack, /B24Error: user\.get: refused[\s\S]*caused by: Error: connect ECONNREFUSED/);
  t.notMatch(lines.join(''), /s3cr3t|t0ken/);
});
