/**
 * The one error type of the server. Anything thrown below the HTTP layer that a client
 * should see is a MatrixError; everything else becomes a 500 M_UNKNOWN without details.
 */
export class MatrixError extends Error {
  readonly errcode: string;
  readonly httpStatus: number;
  /** Extra top-level keys of the JSON body, e.g. `soft_logout` or `retry_after_ms`. */
  readonly extra: Readonly<Record<string, unknown>>;

  constructor(httpStatus: number, errcode: string, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.name = 'MatrixError';
    this.httpStatus = httpStatus;
    this.errcode = errcode;
    this.extra = extra;
  }

  toJSON(): Record<string, unknown> {
    return { errcode: this.errcode, error: this.message, ...this.extra };
  }
}

export const errors = {
  forbidden: (message: string) => new MatrixError(403, 'M_FORBIDDEN', message),
  missingToken: () => new MatrixError(401, 'M_MISSING_TOKEN', 'Missing access token'),
  unknownToken: () => new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Invalid access token passed.', { soft_logout: false }),
  userInUse: () => new MatrixError(400, 'M_USER_IN_USE', 'User ID already taken.'),
  invalidUsername: (message: string) => new MatrixError(400, 'M_INVALID_USERNAME', message),
  notJson: (message = 'Content not JSON.') => new MatrixError(400, 'M_NOT_JSON', message),
  badJson: (message: string) => new MatrixError(400, 'M_BAD_JSON', message),
  missingParam: (message: string) => new MatrixError(400, 'M_MISSING_PARAM', message),
  invalidParam: (message: string) => new MatrixError(400, 'M_INVALID_PARAM', message),
  unrecognized: (status: 404 | 405) => new MatrixError(status, 'M_UNRECOGNIZED', 'Unrecognized request'),
  tooLarge: () => new MatrixError(413, 'M_TOO_LARGE', 'Request body too large'),
  notFound: (message: string) => new MatrixError(404, 'M_NOT_FOUND', message),
  unknown: (message: string, status = 400) => new MatrixError(status, 'M_UNKNOWN', message),
};
