import { UnauthenticatedError, UnavailableError } from '../../../shared/errors.js';

/**
 * Every ErrorInfo reason caller authentication produces. Callers see one generic message; the
 * reason says which rule failed, the log-only `detail` says how (never the token itself).
 */
export const CallerAuthReason = {
  /** No `Authorization` header, or a blank one. */
  MISSING: 'CALLER_CREDENTIAL_MISSING',
  /** A scheme other than `Bearer`. */
  SCHEME_UNSUPPORTED: 'CALLER_CREDENTIAL_SCHEME_UNSUPPORTED',
  /** Not exactly one well-formed bearer token, or an undecodable JWT. */
  MALFORMED: 'CALLER_CREDENTIAL_MALFORMED',
  /** Bearer token larger than `maxTokenBytes`. */
  TOO_LARGE: 'CALLER_CREDENTIAL_TOO_LARGE',
  /** Not a JWT, and opaque Google access tokens are not enabled. */
  NOT_A_JWT: 'CALLER_CREDENTIAL_NOT_A_JWT',
  /** `iss` is not exactly one of the configured issuers. */
  ISSUER_UNKNOWN: 'CALLER_CREDENTIAL_ISSUER_UNKNOWN',
  /** `alg` is not in the issuer's list (includes `none` and every `HS*`). */
  ALGORITHM_NOT_ALLOWED: 'CALLER_CREDENTIAL_ALGORITHM_NOT_ALLOWED',
  /** A `crit` header: no extension is understood here. */
  CRITICAL_HEADER: 'CALLER_CREDENTIAL_CRITICAL_HEADER',
  /** `cty: JWT`: nested tokens are not accepted. */
  NESTED_JWT: 'CALLER_CREDENTIAL_NESTED_JWT',
  /** A `typ` other than `JWT` (explicit typing, RFC 8725 §3.11: another kind of JWT). */
  TYPE_MISMATCH: 'CALLER_CREDENTIAL_TYPE_MISMATCH',
  /** No key of the issuer's JWKS matches `kid`/`alg` (after at most one refetch per cooldown). */
  KEY_UNKNOWN: 'CALLER_CREDENTIAL_KEY_UNKNOWN',
  SIGNATURE_INVALID: 'CALLER_CREDENTIAL_SIGNATURE_INVALID',
  EXPIRED: 'CALLER_CREDENTIAL_EXPIRED',
  /** `nbf` in the future beyond the tolerance. */
  NOT_YET_VALID: 'CALLER_CREDENTIAL_NOT_YET_VALID',
  /** `iat` in the future beyond the tolerance. */
  ISSUED_IN_FUTURE: 'CALLER_CREDENTIAL_ISSUED_IN_FUTURE',
  /** `iat` older than the maximum token age. */
  TOO_OLD: 'CALLER_CREDENTIAL_TOO_OLD',
  AUDIENCE_MISMATCH: 'CALLER_CREDENTIAL_AUDIENCE_MISMATCH',
  /** A required claim (`exp`, `iat`, `iss`, `aud`, `sub`) is absent. */
  CLAIM_MISSING: 'CALLER_CREDENTIAL_CLAIM_MISSING',
  /** A claim has the wrong type or an empty value. */
  CLAIM_INVALID: 'CALLER_CREDENTIAL_CLAIM_INVALID',
  /** Google's tokeninfo says the opaque access token is not valid. */
  ACCESS_TOKEN_INVALID: 'CALLER_CREDENTIAL_ACCESS_TOKEN_INVALID',
  ACCESS_TOKEN_NOT_SERVICE_ACCOUNT: 'CALLER_CREDENTIAL_ACCESS_TOKEN_NOT_SERVICE_ACCOUNT',
} as const;
export type CallerAuthReason = (typeof CallerAuthReason)[keyof typeof CallerAuthReason];

/** Reasons of {@link UnavailableError}s: the credential could not be checked right now. */
export const CallerAuthUnavailableReason = {
  /** The issuer's discovery/JWKS could not be fetched and no usable keys are cached. */
  ISSUER_KEYS_UNAVAILABLE: 'ISSUER_KEYS_UNAVAILABLE',
  /** Google's tokeninfo endpoint failed or answered something unexpected. */
  TOKENINFO_UNAVAILABLE: 'TOKENINFO_UNAVAILABLE',
} as const;
export type CallerAuthUnavailableReason =
  (typeof CallerAuthUnavailableReason)[keyof typeof CallerAuthUnavailableReason];

export const CALLER_CREDENTIAL_MISSING_MESSAGE = 'The request has no caller credential.';
export const CALLER_CREDENTIAL_INVALID_MESSAGE = "The caller's credential is invalid.";
export const CALLER_CREDENTIAL_UNVERIFIABLE_MESSAGE =
  "The caller's credential cannot be verified right now; try again later.";

/** An {@link UnauthenticatedError} with the generic message. `detail` must never hold the token. */
export function rejectCaller(
  reason: CallerAuthReason,
  detail: string,
  cause?: unknown,
): UnauthenticatedError {
  const message =
    reason === CallerAuthReason.MISSING
      ? CALLER_CREDENTIAL_MISSING_MESSAGE
      : CALLER_CREDENTIAL_INVALID_MESSAGE;
  return new UnauthenticatedError(message, { reason, detail, ...(cause === undefined ? {} : { cause }) });
}

/** An {@link UnavailableError} for a verification dependency that failed. */
export function verificationUnavailable(
  reason: CallerAuthUnavailableReason,
  detail: string,
  cause?: unknown,
): UnavailableError {
  return new UnavailableError(CALLER_CREDENTIAL_UNVERIFIABLE_MESSAGE, {
    reason,
    detail,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** A caller-supplied value made safe for a log-only detail: JSON-quoted and truncated. */
export function quoteForDetail(value: unknown, maxLength = 120): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
}
