/**
 * One coded error family (design.md convention 4, after undici's UND_ERR_* and fastify's FST_ERR_*).
 *
 * Every error the service throws is an `Fsb24Error`: a stable `code` from the one union below, a
 * literal `name` per class, a typed `context` and the `cause`. Codes read `<AREA>_ERR_<WHAT>`, the
 * area naming the folder that throws it: B24 (bitrix24/), ESL (esl/), EVENT (events/),
 * HTTP (http/), CFG (config.ts), ORIG (originate/), CDR (cdr/), CLUSTER (cluster/). Codes are a
 * public contract (they appear in HTTP replies and logs): add, never rename. Decisions about an
 * error are taken here, from its code, in one place each: `retryable`, `httpStatusOf`, `logLevelOf`.
 *
 * Logs pass the error itself, `log.warn({ err }, '...')`: pino's serializer keeps the stack,
 * the code, the context and the chain of causes.
 */

/** Every code, with what it means. Adding one forces a decision in each table below. */
export const ERROR_CODES = {
  B24_ERR_REST: 'the portal answered {error, error_description}',
  B24_ERR_RATE_LIMIT: 'QUERY_LIMIT_EXCEEDED or OPERATION_TIME_LIMIT (by code, not status)',
  B24_ERR_AUTH: 'the tokens are invalid and cannot be refreshed (reinstall the application)',
  B24_ERR_NOT_INSTALLED: 'no tokens yet: the application is not installed',
  B24_ERR_NETWORK: 'connection refused or reset, DNS',
  B24_ERR_TIMEOUT: 'the portal did not answer in time',
  B24_ERR_BAD_REPLY: 'the reply is not the JSON envelope (a proxy or outage page, usually)',
  ESL_ERR_AUTH: 'the event socket refused the password',
  ESL_ERR_CLOSED: 'the event socket closed the connection',
  ESL_ERR_TIMEOUT: 'no reply to a command in time',
  ESL_ERR_COMMAND: 'FreeSWITCH refused a command',
  ESL_ERR_UNSAFE_COMMAND: 'a command with CR or LF in it was not sent',
  ESL_ERR_NOT_CONNECTED: 'the event socket is not connected',
  ESL_ERR_FRAME: 'a frame from the event socket does not parse',
  ESL_ERR_EVENT_DECODE: 'an event body does not decode',
  ESL_ERR_JOB_TIMEOUT: 'no BACKGROUND_JOB result before the deadline',
  ESL_ERR_CONNECTION_LOST: 'the connection dropped before the BACKGROUND_JOB result came',
  EVENT_ERR_PARSE: 'a channel event lacks what the call model needs',
  HTTP_ERR_BAD_EVENT: 'a Bitrix24 event body is malformed',
  HTTP_ERR_UNAUTHORIZED: 'a Bitrix24 event is not from this installation',
  HTTP_ERR_INSTALL_REFUSED: 'an install could not be verified on its portal',
  CFG_ERR_INVALID: 'the configuration is invalid',
  ORIG_ERR_UNSAFE: 'a value does not fit the originate whitelist',
  OFFLINE_ERR_BIND: 'offline events could not be bound (an administrator is needed)',
  CLUSTER_ERR_MESSAGE: 'a message between instances does not parse',
  CLUSTER_ERR_NO_HOLDER: 'no instance holding the lease took the work in time',
  CDR_ERR_PARSE: 'a CDR from mod_json_cdr (a POST or a spool file) does not parse',
  CDR_ERR_UNAUTHORIZED: 'a CDR POST without the credentials of FSB24_CDR_CREDENTIALS',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** What an error carries besides its message: plain data, safe to log. */
export type ErrorContext = Readonly<Record<string, unknown>>;

export abstract class Fsb24Error<C extends ErrorCode = ErrorCode, X extends ErrorContext = ErrorContext> extends Error {
  abstract override readonly name: string;
  constructor(
    readonly code: C,
    message: string,
    readonly context: X,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** `instanceof Fsb24Error` with the defaults filled in (a bare `instanceof` types `code` as any). */
export function isFsb24Error(err: unknown): err is Fsb24Error {
  return err instanceof Fsb24Error;
}

/**
 * Would the same request succeed later? The outbox backs off and retries what is retryable and
 * keeps the rest as failed with its reason. Outages, timeouts, rate limits, a reply that is not
 * the envelope (a proxy's error page) and missing or spent tokens (a reinstall fixes them; the
 * work must wait, not be lost) are; bad input is not. A REST error is retryable only when the
 * portal says it is its own fault (5xx, INTERNAL_SERVER_ERROR, OVERLOAD_LIMIT). An error from
 * outside the family is retryable: the work is durable and the log shows the bug.
 */
const RETRYABLE: Record<ErrorCode, boolean> = {
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
};

const SERVER_SIDE = new Set(['INTERNAL_SERVER_ERROR', 'OVERLOAD_LIMIT']);

export function retryable(err: unknown): boolean {
  if (!isFsb24Error(err)) return true;
  if (err.code === 'B24_ERR_REST') {
    const { status, error } = err.context;
    return (typeof status === 'number' && status >= 500) || (typeof error === 'string' && SERVER_SIDE.has(error));
  }
  return RETRYABLE[err.code];
}

/**
 * The HTTP status an error becomes when it ends a request: the caller's fault is a 4xx, a peer's
 * (the portal, the switch) a 502/503/504, ours a 500.
 */
const HTTP_STATUS: Record<ErrorCode, number> = {
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
};

/** Fastify's own errors (body too large 413, bad content type 415, bad JSON 400) keep their 4xx. */
export function httpStatusOf(err: unknown): number {
  if (isFsb24Error(err)) return HTTP_STATUS[err.code];
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : 500;
}

export interface HttpErrorReply {
  status: number;
  body: { error: string; message: string };
}

/**
 * What the client is told. A 4xx says what was wrong with its request; a 5xx says only its code
 * (no message that could carry an address, a token or a stack), the log has the rest.
 */
export function httpReplyOf(err: unknown): HttpErrorReply {
  const status = httpStatusOf(err);
  const own = isFsb24Error(err);
  if (status >= 500)
    return { status, body: { error: own ? err.code : 'HTTP_ERR_INTERNAL', message: 'internal error' } };
  const code = own ? err.code : (err as { code?: unknown }).code;
  const message = status === 413 ? 'request body is too large' : (err as Error).message;
  return { status, body: { error: typeof code === 'string' ? code : 'HTTP_ERR_REFUSED', message } };
}

/**
 * A request refused for its own fault, or a peer that is down for a while (retryable), is a
 * warning; anything else needs someone to look: an error. An error from outside the family is a bug.
 */
export function logLevelOf(err: unknown): 'warn' | 'error' {
  if (!isFsb24Error(err)) return 'error';
  return httpStatusOf(err) < 500 || retryable(err) ? 'warn' : 'error';
}
