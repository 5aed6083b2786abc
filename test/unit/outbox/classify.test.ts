/** The classifier alone, table-driven: what each reply or failure means for a command's jobs. */
import t from 'tap';
import { classifyError, classifyFailure, classifyResult } from '../../../lib/outbox/classify.js';
import { B24Error } from '../../../lib/bitrix24/errors.js';
import { METHOD } from '../../../lib/outbox/commands.js';

t.test('replies', async (t) => {
  const upload = { mode: 'upload' as const, path: '/r/a.wav', name: 'a.wav', size: 9 };
  const rows: Array<[string, Parameters<typeof classifyResult>[0], unknown, unknown]> = [
    [
      'register with a CALL_ID',
      { kind: 'register' },
      { CALL_ID: 'externalCall.x.1' },
      { kind: 'done', callId: 'externalCall.x.1' },
    ],
    [
      'register without one',
      { kind: 'register' },
      { CALL_ID: '' },
      { kind: 'retry', reason: 'register: no CALL_ID in the reply' },
    ],
    ['show of a finished call (false)', { kind: 'show' }, false, { kind: 'done' }],
    [
      'two-step attach: its uploadUrl',
      { kind: 'attach', attach: upload },
      { uploadUrl: 'http://p/rest/upload.json?x', fieldName: 'file' },
      { kind: 'upload', url: 'http://p/rest/upload.json?x', field: 'file' },
    ],
    [
      'two-step attach without uploadUrl',
      { kind: 'attach', attach: upload },
      {},
      { kind: 'fail', reason: 'attachRecord gave no uploadUrl', cascade: false },
    ],
  ];
  for (const [name, c, result, want] of rows) t.same(classifyResult(c, result), want, name);
});

t.test('errors of one command', async (t) => {
  const e = (error: string, description: string, status = 400) => ({ error, description, status });
  const rows: Array<[string, string, ReturnType<typeof e>, boolean, string]> = [
    [
      'finish of a call Bitrix24 no longer knows',
      METHOD.finish,
      e('ERROR_CORE', 'Call is not found (call should be registered prior to finishing'),
      false,
      'gone',
    ],
    [
      'register refusing the employee',
      METHOD.register,
      e('ERROR_CORE', 'User is not found or is not active'),
      false,
      'default-user',
    ],
    [
      '… and refusing the default user too',
      METHOD.register,
      e('ERROR_CORE', 'User is not found or is not active'),
      true,
      'fail',
    ],
    [
      'the method is over its server time',
      METHOD.attach,
      e('OPERATION_TIME_LIMIT', 'Method is blocked due to operation time limit.', 429),
      false,
      'held',
    ],
    ['an internal error of the portal', METHOD.show, e('INTERNAL_SERVER_ERROR', '', 500), false, 'retry'],
    [
      'a business error',
      METHOD.attach,
      e('ERROR_CORE', 'Wrong file extension. Only wav and mp3 are allowed'),
      false,
      'fail',
    ],
  ];
  for (const [name, method, err, forDefault, want] of rows)
    t.equal(classifyError({ kind: 'finish', method }, err, forDefault).kind, want, name);
  const reg = classifyError({ kind: 'register', method: METHOD.register }, e('ERROR_CORE', 'Unknown TYPE'), false);
  t.same(
    reg,
    { kind: 'fail', reason: `${METHOD.register}: ERROR_CORE: Unknown TYPE`, cascade: true },
    'a failed register dooms its call',
  );
});

t.test('a whole request failed', async (t) => {
  const rows: Array<[string, unknown, string]> = [
    ['connection refused', new B24Error('B24_ERR_NETWORK', 'batch: ECONNREFUSED'), 'down'],
    ['no reply in time', new B24Error('B24_ERR_TIMEOUT', 'batch: no reply in time'), 'down'],
    ['HTTP 500', new B24Error('B24_ERR_REST', 'batch: HTTP 500', { status: 500 }), 'down'],
    ['not installed yet', new B24Error('B24_ERR_NOT_INSTALLED', 'no tokens'), 'down'],
    [
      'the bucket is full',
      new B24Error('B24_ERR_RATE_LIMIT', 'QUERY_LIMIT_EXCEEDED', { error: 'QUERY_LIMIT_EXCEEDED', status: 503 }),
      'throttled',
    ],
    [
      'one method over its time',
      new B24Error('B24_ERR_RATE_LIMIT', 'x', { error: 'OPERATION_TIME_LIMIT', status: 429 }),
      'command',
    ],
    [
      'a business error of a single call',
      new B24Error('B24_ERR_REST', 'x', { error: 'ERROR_CORE', description: 'Unknown TYPE', status: 400 }),
      'command',
    ],
  ];
  for (const [name, err, want] of rows) t.equal(classifyFailure(err).kind, want, name);
});
