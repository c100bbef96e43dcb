/**
 * What the functions need from Secret Manager — reading a version — independent of the transport:
 * the gRPC client library (shared/gcp/secret-manager.ts) or REST (secret-manager-rest.ts), and
 * how both turn Google's status codes into our errors.
 */
import { InternalError, NotFoundError, PermissionDeniedError, UpstreamUnavailable } from '../errors.js';
import { describe } from '../google-error.js';

export interface SecretPayload {
  /** Resolved version name, e.g. `projects/123/secrets/s/versions/7`. */
  name: string;
  data: Buffer;
}

export interface SecretAccessor {
  /** Reads a version (`.../versions/latest`, a number or an alias); checks CRC32C when the server sends one. */
  /**
   * `retry: false` turns off the client library's own retries, for callers that retry themselves
   * inside a deadline (a library retry loop inside a shared in-flight load would make callers who
   * arrive after an outage ends join a doomed call).
   */
  access(versionName: string, options?: { timeoutMs?: number; retry?: boolean }): Promise<SecretPayload>;
}

/**
 * gRPC status → our errors; transient codes become an {@link UpstreamUnavailable}. Only the
 * resource name and the status go to the detail.
 */
export function mapGrpcError(err: unknown, resource: string): Error {
  const code = (err as { code?: unknown }).code;
  const detail = `Secret Manager ${resource}: ${describe(err)}`;
  switch (code) {
    case 5:
      return new NotFoundError('A configured secret was not found.', {
        reason: 'SECRET_NOT_FOUND',
        detail,
        cause: err,
      });
    case 7:
      return new PermissionDeniedError('The service cannot read a configured secret.', {
        reason: 'SECRET_ACCESS_DENIED',
        detail,
        cause: err,
      });
    case 9:
      return new InternalError('A configured secret version is not usable.', {
        reason: 'SECRET_VERSION_NOT_ENABLED',
        detail,
        cause: err,
      });
    case 4:
    case 8:
    case 14:
    case 13:
    case 10:
      return new UpstreamUnavailable('Secret Manager is unavailable; try again later.', {
        reason: 'SECRET_MANAGER_UNAVAILABLE',
        detail,
        cause: err,
      });
    default:
      return new InternalError('Internal error.', { reason: 'SECRET_MANAGER_ERROR', detail, cause: err });
  }
}
