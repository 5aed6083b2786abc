/**
 * The one configuration schema (design.md convention 8). Every key can be set in the
 * config file and from its FSB24_* environment variable; unknown keys and bad values
 * fail at start-up with the key's name and what to do. Secrets are marked sensitive.
 * No other module reads process.env.
 */
import convict from 'convict';
import { schema, type TenantShape } from './config-schema.js';
import { parseSwitches, type SwitchShape } from './config-formats.js';

export type { TenantShape, SwitchShape };
import { existsSync, readFileSync } from 'node:fs';
import { Fsb24Error } from './errors.js';

type Schema = typeof schema;

export interface ConfigShape {
  esl: { host: string; port: number; password: string };
  /**
   * Every event socket, in order (FSB24_SWITCHES); without it, the one of `esl` named `default`.
   * Always at least one.
   */
  switches: SwitchShape[];
  http: { host: string; port: number; bodyLimit: number };
  publicUrl: string;
  dataDir: string;
  database: { url: string };
  b24: {
    portalUrl: string;
    clientId: string;
    clientSecret: string;
    oauthUrl: string;
    webhookUrl: string;
    appToken: string;
    rateBurst: number;
    rateDrainPerSec: number;
    requestTimeoutMs: number;
    retryBaseMs: number;
    directoryRefreshSec: number;
    batchMax: number;
  };
  calls: {
    trunkProfiles: string[];
    trunkIps: string[];
    gateway: string;
    didSource: 'sip_to_user' | 'sip_req_user' | 'destination';
    lines: Record<string, string>;
    gatewayLines: Record<string, string>;
    lineGateways: Record<string, string>;
    numberRules: Array<{ match: string; replace: string }>;
    sendInternal: boolean;
    crmCreateIncoming: boolean;
    crmCreateOutgoing: boolean;
    addToChat: boolean;
    cardPolicy: 'ring' | 'answer' | 'never';
    cardPolicyByExtension: Record<string, string>;
    defaultUserId: number;
    cardWindowMs: number;
    ringSeconds: number;
    domain: string;
    registerHoldMs: number;
    callbackTarget: string;
    callbackContext: string;
    ttsEngine: string;
    promptFile: string;
  };
  routing: { deadlineMs: number; cacheSec: number };
  events: { mode: 'online' | 'offline'; offlinePollMs: number };
  recordings: {
    dirs: string[];
    variable: string;
    choose: 'all' | 'first' | 'last';
    inlineMaxBytes: number;
    stableMs: number;
    giveUpSec: number;
    deleteAfterUpload: boolean;
    mode: 'upload' | 'url';
    urlTtlSec: number;
    placedCalls: boolean;
  };
  cdr: { spoolDirs: string[]; credentials: string; graceMs: number; maxAgeHours: number };
  tenants: Record<string, TenantShape>;
  instanceId: string;
  logLevel: string;
}

export class ConfigError extends Fsb24Error<'CFG_ERR_INVALID', Record<string, never>> {
  override readonly name = 'ConfigError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('CFG_ERR_INVALID', message, {}, options);
  }
}

/**
 * Build the frozen configuration: defaults < file < environment < overrides.
 * `env` is passed in (bin/ hands process.env over), so tests never touch the real one.
 */
export function loadConfig(
  opts: { file?: string; env?: Record<string, string | undefined>; overrides?: Partial<Record<string, unknown>> } = {},
): Readonly<ConfigShape> {
  const conf = convict<Schema>(schema, { env: opts.env ?? {}, args: [] });
  try {
    if (opts.file) {
      if (!existsSync(opts.file)) throw new ConfigError(`config file ${opts.file} does not exist`);
      conf.loadFile(opts.file);
    }
    for (const [k, v] of Object.entries(opts.overrides ?? {})) conf.set(k as never, v as never);
    conf.validate({ allowed: 'strict' });
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(explain((err as Error).message));
  }
  const c = conf.getProperties() as unknown as ConfigShape;
  const tenants: unknown = c.tenants;
  if (typeof tenants === 'string') c.tenants = tenants === '' ? {} : JSON.parse(tenants);
  c.switches = switchesOf(c, opts);
  for (const [ext, policy] of Object.entries(c.calls.cardPolicyByExtension)) {
    if (!['ring', 'answer', 'never'].includes(policy))
      throw new ConfigError(`calls.cardPolicyByExtension: extension ${ext} has "${policy}"; use ring, answer or never`);
  }
  if (c.b24.webhookUrl && !/\/rest\/\d+\/[^/]+\/?$/.test(new URL(c.b24.webhookUrl).pathname)) {
    throw new ConfigError(
      'b24.webhookUrl (FSB24_B24_WEBHOOK_URL) must look like https://<portal>/rest/<user_id>/<secret>/',
    );
  }
  if (Object.keys(c.tenants).length > 0 && c.b24.webhookUrl) {
    throw new ConfigError(
      'tenants (FSB24_TENANTS) need the local application (FSB24_B24_CLIENT_ID): a webhook serves one portal',
    );
  }
  if (c.cdr.credentials && !/^[^:]+:.+$/.test(c.cdr.credentials)) {
    throw new ConfigError("cdr.credentials (FSB24_CDR_CREDENTIALS) must be user:password, as mod_json_cdr's cred");
  }
  if (c.events.mode === 'offline' && c.b24.webhookUrl) {
    throw new ConfigError(
      'events.mode (FSB24_EVENTS_MODE) offline needs the local application (FSB24_B24_CLIENT_ID): ' +
        'a webhook cannot pull events',
    );
  }
  return deepFreeze(c);
}

const ESL_ENV = ['FSB24_ESL_HOST', 'FSB24_ESL_PORT', 'FSB24_ESL_PASSWORD'];

/** Is this the one switch of FSB24_ESL_* (the list without FSB24_SWITCHES)? Said in fixes and errors. */
export function isEslSwitch(c: Pick<ConfigShape, 'switches'>, name: string): boolean {
  return c.switches.length === 1 && name === 'default';
}

/**
 * FSB24_SWITCHES, or the single FSB24_ESL_* socket as a one-switch list named `default`.
 * Both at once is an error (which one was meant cannot be guessed): the esl keys count as
 * given when set in the environment, the overrides or the config file, or not at their defaults.
 */
function switchesOf(
  c: ConfigShape,
  opts: { file?: string; env?: Record<string, string | undefined>; overrides?: Partial<Record<string, unknown>> },
): SwitchShape[] {
  const raw: unknown = c.switches;
  if (raw === '' || raw === undefined) return [{ name: 'default', ...c.esl }];
  const list = parseSwitches(raw);
  const d = loadDefaults();
  const given =
    ESL_ENV.some((k) => opts.env?.[k] !== undefined) ||
    Object.keys(opts.overrides ?? {}).some((k) => k === 'esl' || k.startsWith('esl.')) ||
    fileNamesEsl(opts.file) ||
    c.esl.host !== d.host ||
    c.esl.port !== d.port ||
    c.esl.password !== d.password;
  if (given) {
    throw new ConfigError(
      'switches (FSB24_SWITCHES) and esl (FSB24_ESL_HOST / FSB24_ESL_PORT / FSB24_ESL_PASSWORD) are both given: ' +
        'list every event socket in FSB24_SWITCHES and remove the esl keys ' +
        '(the FSB24_ESL_* socket alone is the one-switch list named "default")',
    );
  }
  return list;
}

function loadDefaults(): ConfigShape['esl'] {
  const e = schema.esl;
  return { host: e.host.default, port: e.port.default, password: e.password.default };
}

function fileNamesEsl(file: string | undefined): boolean {
  if (!file) return false;
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return parsed !== null && typeof parsed === 'object' && 'esl' in parsed;
  } catch {
    return false; // convict read it already; a format it reads and JSON does not names no esl key we can see
  }
}

/** convict's messages name the key; add which environment variable sets it. */
function explain(message: string): string {
  const lines = message.split('\n').map((line) => {
    const m = /^([\w.]+): (.*)$/.exec(line.trim());
    if (!m) return line;
    const env = envNameOf(m[1] as string);
    return `${m[1]}${env ? ` (${env})` : ''}: ${m[2]}`;
  });
  return `invalid configuration:\n  ${lines.join('\n  ')}`;
}

function envNameOf(path: string): string | undefined {
  let node: unknown = schema;
  for (const part of path.split('.'))
    node = node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined;
  return node && typeof node === 'object' && 'env' in node ? String((node as { env: string }).env) : undefined;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** The schema as documentation rows (README's configuration reference, `check`). */
export function configReference(): Array<{ key: string; env: string; default: string; doc: string }> {
  const rows: Array<{ key: string; env: string; default: string; doc: string }> = [];
  const walk = (node: Record<string, unknown>, prefix: string): void => {
    for (const [k, v] of Object.entries(node)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (v && typeof v === 'object' && 'doc' in v) {
        const d = v as { doc: string; env: string; default: unknown; sensitive?: boolean };
        rows.push({
          key,
          env: d.env,
          default: d.sensitive && d.default ? '(secret)' : JSON.stringify(d.default),
          doc: d.doc,
        });
      } else if (v && typeof v === 'object') walk(v as Record<string, unknown>, key);
    }
  };
  walk(schema as unknown as Record<string, unknown>, '');
  return rows;
}

/** The configuration reference as a Markdown table (README, between the config markers). */
export function configMarkdown(): string {
  const rows = configReference().map(
    (r) => `| \`${r.env}\` | \`${r.key}\` | \`${r.default.replace(/\|/g, '\\|')}\` | ${r.doc.replace(/\|/g, '\\|')} |`,
  );
  return ['| environment | config key | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

export const README_MARKERS = [
  '<!-- config-reference:start (generated by `npm run docs`) -->',
  '<!-- config-reference:end -->',
] as const;

/** README text with its configuration reference replaced by the schema's. */
export function withConfigReference(readme: string): string {
  const [start, end] = README_MARKERS;
  const a = readme.indexOf(start);
  const b = readme.indexOf(end);
  if (a < 0 || b < a) throw new Error('README has no configuration reference markers');
  return `${readme.slice(0, a + start.length)}\n${configMarkdown()}\n${readme.slice(b)}`;
}
