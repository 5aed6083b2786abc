/** Golden strings: the exact originate commands FreeSWITCH receives. */
import t from 'tap';
import {
  callbackCommand,
  callbackUsesContext,
  clickToCallCommand,
  phoneNumber,
  UnsafeValue,
} from '../../../lib/originate/build.js';

const base = {
  aLeg: 'fadac485-9956-4d05-bc48-cdc296d57620',
  bLeg: 'c379e7c2-a370-43a3-b22c-f4bdab5a12aa',
  extension: '1001',
  client: '+79161234567',
  gateway: 'pstn',
  callerId: '4951234567',
  b24CallId: 'externalCall.5f1e0a.1773236989',
  line: '4951234567',
  ringSeconds: 30,
  kind: 'click2call' as const,
  recordDir: '/var/lib/freeswitch/recordings',
};
const nothingToSay = {
  kind: 'callback' as const,
  text: 'Callback from the site',
  voice: 'default',
  ttsEngine: null,
  promptFile: null,
  context: 'freeswitch-bitrix24',
};

t.test('click-to-call: employee first, recorded from the answer, then the client through the gateway', async (t) => {
  t.equal(
    clickToCallCommand(base),
    "originate {origination_uuid=fadac485-9956-4d05-bc48-cdc296d57620,origination_caller_id_number=+79161234567,origination_caller_id_name=+79161234567,effective_caller_id_number=4951234567,ignore_early_media=true,originate_timeout=30,b24_call_id=externalCall.5f1e0a.1773236989,b24_kind=click2call,b24_client=+79161234567,b24_line=4951234567,execute_on_answer='record_session /var/lib/freeswitch/recordings/fadac485-9956-4d05-bc48-cdc296d57620.wav'}user/1001 &bridge({origination_uuid=c379e7c2-a370-43a3-b22c-f4bdab5a12aa,origination_caller_id_number=4951234567}sofia/gateway/pstn/+79161234567)",
  );
  t.equal(
    clickToCallCommand({ ...base, recordDir: null }),
    'originate {origination_uuid=fadac485-9956-4d05-bc48-cdc296d57620,origination_caller_id_number=+79161234567,origination_caller_id_name=+79161234567,effective_caller_id_number=4951234567,ignore_early_media=true,originate_timeout=30,b24_call_id=externalCall.5f1e0a.1773236989,b24_kind=click2call,b24_client=+79161234567,b24_line=4951234567}user/1001 &bridge({origination_uuid=c379e7c2-a370-43a3-b22c-f4bdab5a12aa,origination_caller_id_number=4951234567}sofia/gateway/pstn/+79161234567)',
    'FSB24_RECORD_PLACED_CALLS=false: no recording asked for',
  );
  t.match(
    clickToCallCommand({ ...base, recordDir: '/srv/rec/' }),
    /,execute_on_answer='record_session \/srv\/rec\/fadac485-9956-4d05-bc48-cdc296d57620\.wav'\}/,
    'a trailing slash is not doubled',
  );
  t.match(
    clickToCallCommand({ ...base, domain: 'pbx.example.com', line: null }),
    /\}user\/1001@pbx\.example\.com &bridge/,
  );
});

t.test('callback with nothing to say: the originate itself bridges to the client, no dialplan context', async (t) => {
  t.equal(
    callbackCommand({ ...base, ...nothingToSay }),
    "originate {origination_uuid=fadac485-9956-4d05-bc48-cdc296d57620,origination_caller_id_number=+79161234567,origination_caller_id_name=+79161234567,effective_caller_id_number=4951234567,ignore_early_media=true,originate_timeout=30,b24_call_id=externalCall.5f1e0a.1773236989,b24_kind=callback,b24_client=+79161234567,b24_line=4951234567,execute_on_answer='record_session /var/lib/freeswitch/recordings/fadac485-9956-4d05-bc48-cdc296d57620.wav'}user/1001 &bridge({origination_uuid=c379e7c2-a370-43a3-b22c-f4bdab5a12aa,origination_caller_id_number=4951234567}sofia/gateway/pstn/+79161234567)",
  );
  t.notMatch(
    callbackCommand({ ...base, ...nothingToSay, ttsEngine: 'flite', text: '{}' }),
    /XML/,
    'a TTS engine with no text to speak: nothing to say either',
  );
  t.equal(callbackUsesContext({ ttsEngine: null, promptFile: null }), false);
  t.equal(callbackUsesContext({ ttsEngine: 'flite', promptFile: null }), true);
  t.equal(callbackUsesContext({ ttsEngine: null, promptFile: '/srv/prompt.wav' }), true);
});

t.test('callback with something to say: into the shipped context, text whitelisted and quoted', async (t) => {
  t.equal(
    callbackCommand({
      ...base,
      kind: 'callback',
      text: 'Callback, ordered {from} the site!',
      voice: 'slt',
      ttsEngine: 'flite',
      promptFile: null,
      context: 'freeswitch-bitrix24',
    }),
    "originate {origination_uuid=fadac485-9956-4d05-bc48-cdc296d57620,origination_caller_id_number=+79161234567,origination_caller_id_name=+79161234567,effective_caller_id_number=4951234567,ignore_early_media=true,originate_timeout=30,b24_call_id=externalCall.5f1e0a.1773236989,b24_kind=callback,b24_client=+79161234567,b24_line=4951234567,execute_on_answer='record_session /var/lib/freeswitch/recordings/fadac485-9956-4d05-bc48-cdc296d57620.wav',b24_tts_engine=flite,b24_tts_voice=slt,b24_text='Callback ordered from the site!',b24_gateway=pstn,b24_callee_uuid=c379e7c2-a370-43a3-b22c-f4bdab5a12aa}user/1001 b24_callback XML freeswitch-bitrix24",
  );
  t.equal(
    callbackCommand({
      ...base,
      ...nothingToSay,
      recordDir: null,
      promptFile: '/usr/share/freeswitch/sounds/en/us/callie/ivr/8000/ivr-please_hold.wav',
    }),
    'originate {origination_uuid=fadac485-9956-4d05-bc48-cdc296d57620,origination_caller_id_number=+79161234567,origination_caller_id_name=+79161234567,effective_caller_id_number=4951234567,ignore_early_media=true,originate_timeout=30,b24_call_id=externalCall.5f1e0a.1773236989,b24_kind=callback,b24_client=+79161234567,b24_line=4951234567,b24_prompt=/usr/share/freeswitch/sounds/en/us/callie/ivr/8000/ivr-please_hold.wav,b24_gateway=pstn,b24_callee_uuid=c379e7c2-a370-43a3-b22c-f4bdab5a12aa}user/1001 b24_callback XML freeswitch-bitrix24',
  );
});

t.test('every dangerous character in every field is refused', async (t) => {
  const bad = [',', '}', '{', "'", '^', '&', ' x', '\n', '\r', '%', '$', '|', ';', '(', '\\', '`'];
  for (const ch of bad) {
    t.throws(() => phoneNumber('n', `7916${ch}123`), UnsafeValue, `number with ${JSON.stringify(ch)}`);
    t.throws(
      () => clickToCallCommand({ ...base, extension: `10${ch}1` }),
      UnsafeValue,
      `extension with ${JSON.stringify(ch)}`,
    );
    t.throws(
      () => clickToCallCommand({ ...base, gateway: `pstn${ch}` }),
      UnsafeValue,
      `gateway with ${JSON.stringify(ch)}`,
    );
    t.throws(
      () => clickToCallCommand({ ...base, b24CallId: `externalCall${ch}x` }),
      UnsafeValue,
      `CALL_ID with ${JSON.stringify(ch)}`,
    );
    t.throws(
      () => clickToCallCommand({ ...base, recordDir: `/srv/rec${ch}x` }),
      UnsafeValue,
      `recordings directory with ${JSON.stringify(ch)}`,
    );
    t.throws(
      () => callbackCommand({ ...base, ...nothingToSay, promptFile: `/srv/p${ch}.wav` }),
      UnsafeValue,
      `prompt file with ${JSON.stringify(ch)}`,
    );
  }
  t.throws(
    () => clickToCallCommand({ ...base, recordDir: 'relative/dir' }),
    UnsafeValue,
    'a relative recordings directory',
  );
  t.throws(
    () => clickToCallCommand({ ...base, recordDir: '/srv/../etc' }),
    UnsafeValue,
    '.. in the recordings directory',
  );
  t.throws(() => phoneNumber('n', '+7 (916) 123-45.67'), UnsafeValue, 'formatting is refused too');
  t.equal(phoneNumber('n', '+79161234567'), '+79161234567');
  t.throws(() => phoneNumber('n', '12'), UnsafeValue, 'too short');
  t.throws(() => phoneNumber('n', '12345678901234567'), UnsafeValue, 'too long');
});
