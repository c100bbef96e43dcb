import { compactVerify } from 'jose';
import type { ServiceAccount, ServiceAccountKey, ServiceAccountRegistry } from '../state/service-accounts.js';
import { isUsable } from '../state/service-accounts.js';

/** Audiences Google's token endpoint accepts besides the emulator's own token URL. */
export const GOOGLE_TOKEN_AUDIENCES: readonly string[] = [
  'https://oauth2.googleapis.com/token',
  'https://www.googleapis.com/oauth2/v4/token',
];

/** Allowed clock skew for `iat`/`exp`, in seconds. */
export const CLOCK_SKEW_SECONDS = 60;

/** Longest assertion Google accepts (`exp - iat`). */
export const MAX_ASSERTION_LIFETIME_SECONDS = 3600;

/** Google's texts for refused assertions. */
export const GOOGLE_TEXTS = {
  badSignature: 'Invalid JWT Signature.',
  accountNotFound: 'Invalid grant: account not found',
  badTimes:
    'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
  badAudience:
    'Invalid JWT: Failed audience check. The right audience is https://oauth2.googleapis.com/token',
  noScope: 'Empty or missing scope not allowed.',
  unauthorizedClient:
    'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
} as const;

/** RFC 6749 error of a refused grant. */
export interface GrantError {
  readonly ok: false;
  readonly status: number;
  readonly error: string;
  readonly description: string;
}

/** A verified assertion: who signed it, with which key, asking for what. */
export type GrantRequest =
  | { ok: true; kind: 'access_token'; account: ServiceAccount; key: ServiceAccountKey; scopes: string[] }
  | { ok: true; kind: 'id_token'; account: ServiceAccount; key: ServiceAccountKey; audience: string };

const refuse = (error: string, description: string, status = 400): GrantError => ({
  ok: false,
  status,
  error,
  description,
});

/**
 * Checks a jwt-bearer assertion as Google does: RS256 only, signature by a usable key of
 * `iss` (by `kid` when present), audience, short lifetime and sane times, then `scope` or
 * `target_audience`.
 */
export async function verifyJwtBearerAssertion(
  deps: { serviceAccounts: ServiceAccountRegistry; tokenUrl: string },
  assertion: string,
  nowMs: number = Date.now(),
): Promise<GrantRequest | GrantError> {
  const decoded = decodeUnverified(assertion);
  if (!decoded) return refuse('invalid_grant', GOOGLE_TEXTS.badSignature);
  const { header, claims } = decoded;
  if (header.alg !== 'RS256') return refuse('invalid_grant', GOOGLE_TEXTS.badSignature);

  const account = typeof claims.iss === 'string' ? deps.serviceAccounts.get(claims.iss) : undefined;
  if (!account || account.disabled) return refuse('invalid_grant', GOOGLE_TEXTS.accountNotFound);

  const key = await findSigningKey(deps.serviceAccounts, account, header.kid, assertion, nowMs);
  if (!key) return refuse('invalid_grant', GOOGLE_TEXTS.badSignature);

  const audiences = [deps.tokenUrl, ...GOOGLE_TOKEN_AUDIENCES];
  if (typeof claims.aud !== 'string' || !audiences.includes(claims.aud))
    return refuse('invalid_grant', GOOGLE_TEXTS.badAudience);

  if (!timesAreSane(claims.iat, claims.exp, nowMs)) return refuse('invalid_grant', GOOGLE_TEXTS.badTimes);

  // Domain-wide delegation is a Workspace feature the emulator does not grant.
  if (claims.sub !== undefined && claims.sub !== account.email)
    return refuse('unauthorized_client', GOOGLE_TEXTS.unauthorizedClient, 401);

  if (typeof claims.target_audience === 'string' && claims.target_audience.trim() !== '') {
    return { ok: true, kind: 'id_token', account, key, audience: claims.target_audience };
  }
  const scopes = typeof claims.scope === 'string' ? claims.scope.split(/\s+/).filter((s) => s !== '') : [];
  if (scopes.length === 0) return refuse('invalid_scope', GOOGLE_TEXTS.noScope);
  return { ok: true, kind: 'access_token', account, key, scopes };
}

interface Unverified {
  header: { alg?: unknown; kid?: unknown };
  claims: Record<string, unknown>;
}

function decodeUnverified(jwt: string): Unverified | undefined {
  const parts = jwt.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as unknown;
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as unknown;
    if (!isObject(header) || !isObject(claims)) return undefined;
    return { header, claims };
  } catch {
    return undefined;
  }
}

async function findSigningKey(
  registry: ServiceAccountRegistry,
  account: ServiceAccount,
  kid: unknown,
  assertion: string,
  nowMs: number,
): Promise<ServiceAccountKey | undefined> {
  let candidates: ServiceAccountKey[];
  if (kid === undefined) {
    candidates = registry.usableKeys(account.email, nowMs);
  } else {
    const key = typeof kid === 'string' ? registry.getKey(account.email, kid) : undefined;
    candidates = key && isUsable(key, nowMs) ? [key] : [];
  }
  for (const key of candidates) {
    try {
      await compactVerify(assertion, key.publicKey, { algorithms: ['RS256'] });
      return key;
    } catch {
      // Not this key; try the next one.
    }
  }
  return undefined;
}

function timesAreSane(iat: unknown, exp: unknown, nowMs: number): boolean {
  if (typeof iat !== 'number' || typeof exp !== 'number' || !Number.isFinite(iat) || !Number.isFinite(exp))
    return false;
  const now = nowMs / 1000;
  return (
    exp > iat &&
    exp - iat <= MAX_ASSERTION_LIFETIME_SECONDS &&
    iat <= now + CLOCK_SKEW_SECONDS &&
    exp >= now - CLOCK_SKEW_SECONDS
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
