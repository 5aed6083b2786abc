/**
 * Originate strings from whitelisted values only (freeswitch-esl.md §4): numbers are
 * digits with an optional leading +, extensions digits, names from config, UUIDs ours.
 * Anything else is rejected, never escaped into place. Pinned by golden tests.
 */
import { Fsb24Error } from '../errors.js';
import { EXTENSION, PHONE, UUID } from '../patterns.js';

export class UnsafeValue extends Fsb24Error<'ORIG_ERR_UNSAFE', { field: string }> {
  override readonly name = 'UnsafeValue';
  constructor(field: string, message: string) {
    super('ORIG_ERR_UNSAFE', `${field}: ${message}`, { field });
  }

  /** Which value was refused. */
  get field(): string {
    return this.context.field;
  }
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const CALL_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** A phone number: 3 to 16 digits with an optional leading +, nothing else (no spaces either). */
export const phoneNumber = only(
  PHONE,
  'must be 3 to 16 digits with an optional leading + (no spaces or other characters)',
);

/** A checker that lets through only what matches `re`, else says what the field must be. */
function only(re: RegExp, what: string): (field: string, v: string) => string {
  return (field, v) => {
    if (!re.test(v)) throw new UnsafeValue(field, what);
    return v;
  };
}

export const extension = only(EXTENSION, 'an extension is 2 to 8 digits');
export const configName = only(NAME, 'names from config are letters, digits, _ . -');
export const uuid = only(UUID, 'not a lowercase UUID');
export const callId = only(CALL_ID, 'a CALL_ID is letters, digits, . _ -');

/** An absolute path of letters, digits, _ . - / (no `..`): a recordings directory, a prompt file. */
export function absolutePath(field: string, v: string): string {
  if (!/^\/[A-Za-z0-9_./-]{0,200}$/.test(v) || v.split('/').includes('..')) {
    throw new UnsafeValue(field, 'an absolute path of letters, digits, _ . - /');
  }
  return v;
}

/** Free text for a prompt: letters, digits, spaces and . ? ! - only, at most 200 characters, quoted. */
export function promptText(v: string): string {
  const kept = v
    .replace(/[^\p{L}\p{N} .?!-]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
  return kept;
}

export interface Vars {
  [name: string]: string;
}

function varBlock(vars: Vars): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(vars)) {
    if (!NAME.test(k)) throw new UnsafeValue(k, 'variable name');
    if (/[,{}[\]'^\r\n$\\]/.test(v)) throw new UnsafeValue(k, 'value holds a character FreeSWITCH would interpret');
    parts.push(/[ ]/.test(v) ? `${k}='${v}'` : `${k}=${v}`);
  }
  return `{${parts.join(',')}}`;
}

export interface ClickToCall {
  aLeg: string;
  /**
   * Record the call from the employee's answer into `<recordDir>/<aLeg>.wav`
   * (`execute_on_answer=record_session …`, fixtures/esl/click2call-recorded); null: not recorded.
   */
  recordDir: string | null;
  bLeg: string;
  extension: string;
  domain?: string;
  client: string;
  gateway: string;
  callerId: string;
  b24CallId: string;
  line: string | null;
  ringSeconds: number;
  kind: 'click2call' | 'callback';
}

/**
 * Ring the employee first; when they answer, bridge to the client through the gateway
 * (freeswitch-esl.md §3.4, as in fixtures/esl/click2call-answered).
 */
export function clickToCallCommand(c: ClickToCall): string {
  const a = uuid('origination_uuid', c.aLeg);
  const b = uuid('origination_uuid', c.bLeg);
  const ext = extension('extension', c.extension);
  const client = phoneNumber('client', c.client);
  const gw = configName('gateway', c.gateway);
  const cid = phoneNumber('caller_id', c.callerId);
  const vars: Vars = {
    origination_uuid: a,
    origination_caller_id_number: client,
    origination_caller_id_name: client,
    effective_caller_id_number: cid,
    ignore_early_media: 'true',
    originate_timeout: String(Math.max(5, Math.min(120, Math.round(c.ringSeconds)))),
    b24_call_id: callId('CALL_ID', c.b24CallId),
    b24_kind: c.kind,
    b24_client: client,
  };
  if (c.line) vars.b24_line = phoneNumber('line', c.line);
  if (c.recordDir) {
    const dir = absolutePath('record_dir', c.recordDir).replace(/\/+$/, '');
    vars.execute_on_answer = `record_session ${dir}/${a}.wav`;
  }
  const target = c.domain ? `user/${ext}@${configName('domain', c.domain)}` : `user/${ext}`;
  const bridge = `${varBlock({ origination_uuid: b, origination_caller_id_number: cid })}sofia/gateway/${gw}/${client}`;
  return `originate ${varBlock(vars)}${target} &bridge(${bridge})`;
}

export interface Callback extends ClickToCall {
  /** What the employee hears before the client is dialled. */
  text: string;
  voice: string;
  ttsEngine: string | null;
  promptFile: string | null;
  context: string;
}

/** Whether callbacks go through the dialplan context (something to say is configured): `check` verifies it then. */
export function callbackUsesContext(c: { ttsEngine: string | null; promptFile: string | null }): boolean {
  return Boolean(c.ttsEngine || c.promptFile);
}

/**
 * Callback. With something to say (TTS of the text, or the prompt file), ring the employee
 * into our dialplan context, which says it and then bridges to the client
 * (conf/freeswitch/dialplan/freeswitch-bitrix24-context.xml). With nothing to say, the
 * originate itself rings the employee and bridges to the client, as click-to-call does,
 * so no context has to be installed.
 */
export function callbackCommand(c: Callback): string {
  const base = clickToCallCommand(c);
  const vars: Vars = {};
  const text = c.ttsEngine ? promptText(c.text) : '';
  if (c.ttsEngine && text) {
    vars.b24_tts_engine = configName('tts_engine', c.ttsEngine);
    vars.b24_tts_voice = configName('voice', c.voice || 'default');
    vars.b24_text = text;
  } else if (c.promptFile) {
    vars.b24_prompt = absolutePath('prompt_file', c.promptFile);
  } else {
    return base;
  }
  vars.b24_gateway = configName('gateway', c.gateway);
  vars.b24_callee_uuid = uuid('origination_uuid', c.bLeg);
  const extra = varBlock(vars).slice(1, -1);
  // same first leg as click-to-call, but the call continues in our dialplan context
  const head = base.slice(0, base.indexOf('}'));
  const target = base.slice(base.indexOf('}') + 1, base.indexOf(' &bridge('));
  return `${head},${extra}}${target} b24_callback XML ${configName('context', c.context)}`;
}
