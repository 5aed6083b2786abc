/**
 * The edge for CDRs: what mod_json_cdr (FreeSWITCH 1.11.1) POSTs and spools becomes a typed
 * `CdrLeg`, or a `CdrParseError` that says why. Every fact used here is in
 * test/fixtures/cdr/README.md (the captures): one CDR per leg, B legs name their A leg in
 * `originating_leg_uuid`, the numbers are only in `callflow`, the recording path only in
 * `app_log`, every value in `variables` URL-encoded unless `encode-values=false`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Fsb24Error } from '../errors.js';
import { UUID } from '../patterns.js';
import { percentDecode } from '../esl/codec.js';
import { MODEL_VARS } from '../events/channel-event.js';

export class CdrParseError extends Fsb24Error<'CDR_ERR_PARSE', { uuid: string | undefined }> {
  override readonly name = 'CdrParseError';
  constructor(message: string, uuid?: string) {
    super('CDR_ERR_PARSE', message, { uuid });
  }
}

export class CdrUnauthorized extends Fsb24Error<'CDR_ERR_UNAUTHORIZED', Record<string, never>> {
  override readonly name = 'CdrUnauthorized';
  constructor(message: string) {
    super('CDR_ERR_UNAUTHORIZED', message, {});
  }
}

/**
 * mod_json_cdr's `cred` (`user:password`, basic auth by default): when credentials are configured,
 * a POST must carry them (compared in constant time); else any POST is taken.
 */
export function checkCdrCredentials(authorization: string | undefined, credentials: string): void {
  if (!credentials) return;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
  if (!m) throw new CdrUnauthorized('no basic credentials (mod_json_cdr cred, FSB24_CDR_CREDENTIALS)');
  const given = createHash('sha256')
    .update(Buffer.from(m[1] as string, 'base64'))
    .digest();
  const wanted = createHash('sha256').update(credentials, 'utf8').digest();
  if (!timingSafeEqual(given, wanted)) throw new CdrUnauthorized('wrong credentials (FSB24_CDR_CREDENTIALS)');
}

/** One leg's CDR, as much of it as the call model and the back-fill read. Plain data (stored as JSON). */
export interface CdrLeg {
  uuid: string;
  /** On a B leg the A leg's uuid (`originating_leg_uuid`); null on the A leg, which is the call. */
  originator: string | null;
  direction: 'inbound' | 'outbound';
  channelName: string;
  /** The numbers of the leg's first caller profile (`callflow`): as the leg was created. */
  callerNumber: string;
  destination: string;
  /** µs since the epoch; 0 when it did not happen. */
  startUs: number;
  answerUs: number;
  bridgeUs: number;
  endUs: number;
  hangupCause: string;
  /** Other legs it names: bridged to, or originated (the A leg of a ring group names every phone's leg). */
  partners: string[];
  /** Files its `record_session` wrote (app_log, expanded), when the recorder really ran. */
  recordings: string[];
  /** The channel variables the call model reads (lib/events MODEL_VARS and the configured extras), decoded. */
  vars: Record<string, string>;
}

export interface ParseOptions {
  /** Variables kept besides MODEL_VARS (the recording variable). */
  extraVars?: readonly string[];
}

const ENCODE_TRUE_FIX =
  'with encode=true FreeSWITCH leaves the %XX already in a value as it is, so with encode-values=true a ' +
  "value's %22 decodes to a quote: set encode=false in json_cdr.conf.xml (conf/freeswitch/autoload_configs)";

/** A POST body as it arrived, by its Content-Type (fixtures/cdr/README.md "Body"). */
export function parseCdrBody(body: Buffer | string, contentType: string | undefined, o: ParseOptions = {}): CdrLeg {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/json') return fromJsonText(text, o);
  if (type === 'application/x-www-form-base64-encoded') return fromBase64(cdrField(text), o);
  if (type === 'application/x-www-form-urlencoded') return fromUrlEncoded(cdrField(text), o);
  // another (or no) content type: by the shape, as a spool file is read
  return parseCdrText(text.startsWith('cdr=') ? text.slice(4) : text, o);
}

/**
 * A spool file (err-log-dir): the POST body without `cdr=`, plus one LF (fixtures/cdr/spool). A file
 * without that LF may still be being written: the caller decides (lib/cdr/spool.ts).
 */
export function parseCdrText(text: string, o: ParseOptions = {}): CdrLeg {
  const t = text.replace(/\n$/, '');
  if (t.startsWith('{')) return fromJsonText(t, o);
  if (/^%7B/i.test(t)) return fromUrlEncoded(t, o);
  if (/^[A-Za-z0-9+/]/.test(t)) return fromBase64(t, o);
  throw new CdrParseError('neither JSON, URL-encoded JSON nor base64 (what mod_json_cdr writes)');
}

function cdrField(text: string): string {
  if (!text.startsWith('cdr=')) throw new CdrParseError('a form body without the cdr= field mod_json_cdr sends');
  return text.slice(4);
}

function fromJsonText(text: string, o: ParseOptions): CdrLeg {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CdrParseError(`the CDR is not JSON: ${(err as Error).message}`);
  }
  return cdrFromJson(json, o);
}

/** Base64 is taken as it is: form-decoding would turn a `+` into a space (fixtures/cdr/README.md). */
function fromBase64(b64: string, o: ParseOptions): CdrLeg {
  const t = b64.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t)) throw new CdrParseError('encode=base64: the cdr value is not base64');
  return fromJsonText(Buffer.from(t, 'base64').toString('utf8'), o);
}

function fromUrlEncoded(s: string, o: ParseOptions): CdrLeg {
  let json: unknown;
  try {
    json = JSON.parse(percentDecode(s));
  } catch {
    throw new CdrParseError(`encode=true: the cdr value does not decode to JSON (${ENCODE_TRUE_FIX})`);
  }
  return cdrFromJson(json, o);
}

/** switch_url_encode's output: what a value looks like when `encode-values=true` encoded it. */
const ENCODED = /^(?:[!$'()*,\-./0-9A-Z_a-z~]|%[0-9A-F]{2})*$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** The parsed JSON object of one CDR → its leg. */
export function cdrFromJson(json: unknown, o: ParseOptions = {}): CdrLeg {
  if (!isObject(json)) throw new CdrParseError('the CDR is not a JSON object');
  const rawVars = json.variables;
  if (!isObject(rawVars)) throw new CdrParseError('the CDR has no "variables" object');
  const raw = new Map<string, string>();
  for (const [k, v] of Object.entries(rawVars)) if (typeof v === 'string') raw.set(k, v);
  // encode-values=true encodes every value; with false, some value always shows a plain @ : or space
  const encoded = [...raw.values()].every((v) => ENCODED.test(v));
  const get = (name: string): string | undefined => {
    const v = raw.get(name);
    return v === undefined ? undefined : encoded ? percentDecode(v) : v;
  };
  const uuid = (get('uuid') ?? '').toLowerCase();
  if (!UUID.test(uuid)) throw new CdrParseError('variables.uuid is not a channel UUID');
  const fail = (why: string): never => {
    throw new CdrParseError(why, uuid);
  };
  const channelData = isObject(json.channel_data) ? json.channel_data : {};
  const direction = get('direction') ?? str(channelData.direction);
  if (direction !== 'inbound' && direction !== 'outbound') fail(`direction is "${direction}"`);
  const origin = get('originating_leg_uuid')?.toLowerCase();
  if (origin !== undefined && !UUID.test(origin)) fail('originating_leg_uuid is not a UUID');
  const us = (name: string, required: boolean): number => {
    const micro = get(`${name}_uepoch`);
    const sec = get(`${name}_epoch`);
    if (micro === undefined && sec === undefined) return required ? fail(`${name}_uepoch is missing`) : 0;
    const n = micro !== undefined ? Number(micro) : Number(sec) * 1e6;
    if (!Number.isSafeInteger(n) || n < 0 || (required && n === 0)) return fail(`${name}_uepoch is not a time`);
    return n;
  };
  const startUs = us('start', true);
  const endUs = us('end', true);
  if (endUs < startUs) fail('end_uepoch is before start_uepoch');
  const profiles = callflowProfiles(json.callflow, fail);
  const first = profiles.first;
  const callerNumber = str(first.caller_id_number);
  const destination = str(first.destination_number);
  const vars: Record<string, string> = {};
  for (const name of [...MODEL_VARS, ...(o.extraVars ?? [])]) {
    const v = get(name);
    if (v !== undefined && v !== '') vars[name] = v;
  }
  const partners = new Set<string>(profiles.originatees);
  for (const name of ['bridge_uuid', 'last_bridge_to', 'originated_legs'])
    for (const u of uuidsIn(get(name))) partners.add(u);
  partners.delete(uuid);
  const recorded = ['record_ms', 'record_seconds', 'record_samples', 'record_file_size'].some((n) => raw.has(n));
  return {
    uuid,
    originator: origin && origin !== uuid ? origin : null,
    direction: direction as 'inbound' | 'outbound',
    channelName: str(first.chan_name) || (get('channel_name') ?? ''),
    callerNumber,
    destination,
    startUs,
    answerUs: us('answer', false),
    bridgeUs: us('bridge', false),
    endUs,
    hangupCause: get('hangup_cause') ?? '',
    partners: [...partners],
    recordings: recorded ? recordSessions(json.app_log) : [],
    vars,
  };
}

/**
 * `callflow`: one entry per caller profile (a transfer adds one). The leg's first profile
 * (lowest `profile_index`) has the numbers it was created with; every profile's originatees are
 * the legs it dialled.
 */
function callflowProfiles(
  callflow: unknown,
  fail: (why: string) => never,
): { first: Record<string, unknown>; originatees: string[] } {
  const list = (Array.isArray(callflow) ? callflow : [callflow]).filter(isObject);
  const withProfile = list.filter((c) => isObject(c.caller_profile));
  if (withProfile.length === 0) return fail('callflow has no caller_profile (the numbers are only there)');
  const index = (c: Record<string, unknown>, i: number): number => {
    const n = Number(c.profile_index);
    return Number.isFinite(n) ? n : withProfile.length - i;
  };
  const ranked = withProfile.map((c, i) => ({ c, n: index(c, i) })).sort((a, b) => a.n - b.n);
  const first = ranked[0]?.c.caller_profile as Record<string, unknown>;
  if (typeof first.caller_id_number !== 'string' || typeof first.destination_number !== 'string')
    return fail('callflow caller_profile without caller_id_number / destination_number');
  const originatees: string[] = [];
  for (const { c } of ranked) {
    const cp = c.caller_profile as Record<string, unknown>;
    const o = isObject(cp.originatee) ? cp.originatee.originatee_caller_profiles : undefined;
    for (const p of Array.isArray(o) ? o : []) {
      const u = isObject(p) ? str(p.uuid).toLowerCase() : '';
      if (UUID.test(u) && !originatees.includes(u)) originatees.push(u);
    }
  }
  return { first, originatees };
}

/** Uuids in a variable: one, or `ARRAY::<uuid>;<name>;<number>|:…` (originated_legs). */
function uuidsIn(v: string | undefined): string[] {
  if (!v) return [];
  const items = v.startsWith('ARRAY::') ? v.slice(7).split('|:') : [v];
  return items.map((i) => (i.split(';')[0] ?? '').toLowerCase()).filter((u) => UUID.test(u));
}

/** `record_session` paths from app_log (expanded; `{opts}` and a `+<seconds>` limit removed). */
function recordSessions(appLog: unknown): string[] {
  const apps = isObject(appLog) && Array.isArray(appLog.applications) ? appLog.applications : [];
  const out: string[] = [];
  for (const a of apps) {
    if (!isObject(a) || a.app_name !== 'record_session') continue;
    const path = str(a.app_data)
      .replace(/^\{[^}]*\}/, '')
      .replace(/\s+\+?\d+$/, '')
      .trim();
    if (path.startsWith('/') && !out.includes(path)) out.push(path);
  }
  return out;
}
