/** The ESL layer's coded errors (design.md convention 4: stable `code`, literal `name`). */
export class EslError extends Error {
  override readonly name: string = 'EslError';
  constructor(
    readonly code:
      | 'ESL_ERR_AUTH'
      | 'ESL_ERR_CLOSED'
      | 'ESL_ERR_TIMEOUT'
      | 'ESL_ERR_COMMAND'
      | 'ESL_ERR_UNSAFE_COMMAND'
      | 'ESL_ERR_NOT_CONNECTED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
