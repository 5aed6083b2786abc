/**
 * pino with the secrets redacted (webhook URLs, tokens, the ESL password), one child
 * per module, constant messages with data in fields (design.md convention 9).
 * Redaction is precise: a key that holds a secret is hidden whole; a URL or an error
 * message is logged on purpose and keeps everything but the secret inside it.
 */
import pino, { type Logger } from 'pino';

/** Keys whose value is a secret, wherever they appear (one level of nesting). */
const SECRET_KEYS = [
  'password',
  'clientSecret',
  'client_secret',
  'appToken',
  'webhookUrl',
  'secret',
  'sig',
  'access_token',
  'refresh_token',
  'application_token',
  'accessToken',
  'refreshToken',
  'applicationToken',
  'auth',
  'credentials',
];
/** Keys whose value is logged on purpose but may carry a secret (a webhook path, a token in the query). */
const SCRUBBED_KEYS = ['url', 'uploadUrl', 'handler', 'err', 'reason', 'error'];

export const REDACT_PATHS = [
  ...[...SECRET_KEYS, ...SCRUBBED_KEYS].flatMap((k) => [k, `*.${k}`]),
  'headers.authorization',
  '*.headers.authorization',
  // FSB24_SWITCHES: a list of event sockets, each with its password
  'switches[*].password',
  '*.switches[*].password',
];

const scrubbed = new Set(SCRUBBED_KEYS);

/** What a redacted path becomes: a secret disappears, a URL or message loses only its secret. */
function censor(value: unknown, path: string[]): unknown {
  if (!scrubbed.has(path[path.length - 1] ?? '')) return '[redacted]';
  if (typeof value === 'string') return scrub(value);
  // an error arrives here serialized ({ type, message, stack, ... }): scrub its texts
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, typeof v === 'string' ? scrub(v) : v]));
  }
  return value;
}

/** JSON lines by default; `pretty` (a terminal) goes through pino-pretty. */
export function createLogger(
  level: string,
  opts: { destination?: pino.DestinationStream; pretty?: boolean } = {},
): Logger {
  const options: pino.LoggerOptions = {
    level,
    redact: { paths: REDACT_PATHS, censor },
    base: { svc: 'freeswitch-bitrix24' },
    serializers: { err: serializeErr },
  };
  if (opts.pretty && !opts.destination)
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,svc' } },
    });
  return pino(options, opts.destination);
}

/** `{ err }`: pino's serializer (stack, code, context, causes), with secrets scrubbed from the causes' texts too. */
function serializeErr(err: unknown): unknown {
  const s = pino.stdSerializers.err(err as Error);
  if (typeof s !== 'object' || s === null) return s;
  if (typeof s.message === 'string') s.message = scrub(s.message);
  if (typeof s.stack === 'string') s.stack = scrub(s.stack);
  return s;
}

const SECRET_PARAMS = 'auth|access_token|refresh_token|application_token|client_secret|password|secret|token|sig';

/**
 * Strip a webhook secret, a token or a password from text that must be logged (URLs, error messages),
 * and the browser connect's one-time `state` and authorization `code` (as query parameters only).
 */
export function scrub(text: string): string {
  return text
    .replace(/\/rest\/(\d+)\/[^/\s?#"']+/g, '/rest/$1/[redacted]')
    .replace(new RegExp(`\\b(${SECRET_PARAMS})=[^&\\s"']+`, 'gi'), '$1=[redacted]')
    .replace(/([?&](?:state|code)=)[^&\s"'#]+/gi, '$1[redacted]')
    .replace(/(\/\/[^/:@\s]+):[^@/\s]+@/g, '$1:[redacted]@');
}

export type { Logger };
