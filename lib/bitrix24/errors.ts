/**
 * The Bitrix24 client's coded errors. `retryable` decides between "back off and try
 * again" and "keep it as failed with its reason" in the outbox.
 */
export type B24ErrorCode =
  | 'B24_ERR_REST' // the portal answered {error, error_description}
  | 'B24_ERR_RATE_LIMIT' // QUERY_LIMIT_EXCEEDED / OPERATION_TIME_LIMIT, by code not status (§15.4)
  | 'B24_ERR_AUTH' // tokens invalid and cannot be refreshed (reinstall needed)
  | 'B24_ERR_NOT_INSTALLED' // no tokens yet: the app was not installed
  | 'B24_ERR_NETWORK' // connection refused/reset, DNS
  | 'B24_ERR_TIMEOUT'
  | 'B24_ERR_BAD_REPLY'; // not the JSON envelope

export class B24Error extends Error {
  override readonly name = 'B24Error';
  constructor(
    readonly code: B24ErrorCode,
    message: string,
    readonly detail: { status?: number; error?: string; description?: string; method?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get retryable(): boolean {
    if (this.code === 'B24_ERR_REST') return (this.detail.status ?? 0) >= 500 || this.detail.error === 'INTERNAL_SERVER_ERROR' || this.detail.error === 'OVERLOAD_LIMIT';
    return this.code !== 'B24_ERR_BAD_REPLY';
  }
}

const RATE_CODES = new Set(['QUERY_LIMIT_EXCEEDED', 'OPERATION_TIME_LIMIT']);

export function isRateLimit(error: string | undefined): boolean {
  return error !== undefined && RATE_CODES.has(error);
}
