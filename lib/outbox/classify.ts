/**
 * What a reply means for the jobs of a command, and what a failed request means for
 * the outbox: decided from codes and documented texts (bitrix24-telephony.md §1.4,
 * §5.3), never from HTTP status alone. Pure functions.
 */
import { B24Error } from '../bitrix24/errors.js';
import { METHOD, type Command } from './commands.js';

export type Verdict =
  /** Landed (a register with its CALL_ID). */
  | { kind: 'done'; callId?: string }
  /** attachRecord's first step: post the file to this URL next. */
  | { kind: 'upload'; url: string; field: string }
  /** The portal refused the employee: register again for the default user. */
  | { kind: 'default-user'; reason: string }
  /** A finish for a call the portal no longer knows (finished already): nothing left to do. */
  | { kind: 'gone'; reason: string }
  /** For good; `cascade`: nothing else of the call can land either (its register). */
  | { kind: 'fail'; reason: string; cascade: boolean }
  /** Back off and try again (a counted attempt). */
  | { kind: 'retry'; reason: string }
  /** The method is over its server-time budget: it waits, no attempt counted. */
  | { kind: 'held'; reason: string }
  /** Its register in the same request did not land: try again after it. */
  | { kind: 'waiting'; reason: string };

/** A whole request failed: the portal is unreachable, or its bucket is full; or it is about this one command. */
export type RequestVerdict =
  { kind: 'down'; reason: string } | { kind: 'throttled'; reason: string } | { kind: 'command'; error: CommandError };

export interface CommandError {
  error: string;
  description: string;
  status: number;
}

const RETRYABLE = new Set([
  'INTERNAL_SERVER_ERROR',
  'ERROR_UNEXPECTED_ANSWER',
  'OVERLOAD_LIMIT',
  'QUERY_LIMIT_EXCEEDED',
]);
const USER_REFUSED = /USER_ID or USER_PHONE_INNER|User is not found/;

export function classifyResult(c: Pick<Command, 'kind' | 'attach'>, result: unknown): Verdict {
  if (c.kind === 'register') {
    const id = (result as { CALL_ID?: unknown } | null)?.CALL_ID;
    return typeof id === 'string' && id !== ''
      ? { kind: 'done', callId: id }
      : { kind: 'retry', reason: 'register: no CALL_ID in the reply' };
  }
  if (c.kind === 'attach' && c.attach?.mode === 'upload') {
    const r = result as { uploadUrl?: unknown; fieldName?: unknown } | null;
    if (typeof r?.uploadUrl !== 'string' || r.uploadUrl === '')
      return { kind: 'fail', reason: 'attachRecord gave no uploadUrl', cascade: false };
    return {
      kind: 'upload',
      url: r.uploadUrl,
      field: typeof r.fieldName === 'string' && r.fieldName ? r.fieldName : 'file',
    };
  }
  return { kind: 'done' };
}

export function classifyError(c: Pick<Command, 'kind' | 'method'>, e: CommandError, forDefaultUser: boolean): Verdict {
  const reason = `${c.method}: ${e.error}: ${e.description}`;
  if (e.error === 'OPERATION_TIME_LIMIT') return { kind: 'held', reason };
  if (c.method === METHOD.finish && e.description.startsWith('Call is not found')) return { kind: 'gone', reason };
  if (c.method === METHOD.register && USER_REFUSED.test(e.description) && !forDefaultUser)
    return { kind: 'default-user', reason };
  if (e.status >= 500 || RETRYABLE.has(e.error)) return { kind: 'retry', reason };
  return { kind: 'fail', reason, cascade: c.method === METHOD.register };
}

/** A request threw: the portal is down (probe it), throttled (the limiter waits), or this command was refused. */
export function classifyFailure(err: unknown): RequestVerdict {
  if (!(err instanceof B24Error)) return { kind: 'down', reason: String((err as Error)?.message ?? err) };
  if (err.code === 'B24_ERR_RATE_LIMIT') {
    if (err.detail.error === 'OPERATION_TIME_LIMIT') {
      return {
        kind: 'command',
        error: {
          error: 'OPERATION_TIME_LIMIT',
          description: err.detail.description ?? '',
          status: err.detail.status ?? 429,
        },
      };
    }
    return { kind: 'throttled', reason: err.message };
  }
  if (
    err.code === 'B24_ERR_REST' &&
    err.detail.error &&
    (err.detail.status ?? 0) < 500 &&
    !RETRYABLE.has(err.detail.error)
  ) {
    return {
      kind: 'command',
      error: { error: err.detail.error, description: err.detail.description ?? '', status: err.detail.status ?? 400 },
    };
  }
  return { kind: 'down', reason: err.message };
}
