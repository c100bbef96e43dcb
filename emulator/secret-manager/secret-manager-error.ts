/**
 * The one error type the Secret Manager emulator throws: a gRPC status code and the message
 * Google would send. The gRPC layer forwards both unchanged; in-process callers can switch on
 * `code`.
 */

/** gRPC status codes this service answers with (values as in google.rpc.Code). */
export const GrpcCode = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  UNAVAILABLE: 14,
} as const;

export type GrpcCodeName = keyof typeof GrpcCode;

export class SecretManagerError extends Error {
  override readonly name = 'SecretManagerError';
  readonly code: number;

  constructor(
    readonly status: GrpcCodeName,
    message: string,
  ) {
    super(message);
    this.code = GrpcCode[status];
  }
}

/** Shorthand for INVALID_ARGUMENT. */
export function invalidArgument(message: string): SecretManagerError {
  return new SecretManagerError('INVALID_ARGUMENT', message);
}

/** Shorthand for FAILED_PRECONDITION. */
export function failedPrecondition(message: string): SecretManagerError {
  return new SecretManagerError('FAILED_PRECONDITION', message);
}

/** Shorthand for NOT_FOUND. */
export function notFound(message: string): SecretManagerError {
  return new SecretManagerError('NOT_FOUND', message);
}
