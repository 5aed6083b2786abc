/** The ESL layer's coded errors (design.md convention 4, lib/errors.ts). */
import { Fsb24Error } from '../errors.js';

export type EslErrorCode =
  | 'ESL_ERR_AUTH'
  | 'ESL_ERR_CLOSED'
  | 'ESL_ERR_TIMEOUT'
  | 'ESL_ERR_COMMAND'
  | 'ESL_ERR_UNSAFE_COMMAND'
  | 'ESL_ERR_NOT_CONNECTED';

export class EslError extends Fsb24Error<EslErrorCode, Record<string, never>> {
  override readonly name = 'EslError';
  constructor(code: EslErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, {}, options);
  }
}

/**
 * A bgapi job whose result never came: the deadline passed (ESL_ERR_JOB_TIMEOUT) or the connection
 * dropped first (ESL_ERR_CONNECTION_LOST). The job may still run on the switch; its events tell.
 * A value in the job's outcome, not thrown: FreeSWITCH's own `-ERR` answers stay in the body.
 */
export class EslJobLost extends Fsb24Error<'ESL_ERR_JOB_TIMEOUT' | 'ESL_ERR_CONNECTION_LOST', { jobUuid: string }> {
  override readonly name = 'EslJobLost';
  constructor(
    code: 'ESL_ERR_JOB_TIMEOUT' | 'ESL_ERR_CONNECTION_LOST',
    jobUuid: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, { jobUuid }, options);
  }
}
