import {
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTPayload,
  type ProtectedHeaderParameters,
} from 'jose';
import { freezeClaims } from './freeze-claims.js';
import type { IssuerKeys } from './issuer-keys.js';
import type { ResolvedIssuer } from './options.js';
import { CallerAuthReason, quoteForDetail, rejectCaller } from './reasons.js';
import type { CallerIdentity } from './types.js';

/** Oldest `iat` accepted, whatever `exp` says. */
export const MAX_TOKEN_AGE_SECONDS = 24 * 60 * 60;
const REQUIRED_CLAIMS = ['exp', 'iat', 'iss', 'aud', 'sub'];
const GOOGLE_ISSUER = 'https://accounts.google.com';
// Three base64url segments; an empty signature is let through so `alg: none` is named as such.
const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const JWT_MEDIA_TYPE = /^(?:application\/)?jwt$/i;

export interface TrustedIssuer {
  config: ResolvedIssuer;
  keys: IssuerKeys;
}

export interface IdTokenVerifierDeps {
  /** Keyed by the exact issuer string. */
  issuers: ReadonlyMap<string, TrustedIssuer>;
  clockToleranceSeconds: number;
  now: () => number;
}

/**
 * Whether a bearer token is meant as a JWT: three segments whose first is a JOSE header. Google
 * access tokens can have three dot-separated parts too (`ya29.c.…`), so the count alone is not enough.
 */
export function looksLikeJwt(token: string): boolean {
  if (token.split('.').length !== 3) return false;
  try {
    decodeProtectedHeader(token);
    return true;
  } catch {
    return false;
  }
}

/**
 * Verifies an OIDC JWT by RFC 8725: the unverified payload is read only to pick a configured
 * issuer (an unknown one is rejected before any fetch); then jose checks the signature with that
 * issuer's keys and pinned algorithms, and the `iss`, `aud`, `exp`, `nbf` and `iat` claims.
 */
export async function verifyIdToken(token: string, deps: IdTokenVerifierDeps): Promise<CallerIdentity> {
  if (!JWS_COMPACT.test(token))
    throw rejectCaller(CallerAuthReason.MALFORMED, 'token is not a JWS compact serialization');
  let header: ProtectedHeaderParameters;
  let unverified: JWTPayload;
  try {
    header = decodeProtectedHeader(token);
    unverified = decodeJwt(token);
  } catch (error) {
    // jose's decoders throw only TypeError and JWTInvalid.
    throw rejectCaller(
      CallerAuthReason.MALFORMED,
      `token does not decode as a JWT: ${describe(error as Error)}`,
    );
  }
  const claimedIssuer = unverified.iss;
  if (claimedIssuer === undefined)
    throw rejectCaller(CallerAuthReason.CLAIM_MISSING, 'token has no "iss" claim');
  if (typeof claimedIssuer !== 'string')
    throw rejectCaller(CallerAuthReason.CLAIM_INVALID, '"iss" claim is not a string');
  const trusted = deps.issuers.get(claimedIssuer);
  if (trusted === undefined)
    throw rejectCaller(
      CallerAuthReason.ISSUER_UNKNOWN,
      `issuer ${quoteForDetail(claimedIssuer)} is not configured`,
    );
  checkHeader(header, trusted.config);

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(
      token,
      (verifiedHeader) => trusted.keys.getKey({ alg: verifiedHeader.alg, kid: verifiedHeader.kid }),
      {
        algorithms: [...trusted.config.algorithms],
        issuer: trusted.config.issuer,
        audience: [...trusted.config.audiences],
        clockTolerance: deps.clockToleranceSeconds,
        requiredClaims: REQUIRED_CLAIMS,
        maxTokenAge: MAX_TOKEN_AGE_SECONDS,
        currentDate: new Date(deps.now()),
      },
    ));
  } catch (error) {
    throw mapVerifyError(error, trusted.config.issuer);
  }
  return toIdentity(payload, trusted.config);
}

function checkHeader(header: ProtectedHeaderParameters, issuer: ResolvedIssuer): void {
  const { alg, kid, typ, cty } = header;
  if (!(issuer.algorithms as readonly unknown[]).includes(alg)) {
    throw rejectCaller(
      CallerAuthReason.ALGORITHM_NOT_ALLOWED,
      `alg ${quoteForDetail(alg)} is not allowed for issuer ${issuer.issuer}`,
    );
  }
  if ('crit' in header)
    throw rejectCaller(
      CallerAuthReason.CRITICAL_HEADER,
      'token has a "crit" header; no extension is supported',
    );
  if (cty !== undefined) {
    const nested = typeof cty === 'string' && JWT_MEDIA_TYPE.test(cty);
    throw rejectCaller(
      nested ? CallerAuthReason.NESTED_JWT : CallerAuthReason.TYPE_MISMATCH,
      `token has content type ${quoteForDetail(cty)}`,
    );
  }
  if (typ !== undefined && (typeof typ !== 'string' || !JWT_MEDIA_TYPE.test(typ))) {
    throw rejectCaller(CallerAuthReason.TYPE_MISMATCH, `token type ${quoteForDetail(typ)} is not JWT`);
  }
  if (kid !== undefined && typeof kid !== 'string')
    throw rejectCaller(CallerAuthReason.MALFORMED, '"kid" header is not a string');
}

/**
 * jose's refusals become caller rejections; anything else (the key source's own Unauthenticated or
 * Unavailable error, a programming error) passes as it is. jose's `JOSEAlgNotAllowed` cannot occur:
 * {@link checkHeader} has already refused every `alg` outside the same list.
 */
function mapVerifyError(error: unknown, issuer: string): unknown {
  if (!(error instanceof errors.JOSEError)) return error;
  const detail = `issuer ${issuer}: ${describe(error)}`;
  if (error instanceof errors.JWTExpired) {
    return rejectCaller(error.claim === 'iat' ? CallerAuthReason.TOO_OLD : CallerAuthReason.EXPIRED, detail);
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return rejectCaller(CallerAuthReason.CLAIM_MISSING, detail);
    if (error.reason === 'invalid') return rejectCaller(CallerAuthReason.CLAIM_INVALID, detail);
    const byClaim: Record<string, CallerAuthReason> = {
      nbf: CallerAuthReason.NOT_YET_VALID,
      iat: CallerAuthReason.ISSUED_IN_FUTURE,
      aud: CallerAuthReason.AUDIENCE_MISMATCH,
      iss: CallerAuthReason.ISSUER_UNKNOWN,
    };
    return rejectCaller(byClaim[error.claim] ?? CallerAuthReason.CLAIM_INVALID, detail);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return rejectCaller(CallerAuthReason.SIGNATURE_INVALID, detail);
  return rejectCaller(CallerAuthReason.MALFORMED, detail);
}

function toIdentity(payload: JWTPayload, issuer: ResolvedIssuer): CallerIdentity {
  const { sub, aud, exp, email, email_verified: emailVerifiedClaim } = payload;
  if (typeof sub !== 'string' || sub === '')
    throw rejectCaller(CallerAuthReason.CLAIM_INVALID, '"sub" claim is not a non-empty string');
  // jose has checked that `aud` names at least one of them.
  const audience = issuer.audiences.find((candidate) =>
    Array.isArray(aud) ? aud.includes(candidate) : aud === candidate,
  )!;
  const emailVerified = typeof emailVerifiedClaim === 'boolean' ? emailVerifiedClaim : undefined;
  // Google asserts an address only when it says it verified it; other issuers pass theirs on as is.
  const emailUsable =
    typeof email === 'string' && email !== '' && (issuer.issuer !== GOOGLE_ISSUER || emailVerified === true);
  return {
    kind: 'id_token',
    issuer: issuer.issuer,
    subject: sub,
    ...(emailUsable ? { email } : {}),
    ...(emailVerified === undefined ? {} : { emailVerified }),
    audience,
    expiresAtMs: (exp as number) * 1000,
    claims: freezeClaims(payload),
  };
}

function describe(error: Error): string {
  return error instanceof errors.JOSEError ? `${error.code}: ${error.message}` : error.message;
}
