/** An API request that cannot be answered as asked: sent as JSON `{status, title, detail}` with its status. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    /** The HTTP status: 400, 401, 403, 404 or 409. */
    readonly status: 400 | 401 | 403 | 404 | 409 | 503,
    /** The status's short title (`Not Found`). */
    readonly title: string,
    /** One line naming what is wrong and the value at fault. */
    readonly detail: string,
  ) {
    super(detail);
  }
}

export const badRequest = (detail: string): ApiError => new ApiError(400, 'Bad Request', detail);
export const notFound = (detail: string): ApiError => new ApiError(404, 'Not Found', detail);
export const conflict = (detail: string): ApiError => new ApiError(409, 'Conflict', detail);
