/**
 * pino with the secrets redacted (webhook URLs, tokens, the ESL password), one child
 * per module, constant messages with data in fields (design.md convention 9).
 */
import pino, { type Logger } from 'pino';

export const REDACT_PATHS = [
  'password', '*.password', 'esl.password',
  'webhookUrl', '*.webhookUrl', 'b24.webhookUrl',
  'clientSecret', '*.clientSecret', 'appToken', '*.appToken',
  'access_token', '*.access_token', 'refresh_token', '*.refresh_token', 'application_token', '*.application_token',
  'auth', '*.auth', 'url', '*.url', 'uploadUrl', '*.uploadUrl', 'headers.authorization',
];

/** JSON lines by default; `pretty` (a terminal) goes through pino-pretty. */
export function createLogger(level: string, opts: { destination?: pino.DestinationStream; pretty?: boolean } = {}): Logger {
  const options: pino.LoggerOptions = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { svc: 'freeswitch-bitrix24' },
    serializers: { err: serializeErr },
  };
  if (opts.pretty && !opts.destination) return pino({ ...options, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,svc' } } });
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

/** Strip a webhook secret or token from text that must be logged (error messages). */
export function scrub(text: string): string {
  return text
    .replace(/\/rest\/(\d+)\/[^/\s]+\//g, '/rest/$1/[redacted]/')
    .replace(/(auth|access_token|refresh_token|application_token|client_secret)=[^&\s]+/g, '$1=[redacted]');
}

export type { Logger };
