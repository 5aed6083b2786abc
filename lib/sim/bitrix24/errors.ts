/** A REST error as the portal answers it: HTTP status + `{error, error_description}` (reference §1.4). */
export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(`${error}: ${description}`);
  }
}

export const core = (description: string): RestError => new RestError(400, 'ERROR_CORE', description);
