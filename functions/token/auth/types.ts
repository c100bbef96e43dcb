/**
 * Public types of caller authentication: what the token function is configured with and what
 * it learns about a verified caller.
 */

/** Asymmetric JWS algorithms a caller's token may use. Never `HS*`, never `none`. */
export type CallerTokenAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA';

/** The algorithms accepted by {@link IssuerConfig.algorithms}. */
export const CALLER_TOKEN_ALGORITHMS: readonly CallerTokenAlgorithm[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'ES256',
  'ES384',
  'EdDSA',
];

/** One trusted OIDC issuer. */
export interface IssuerConfig {
  /** Compared with `iss` by exact string equality, e.g. `https://accounts.google.com`. */
  issuer: string;
  /** JWKS location; when absent it is read from the issuer's own OIDC discovery document. */
  jwksUri?: string;
  /** Accepted `aud` values (this service's own audience); required, non-empty. */
  audiences: string[];
  /** Accepted `alg` values; default `['RS256']`. */
  algorithms?: CallerTokenAlgorithm[];
}

export interface CallerAuthOptions {
  issuers: IssuerConfig[];
  /** Allowed clock skew for `exp`/`nbf`/`iat`, at most 60. */
  clockToleranceSeconds: number;
  /** Larger bearer tokens are rejected before parsing; default 16 KiB. */
  maxTokenBytes?: number;
  /** When set, opaque (non-JWT) bearers are checked at Google's tokeninfo endpoint. */
  googleAccessTokens?: { tokeninfoUrl: string; cacheMaxEntries?: number };
  /** Deadline of every discovery, JWKS and tokeninfo request; default 3000. */
  fetchTimeoutMs?: number;
  /** Cap on discovery, JWKS and tokeninfo bodies; default 256 KiB. */
  maxDocumentBytes?: number;
  /** Upper bound on how long a JWKS is used before refetching (a shorter `max-age` wins); default 1 h. */
  jwksCacheMaxAgeMs?: number;
  /** At most one JWKS refetch per issuer per this period for unknown `kid`s or after a failure; default 30 s. */
  jwksRefetchCooldownMs?: number;
  /** Clock in epoch milliseconds; default `Date.now`. */
  now?: () => number;
  fetchImpl?: typeof fetch;
}

/**
 * A verified caller: what authentication returns (bearer or RFC 8693 subject token), what the
 * policy matches (see `PolicyCaller`) and what the audit entry names. The one caller type.
 */
export interface CallerIdentity {
  /** How the caller proved it: an ID token (audience-bound to us) or a Google access token (checked at tokeninfo). */
  kind: 'id_token' | 'google_access_token';
  issuer: string;
  subject: string;
  email?: string;
  emailVerified?: boolean;
  /** The configured audience the token was accepted for (tokeninfo: the token's `aud`). */
  audience?: string;
  expiresAtMs: number;
  /** Verified claims (deeply frozen), for policy claim matching. */
  claims: Readonly<Record<string, unknown>>;
}

export interface CallerAuthenticator {
  /** Verifies an `Authorization` header value and returns the caller it proves. */
  authenticate(authorizationHeader: string | undefined): Promise<CallerIdentity>;
  /**
   * `authenticate`'s answer when the token was verified before and is unexpired, synchronously;
   * `undefined` when verification is needed. Throws as `authenticate` for a malformed header.
   */
  authenticateCached(authorizationHeader: string | undefined): CallerIdentity | undefined;
  /** Verifies a bare JWT (e.g. an RFC 8693 subject token) by the same rules as a bearer ID token. */
  verifyJwt(token: string): Promise<CallerIdentity>;
}
