/**
 * The named Bitrix24 predicates on the errors the portal really gives (the emulator answers with the
 * texts of bitrix24-telephony.md): each one says yes to its answer and no to everyone else's.
 */
import t from 'tap';
import { startBitrix24Emulator } from '../../../lib/sim/bitrix24/index.js';
import {
  B24Error,
  isAlreadyBound,
  isCallNotFound,
  isInvalidGrant,
  isLineExists,
  isUserNotFound,
} from '../../../lib/bitrix24/errors.js';
import { createLogger } from '../../../lib/log.js';
import { installedClient } from '../../helpers/tokens.js';

const PREDICATES = { isAlreadyBound, isCallNotFound, isInvalidGrant, isLineExists, isUserNotFound };
type Name = keyof typeof PREDICATES;

/** Which predicates say yes to `err`. */
const verdicts = (err: unknown): Name[] => (Object.keys(PREDICATES) as Name[]).filter((n) => PREDICATES[n](err));

t.test('each predicate recognises its own answer from the portal, and only that one', async (t) => {
  const emu = await startBitrix24Emulator();
  emu.state.addUser({ ID: 1, UF_PHONE_INNER: '1001' });
  emu.state.addUser({ ID: 3, UF_PHONE_INNER: '1003', ACTIVE: false });
  const { client, store } = await installedClient(emu, createLogger('silent'));
  t.teardown(async () => {
    await client.close();
    await emu.close();
  });
  const fail = (method: string, params: Record<string, unknown> = {}): Promise<unknown> =>
    client.call(method, params).then(
      () => t.fail(`${method} should fail`),
      (e: unknown) => e,
    );

  const register = { PHONE_NUMBER: '+79161234567', TYPE: 2, LINE_NUMBER: '4951234567', EXTERNAL_CALL_ID: 'x-1' };
  t.same(verdicts(await fail('telephony.externalcall.finish', { CALL_ID: 'externalCall.none', USER_ID: 1 })), [
    'isCallNotFound',
  ]);
  const { CALL_ID } = await client.call<{ CALL_ID: string }>('telephony.externalcall.register', {
    ...register,
    USER_ID: 1,
  });
  await client.call('telephony.externalcall.finish', { CALL_ID, USER_ID: 1, DURATION: 3 });
  t.same(verdicts(await fail('telephony.externalcall.finish', { CALL_ID, USER_ID: 1 })), ['isCallNotFound'], 'twice');
  const early = await fail('telephony.externalCall.attachRecord', { CALL_ID: 'externalCall.none', FILENAME: 'a.wav' });
  t.same(verdicts(early), [], 'attachRecord before finish is another answer');

  t.same(verdicts(await fail('telephony.externalcall.register', { ...register, USER_PHONE_INNER: '9999' })), [
    'isUserNotFound',
  ]);
  t.same(verdicts(await fail('telephony.externalcall.register', { ...register, USER_ID: 77 })), ['isUserNotFound']);
  t.same(verdicts(await fail('telephony.externalcall.register', { ...register, USER_ID: 3 })), ['isUserNotFound']);
  t.same(verdicts(await fail('telephony.externalcall.register', { ...register, USER_ID: 1, TYPE: 9 })), []);

  await client.call('telephony.externalLine.add', { NUMBER: '4957654321', NAME: 'Main' });
  t.same(verdicts(await fail('telephony.externalLine.add', { NUMBER: '4957654321' })), ['isLineExists']);
  t.same(verdicts(await fail('telephony.externalLine.add', { NUMBER: '' })), []);

  const bind = { event: 'onExternalCallStart', handler: 'http://svc.example.test/bitrix24/events' };
  await client.call('event.bind', bind);
  t.same(verdicts(await fail('event.bind', bind)), ['isAlreadyBound']);
  t.same(verdicts(await fail('event.bind', { ...bind, handler: 'http://localhost/x' })), []);

  const tokens = (await store.tokens())!;
  await store.setTokens({ ...tokens, refreshToken: 'spent' });
  emu.expireTokens();
  t.same(verdicts(await fail('user.get')), ['isInvalidGrant']);
});

t.test('predicates read codes, not messages: the same text in another error is not the answer', async (t) => {
  const texts = [
    'Call is not found (call should be registered prior to finishing',
    'User is not found or is not active',
    'Unable to set event handler: Handler already binded',
    'Line already exists',
  ];
  for (const text of texts) {
    t.same(verdicts(new Error(text)), [], `a plain Error: ${text}`);
    t.same(verdicts(new B24Error('B24_ERR_BAD_REPLY', text, { description: text })), [], `not a REST answer: ${text}`);
    t.same(verdicts(new B24Error('B24_ERR_REST', 'x', { error: 'ERROR_ARGUMENT', description: text })), []);
  }
  t.same(verdicts(new B24Error('B24_ERR_AUTH', 'refused', { error: 'invalid_client' })), []);
  t.same(verdicts(undefined), []);
});
