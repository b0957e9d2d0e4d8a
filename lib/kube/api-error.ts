/** A non-2xx answer from the API server, with the Status object's reason and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The API server could not be reached at all (DNS, refused, TLS, timeout). */
export class ConnectionError extends Error {
  constructor(
    readonly server: string,
    override readonly cause: Error,
  ) {
    super(`cannot reach the API server at ${server}: ${cause.message}`);
    this.name = 'ConnectionError';
  }
}

export const isNotFound = (e: unknown) => e instanceof ApiError && e.status === 404;
export const isForbidden = (e: unknown) => e instanceof ApiError && e.status === 403;
export const isConflict = (e: unknown) => e instanceof ApiError && e.status === 409;
export const isAlreadyExists = (e: unknown) => isConflict(e) && (e as ApiError).reason === 'AlreadyExists';

/** 429, 5xx (but not 501) and connection failures are worth another try; the rest are answers. */
export function isRetryable(e: unknown): boolean {
  // A certificate that does not match, or credentials that cannot be made, will not change on a retry.
  if (e instanceof ConnectionError) {
    const code = String((e.cause as NodeJS.ErrnoException | undefined)?.code ?? '');
    // A phase that timed out (an endpoint that accepts and never answers) would only time out again.
    return !/CERT|TLS|SSL|ALTNAME|VW_PHASE_TIMEOUT/.test(code) && !e.message.includes('authentication failed');
  }
  if (!(e instanceof ApiError)) return false;
  return e.status === 429 || (e.status >= 500 && e.status !== 501);
}
