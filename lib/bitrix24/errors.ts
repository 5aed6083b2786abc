/**
 * The Bitrix24 client's coded errors, and named predicates for the portal's answers that change
 * what we do (bitrix24-telephony.md §1.3, §5.3, §7, §8, §15). Call sites ask `isCallNotFound(err)`,
 * never match messages themselves: the portal's texts live here, next to the reference they come
 * from. Most telephony errors are `400 ERROR_CORE` told apart only by their text, so the predicates
 * check the code first and the text second.
 */
import { Fsb24Error, retryable } from '../errors.js';

export type B24ErrorCode =
  | 'B24_ERR_REST'
  | 'B24_ERR_RATE_LIMIT'
  | 'B24_ERR_AUTH'
  | 'B24_ERR_NOT_INSTALLED'
  | 'B24_ERR_NETWORK'
  | 'B24_ERR_TIMEOUT'
  | 'B24_ERR_BAD_REPLY';

/** The HTTP status, the portal's `error` and `error_description`, and the method called. */
export type B24Detail = { status?: number; error?: string; description?: string; method?: string };

export class B24Error extends Fsb24Error<B24ErrorCode, B24Detail> {
  override readonly name = 'B24Error';
  constructor(code: B24ErrorCode, message: string, detail: B24Detail = {}, options?: { cause?: unknown }) {
    super(code, message, detail, options);
  }

  /** Same as `context` (the name the client and outbox use). */
  get detail(): B24Detail {
    return this.context;
  }

  get retryable(): boolean {
    return retryable(this);
  }
}

const RATE_CODES = new Set(['QUERY_LIMIT_EXCEEDED', 'OPERATION_TIME_LIMIT']);

/** By the portal's `error` code, not the HTTP status (§15.4). */
export function isRateLimit(error: string | undefined): boolean {
  return error !== undefined && RATE_CODES.has(error);
}

/** A business error of the portal (400 ERROR_CORE) whose text starts with one of `texts`. */
function core(err: unknown, ...texts: string[]): boolean {
  if (!(err instanceof B24Error) || err.code !== 'B24_ERR_REST' || err.detail.error !== 'ERROR_CORE') return false;
  const d = err.detail.description ?? '';
  return texts.some((t) => d.startsWith(t));
}

/**
 * finish of a call the portal does not know, or no longer knows: never registered, or finished
 * already (a second finish gets the same answer). The closing parenthesis is missing on the portal.
 */
export function isCallNotFound(err: unknown): boolean {
  return core(err, 'Call is not found (call should be registered prior to finishing');
}

/**
 * register (or another call taking USER_ID / USER_PHONE_INNER) refused the employee: an unknown
 * extension gives the misleading "USER_ID or USER_PHONE_INNER should be set", an unknown or fired
 * user "User is not found or is not active" (§4.3, §15.14).
 */
export function isUserNotFound(err: unknown): boolean {
  return core(err, 'USER_ID or USER_PHONE_INNER should be set', 'User is not found or is not active');
}

/** event.bind of a handler that is bound already, or being bound right now (§8): both mean bound. */
export function isAlreadyBound(err: unknown): boolean {
  if (!(err instanceof B24Error) || err.code !== 'B24_ERR_REST' || err.detail.error !== 'ERROR_CORE') return false;
  const d = err.detail.description ?? '';
  return /Handler already binded|Process of binding the handler has already started/.test(d);
}

/** telephony.externalLine.add of a number this application registered already (§7). */
export function isLineExists(err: unknown): boolean {
  return core(err, 'Line already exists');
}

/** The refresh token is spent or revoked (`invalid_grant` from oauth.bitrix.info): reinstall. */
export function isInvalidGrant(err: unknown): boolean {
  return err instanceof B24Error && err.code === 'B24_ERR_AUTH' && err.detail.error === 'invalid_grant';
}
