/**
 * The one place every route reads its credential headers: `Authorization` (the caller's
 * credential, always) and Cloud Run's `X-Serverless-Authorization` (never the caller's).
 *
 * Platform facts: with the invoker IAM check on, Cloud Run verifies the Google ID token in
 * `X-Serverless-Authorization` when present and passes `Authorization` through untouched
 * (otherwise it verifies `Authorization`), and it may replace the signature of the token it
 * verified with `SIGNATURE_REMOVED_BY_GOOGLE` (documented for ID tokens gcloud minted for a user
 * account; see docs/security.md). With the check off (public mode) the header is whatever the
 * sender wrote. So its token is never verified, matched by the policy or logged here; it is only
 * compared, by hash, with the caller's credential, so that one token cannot do both jobs.
 *
 * Rules when `X-Serverless-Authorization` is present (each a 401 with its own reason, see
 * `ServerlessAuthorizationReason`): it comes exactly once, as `Bearer <b64token>`; `Authorization`
 * comes at most once; the caller credential is present where the route reads it and is not the
 * same token. Without the header nothing changes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { rejectServerlessAuthorization, ServerlessAuthorizationReason } from '../auth/reasons.js';

export const SERVERLESS_AUTHORIZATION_HEADER = 'x-serverless-authorization';
// RFC 6750 §2.1 b64token after the Bearer scheme (any case), as in Authorization.
const BEARER_TOKEN = /^bearer ([A-Za-z0-9\-._~+/]+=*)$/i;
/** Bound on the header value before it is matched (Node caps all headers at 16 KiB by default). */
const MAX_HEADER_CHARS = 16 * 1024 + 64;

export interface CredentialHeaders {
  /** The `Authorization` value as every route read it before (the first one). */
  authorization: string | undefined;
  /** Whether `X-Serverless-Authorization` came: audited as a boolean, never its value. */
  serverlessAuthorization: boolean;
  /** Whether `credential` is the token of `X-Serverless-Authorization` (always false without it). */
  isServerlessAuthorizationToken(credential: string): boolean;
}

/** Whether the request carries `X-Serverless-Authorization` at all (any value, even empty). */
export function hasServerlessAuthorization(req: IncomingMessage): boolean {
  return req.headers[SERVERLESS_AUTHORIZATION_HEADER] !== undefined;
}

/**
 * Reads both headers and checks the form of `X-Serverless-Authorization` when it is present.
 * Throws `UnauthenticatedError` (reasons `SERVERLESS_AUTHORIZATION_REPEATED`, `_MALFORMED`,
 * `CALLER_CREDENTIAL_REPEATED`).
 */
export function readCredentialHeaders(req: IncomingMessage): CredentialHeaders {
  const authorization: string | undefined = req.headers.authorization;
  if (!hasServerlessAuthorization(req)) {
    return { authorization, serverlessAuthorization: false, isServerlessAuthorizationToken: () => false };
  }
  const values = req.headersDistinct[SERVERLESS_AUTHORIZATION_HEADER] ?? [];
  if (values.length !== 1) {
    throw rejectServerlessAuthorization(
      ServerlessAuthorizationReason.REPEATED,
      `${values.length} X-Serverless-Authorization headers`,
    );
  }
  const value = values[0].trim();
  if (value.length > MAX_HEADER_CHARS) {
    throw rejectServerlessAuthorization(
      ServerlessAuthorizationReason.MALFORMED,
      `X-Serverless-Authorization of ${value.length} characters exceeds the limit`,
    );
  }
  const token = BEARER_TOKEN.exec(value)?.[1];
  if (token === undefined) {
    throw rejectServerlessAuthorization(
      ServerlessAuthorizationReason.MALFORMED,
      value === ''
        ? 'X-Serverless-Authorization is empty'
        : 'X-Serverless-Authorization is not the Bearer scheme with one b64token',
    );
  }
  const authorizations = req.headersDistinct.authorization ?? [];
  if (authorizations.length > 1) {
    throw rejectServerlessAuthorization(
      ServerlessAuthorizationReason.CALLER_CREDENTIAL_REPEATED,
      `${authorizations.length} Authorization headers beside X-Serverless-Authorization`,
    );
  }
  const platform = tokenDigest(token);
  return {
    authorization,
    serverlessAuthorization: true,
    isServerlessAuthorizationToken: (credential) => timingSafeEqual(tokenDigest(credential), platform),
  };
}

/**
 * The `Authorization` value for the bearer-authenticated (IAM Credentials-compatible) routes.
 * With `X-Serverless-Authorization` present it must hold a caller credential of its own: absent
 * or blank → `SERVERLESS_AUTHORIZATION_WITHOUT_CALLER_CREDENTIAL`, the same token →
 * `SERVERLESS_AUTHORIZATION_REUSED_AS_CALLER_CREDENTIAL`.
 */
export function callerAuthorization(req: IncomingMessage): string | undefined {
  const headers = readCredentialHeaders(req);
  if (!headers.serverlessAuthorization) return headers.authorization;
  const authorization = headers.authorization?.trim() ?? '';
  if (authorization === '') {
    throw rejectServerlessAuthorization(
      ServerlessAuthorizationReason.WITHOUT_CALLER_CREDENTIAL,
      'X-Serverless-Authorization without Authorization',
    );
  }
  if (headers.isServerlessAuthorizationToken(credentialOf(authorization))) {
    throw rejectServerlessAuthorization(
      ServerlessAuthorizationReason.REUSED,
      'Authorization carries the token of X-Serverless-Authorization',
    );
  }
  return headers.authorization;
}

/** The credential after the auth scheme (`Bearer x` → `x`); the whole value when there is no scheme. */
function credentialOf(authorization: string): string {
  const space = authorization.search(/\s/);
  return space === -1 ? authorization : authorization.slice(space).trim();
}

/**
 * SHA-256 of what identifies a token: for a JWS (three segments) its signing input
 * `header.payload`, because Cloud Run may replace the signature of the token it verified, so the
 * same token can arrive with two different signatures; otherwise the whole token.
 */
function tokenDigest(token: string): Buffer {
  const segments = token.split('.');
  const identifying = segments.length === 3 ? `${segments[0]}.${segments[1]}` : token;
  return createHash('sha256').update(identifying, 'utf8').digest();
}
