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
  /**
   * A JWT whose signature segment is Cloud Run's `SIGNATURE_REMOVED_BY_GOOGLE`: the platform
   * removed it (it does so for ID tokens gcloud minted for a user account), so it can never verify.
   */
  SIGNATURE_REMOVED: 'CALLER_CREDENTIAL_SIGNATURE_REMOVED',
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
  // Stryker disable next-line ConditionalExpression: TvsError treats an undefined cause as no cause
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
    // Stryker disable next-line ConditionalExpression: TvsError treats an undefined cause as no cause
    ...(cause === undefined ? {} : { cause }),
  });
}

/** A caller-supplied value made safe for a log-only detail: JSON-quoted and truncated. */
export function quoteForDetail(value: unknown, maxLength = 120): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
}

/**
 * Reasons for refusing Cloud Run's `X-Serverless-Authorization` header as sent. The header is the
 * platform's credential (unchecked attacker input when the invoker check is off): it is never the
 * caller's identity, so each rule below is a refusal, never a fallback.
 */
export const ServerlessAuthorizationReason = {
  /** `X-Serverless-Authorization` sent, but no caller credential in `Authorization`. */
  WITHOUT_CALLER_CREDENTIAL: 'SERVERLESS_AUTHORIZATION_WITHOUT_CALLER_CREDENTIAL',
  /** The caller credential is the token of `X-Serverless-Authorization` (one token, two jobs). */
  REUSED: 'SERVERLESS_AUTHORIZATION_REUSED_AS_CALLER_CREDENTIAL',
  /** `X-Serverless-Authorization` sent more than once. */
  REPEATED: 'SERVERLESS_AUTHORIZATION_REPEATED',
  /** Empty, not the `Bearer` scheme, not one b64token, or too large. */
  MALFORMED: 'SERVERLESS_AUTHORIZATION_MALFORMED',
  /** `Authorization` sent more than once beside `X-Serverless-Authorization`. */
  CALLER_CREDENTIAL_REPEATED: 'CALLER_CREDENTIAL_REPEATED',
} as const;
export type ServerlessAuthorizationReason =
  (typeof ServerlessAuthorizationReason)[keyof typeof ServerlessAuthorizationReason];

const SERVERLESS_AUTHORIZATION_FORM = 'X-Serverless-Authorization must be sent once, as "Bearer <token>".';
/** What the caller is told for each reason: generic, and never a token. */
export const SERVERLESS_AUTHORIZATION_MESSAGES: Readonly<Record<ServerlessAuthorizationReason, string>> = {
  SERVERLESS_AUTHORIZATION_WITHOUT_CALLER_CREDENTIAL:
    "The request has no caller credential in Authorization. X-Serverless-Authorization is only for Cloud Run's invoker check; send your own credential in the Authorization header.",
  SERVERLESS_AUTHORIZATION_REUSED_AS_CALLER_CREDENTIAL:
    'The same token cannot be both the Cloud Run invoker credential (X-Serverless-Authorization) and the caller credential; send a credential of your own.',
  SERVERLESS_AUTHORIZATION_REPEATED: SERVERLESS_AUTHORIZATION_FORM,
  SERVERLESS_AUTHORIZATION_MALFORMED: SERVERLESS_AUTHORIZATION_FORM,
  CALLER_CREDENTIAL_REPEATED: 'Send exactly one Authorization header.',
};

/** An {@link UnauthenticatedError} for a refused `X-Serverless-Authorization`. `detail` never holds a token. */
export function rejectServerlessAuthorization(
  reason: ServerlessAuthorizationReason,
  detail: string,
): UnauthenticatedError {
  return new UnauthenticatedError(SERVERLESS_AUTHORIZATION_MESSAGES[reason], { reason, detail });
}
