/**
 * The token function's configuration: read once from the environment at cold start, validated
 * with zod, failing loudly with the variable's name and what was wrong.
 */
import { LOOPBACK_HOSTS, secureUrl } from './secure-url.js';
import {
  userGrantsConfigOf,
  userGrantsEnvSchema,
  type UserGrantsConfig,
} from './user-grants/user-grants-config.js';
import * as z from './zod.js';

export { secureUrl };

/** Google's production endpoints; every one is overridable so the same code runs on the emulator. */
export const GOOGLE_DEFAULTS = {
  tokenUri: 'https://oauth2.googleapis.com/token',
  jwksUrl: 'https://www.googleapis.com/oauth2/v3/certs',
  tokeninfoUrl: 'https://oauth2.googleapis.com/tokeninfo',
  iamCredentialsUrl: 'https://iamcredentials.googleapis.com',
  secretManagerEndpoint: 'https://secretmanager.googleapis.com',
  googleIssuer: 'https://accounts.google.com',
  stsUrl: 'https://sts.googleapis.com/v1/token',
  kmsUrl: 'https://cloudkms.googleapis.com',
} as const;

/**
 * A Redis URL without credentials (the AUTH string comes from Secret Manager): `rediss://` (TLS)
 * anywhere, plain `redis://` only on loopback (the local emulator), like http above.
 */
const redisUrl = z.string().check(
  z.refine((value) => {
    try {
      const url = new URL(value);
      if (url.username || url.password || (url.pathname !== '' && url.pathname !== '/')) return false;
      return url.protocol === 'rediss:' || (url.protocol === 'redis:' && LOOPBACK_HOSTS.has(url.hostname));
    } catch {
      return false;
    }
  }, 'must be rediss://HOST:PORT (redis:// only for localhost), without credentials or a path'),
);

/** A comma-separated list, trimmed, empties dropped. */
export const csv = z.pipe(
  z.string(),
  z.transform((value: string) =>
    value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ),
);
/** An integer from the environment's text, within [min, max]. */
const int = (min: number, max: number) => z.coerce.number().check(z.int(), z.minimum(min), z.maximum(max));
const seconds = int; // named for the unit

const algorithm = z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA']);
const issuerSchema = z.strictObject({
  issuer: z.string().check(z.minLength(1)),
  jwksUri: z.optional(secureUrl),
  audiences: z.optional(z.array(z.string().check(z.minLength(1))).check(z.minLength(1))),
  algorithms: z.optional(z.array(algorithm).check(z.minLength(1))),
});
export type ExternalIssuer = z.infer<typeof issuerSchema>;

const jsonArray = <T extends z.core.SomeType>(item: T) =>
  z.pipe(z.jsonText('must be valid JSON'), z.array(item));

const envSchema = z.object({
  TVS_AUDIENCE: z.pipe(
    csv,
    z
      .array(z.string().check(z.minLength(1)))
      .check(z.minLength(1, 'must name the audience(s) callers put in their ID tokens (the service URL)')),
  ),
  TVS_POLICY_FILE: z.optional(z.string().check(z.minLength(1))),
  TVS_POLICY_SECRET: z.optional(
    z
      .string()
      .check(
        z.regex(
          /^projects\/[^/]+\/secrets\/[^/]+\/versions\/[^/]+$/,
          'must be projects/P/secrets/S/versions/V',
        ),
      ),
  ),
  TVS_POLICY_TTL_SECONDS: z._default(seconds(5, 86_400), 60),
  TVS_POLICY_MAX_STALENESS_SECONDS: z._default(seconds(5, 7 * 86_400), 3600),
  TVS_POLICY_NOTIFIER: z.optional(
    z
      .string()
      .check(
        z.regex(
          /^[a-z0-9-]+@[a-z0-9.-]+\.gserviceaccount\.com$/,
          'must be a service account email (lower case)',
        ),
      ),
  ),
  TVS_OIDC_ISSUERS: z._default(jsonArray(issuerSchema), []),
  TVS_ACCEPT_GOOGLE_ACCESS_TOKENS: z.pipe(
    z._default(z.enum(['true', 'false']), 'true'),
    z.transform((v) => v === 'true'),
  ),
  TVS_GOOGLE_JWKS_URL: z._default(secureUrl, GOOGLE_DEFAULTS.jwksUrl),
  TVS_GOOGLE_TOKENINFO_URL: z._default(secureUrl, GOOGLE_DEFAULTS.tokeninfoUrl),
  TVS_TOKEN_URI_ALLOWLIST: z._default(z.pipe(csv, z.array(secureUrl).check(z.minLength(1))), [
    GOOGLE_DEFAULTS.tokenUri,
  ]),
  TVS_IAM_CREDENTIALS_URL: z._default(secureUrl, GOOGLE_DEFAULTS.iamCredentialsUrl),
  TVS_SECRET_MANAGER_ENDPOINT: z._default(secureUrl, GOOGLE_DEFAULTS.secretManagerEndpoint),
  TVS_CLOCK_SKEW_SECONDS: z._default(seconds(0, 60), 60),
  TVS_CACHE_MAX_ENTRIES: z._default(int(1, 1_000_000), 10_000),
  TVS_REFRESH_AHEAD_SECONDS: z._default(seconds(0, 1800), 300),
  TVS_MIN_TOKEN_LIFETIME_SECONDS: z._default(seconds(0, 1800), 60),
  TVS_UPSTREAM_DEADLINE_MS: z._default(int(100, 60_000), 10_000),
  TVS_UPSTREAM_MAX_ATTEMPTS: z._default(int(1, 10), 4),
  TVS_AUDIT_LOG_NAME: z._default(
    z.string().check(z.regex(/^[A-Za-z0-9_.\/-]{1,100}$/)),
    'token-vending-audit',
  ),
  GOOGLE_CLOUD_PROJECT: z.optional(z.string()),
  // OAuth client_credentials: failed client authentications throttled per client id.
  TVS_OAUTH_MAX_FAILED_ATTEMPTS: z._default(int(1, 1000), 10),
  TVS_OAUTH_FAILURE_WINDOW_SECONDS: z._default(seconds(1, 86_400), 60),
  TVS_OAUTH_THROTTLE_MAX_CLIENTS: z._default(int(1, 1_000_000), 10_000),
  // Google STS, where tokens of rules with an accessBoundary are downscoped.
  TVS_STS_URL: z._default(secureUrl, GOOGLE_DEFAULTS.stsUrl),
  // ... and per source address (the client IP, see TVS_FORWARDED_FOR_TRUSTED_HOPS).
  TVS_OAUTH_MAX_FAILED_ATTEMPTS_PER_SOURCE: z._default(int(1, 10_000), 30),
  TVS_OAUTH_THROTTLE_MAX_SOURCES: z._default(int(1, 1_000_000), 10_000),
  // X-Forwarded-For entries appended by our own proxies after Google's front end (1 behind the external LB).
  TVS_FORWARDED_FOR_TRUSTED_HOPS: z._default(int(0, 10), 0),
  // Policy quotas (the policy's "limits"): "off" disables them (the benchmark's baseline; an emergency switch).
  TVS_RATE_LIMITS: z._default(z.enum(['on', 'off']), 'on'),
  TVS_RATE_LIMIT_MAX_CALLERS: z._default(int(1, 1_000_000), 10_000),
  // The shared, encrypted cache tier (docs/shared-cache.md): unset = every instance mints for itself.
  TVS_SHARED_CACHE_URL: z.optional(redisUrl),
  TVS_SHARED_CACHE_KMS_KEY: z.optional(
    z
      .string()
      .check(
        z.regex(
          /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/,
          'must be projects/P/locations/L/keyRings/R/cryptoKeys/K',
        ),
      ),
  ),
  TVS_SHARED_CACHE_KMS_URL: z._default(secureUrl, GOOGLE_DEFAULTS.kmsUrl),
  TVS_SHARED_CACHE_AUTH_SECRET: z.optional(
    z
      .string()
      .check(
        z.regex(
          /^projects\/[^/]+\/secrets\/[^/]+\/versions\/[^/]+$/,
          'must be projects/P/secrets/S/versions/V',
        ),
      ),
  ),
  TVS_SHARED_CACHE_CA: z.optional(
    z
      .string()
      .check(
        z.refine(
          (v) => v.includes('-----BEGIN CERTIFICATE-----'),
          "must be PEM certificate(s) (the instance's server CA)",
        ),
      ),
  ),
  TVS_SHARED_CACHE_OP_TIMEOUT_MS: z._default(int(10, 5_000), 100),
  TVS_SHARED_CACHE_CONNECT_TIMEOUT_MS: z._default(int(100, 10_000), 2_000),
  TVS_SHARED_CACHE_LOCK_WAIT_MS: z._default(int(0, 30_000), 3_000),
  // User-token vending and grant revocation (issue 19): off unless TVS_USER_CONSENT_CLIENT_ID is set.
  ...userGrantsEnvSchema.shape,
});

export interface TokenServiceConfig {
  /** Audiences accepted in callers' ID tokens: the service's URL(s), comma-separated in the env. */
  audiences: string[];
  /**
   * Where the policy comes from; re-read when older than `ttlSeconds`. When no re-read has
   * succeeded for `maxStalenessSeconds`, requests fail closed (503 POLICY_STALE).
   */
  policy: {
    file?: string;
    secretVersion?: string;
    ttlSeconds: number;
    maxStalenessSeconds: number;
    /** The Pub/Sub push service account allowed to send policy change notifications. */
    notifier?: string;
  };
  issuers: ExternalIssuer[];
  acceptGoogleAccessTokens: boolean;
  googleJwksUrl: string;
  googleTokeninfoUrl: string;
  tokenUriAllowlist: string[];
  iamCredentialsUrl: string;
  secretManagerEndpoint: string;
  clockSkewSeconds: number;
  cache: { maxEntries: number; refreshAheadMs: number; minRemainingMs: number };
  upstream: { deadlineMs: number; maxAttempts: number };
  auditLogName: string;
  projectId: string | undefined;
  /** After `maxFailures` failed client authentications in `windowMs`, a client id gets 429 for `windowMs`; at most `maxEntries` ids tracked. */
  oauthClientThrottle: { maxFailures: number; windowMs: number; maxEntries: number };
  /** Google STS token endpoint: downscoping with Credential Access Boundaries. */
  stsUrl: string;
  /** The same per source address (`windowMs` shared); a full table stops tracking new sources rather than refusing them. */
  oauthSourceThrottle: { maxFailures: number; windowMs: number; maxEntries: number };
  /** How many X-Forwarded-For entries, counted from the right, our own proxies appended after Google's front end. */
  forwardedForTrustedHops: number;
  /** The policy's quotas; `undefined` when TVS_RATE_LIMITS=off. `maxCallers`: entries per limiter table. */
  rateLimits: { maxCallers: number } | undefined;
  /** The shared, encrypted cache tier; `undefined` when TVS_SHARED_CACHE_URL is unset. */
  sharedCache?: SharedCacheConfig;
  /** User-token vending and grant revocation; `undefined` when TVS_USER_CONSENT_CLIENT_ID is unset. */
  userGrants?: UserGrantsConfig;
}

/** Where the shared cache tier lives and how long it may take (docs/shared-cache.md). */
export interface SharedCacheConfig {
  /** `rediss://host:port` (Memorystore with in-transit encryption) or `redis://localhost:port`. */
  url: string;
  /** Cloud KMS key that wraps the data keys: `projects/P/locations/L/keyRings/R/cryptoKeys/K`. */
  kmsKey: string;
  /** `https://cloudkms.googleapis.com`, or the emulator. */
  kmsUrl: string;
  /** Secret Manager version holding the instance's AUTH string; absent = no AUTH. */
  authSecretVersion?: string;
  /** PEM of the instance's server CA (rediss:// only). */
  caPem?: string;
  /** Bound of one Redis command on an open connection. */
  opTimeoutMs: number;
  /** Bound of waiting for the connection to open (a cold instance's first misses wait for it). */
  connectTimeoutMs: number;
  /** How long a miss waits for another instance's mint of the same key before minting itself. */
  lockWaitMs: number;
}

/** Thrown when the environment is unusable; the message names every bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses `env` with `schema`, or throws `ConfigError` naming every bad variable. Shared by both functions. */
export function parseEnv<T extends z.core.$ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  const parsed = z.safeParse(schema, env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  return parsed.data;
}

/** Parses the token function's environment. Throws `ConfigError` naming each bad variable. */
export function loadTokenServiceConfig(env: NodeJS.ProcessEnv = process.env): TokenServiceConfig {
  const e = parseEnv(envSchema, env);
  if (!e.TVS_POLICY_FILE === !e.TVS_POLICY_SECRET) {
    throw new ConfigError(
      'Invalid configuration:\n  TVS_POLICY_FILE / TVS_POLICY_SECRET: set exactly one of them',
    );
  }
  const userGrants = userGrantsConfigOf(e);
  const shared = [...sharedCacheProblems(e), ...userGrants.problems];
  if (userGrants.config && !e.GOOGLE_CLOUD_PROJECT)
    shared.push(
      "GOOGLE_CLOUD_PROJECT: required with TVS_USER_CONSENT_CLIENT_ID (the grants' Firestore project)",
    );
  if (shared.length > 0) throw new ConfigError(`Invalid configuration:\n  ${shared.join('\n  ')}`);
  if (e.TVS_POLICY_MAX_STALENESS_SECONDS < e.TVS_POLICY_TTL_SECONDS) {
    // Otherwise a healthy policy would go stale between two scheduled re-reads.
    throw new ConfigError(
      `Invalid configuration:\n  TVS_POLICY_MAX_STALENESS_SECONDS: must be at least TVS_POLICY_TTL_SECONDS (${e.TVS_POLICY_TTL_SECONDS})`,
    );
  }
  return {
    audiences: e.TVS_AUDIENCE,
    policy: {
      file: e.TVS_POLICY_FILE,
      secretVersion: e.TVS_POLICY_SECRET,
      ttlSeconds: e.TVS_POLICY_TTL_SECONDS,
      maxStalenessSeconds: e.TVS_POLICY_MAX_STALENESS_SECONDS,
      notifier: e.TVS_POLICY_NOTIFIER,
    },
    issuers: e.TVS_OIDC_ISSUERS,
    acceptGoogleAccessTokens: e.TVS_ACCEPT_GOOGLE_ACCESS_TOKENS,
    googleJwksUrl: e.TVS_GOOGLE_JWKS_URL,
    googleTokeninfoUrl: e.TVS_GOOGLE_TOKENINFO_URL,
    tokenUriAllowlist: e.TVS_TOKEN_URI_ALLOWLIST,
    iamCredentialsUrl: e.TVS_IAM_CREDENTIALS_URL.replace(/\/+$/, ''),
    secretManagerEndpoint: e.TVS_SECRET_MANAGER_ENDPOINT,
    clockSkewSeconds: e.TVS_CLOCK_SKEW_SECONDS,
    cache: {
      maxEntries: e.TVS_CACHE_MAX_ENTRIES,
      refreshAheadMs: e.TVS_REFRESH_AHEAD_SECONDS * 1000,
      minRemainingMs: e.TVS_MIN_TOKEN_LIFETIME_SECONDS * 1000,
    },
    upstream: { deadlineMs: e.TVS_UPSTREAM_DEADLINE_MS, maxAttempts: e.TVS_UPSTREAM_MAX_ATTEMPTS },
    auditLogName: e.TVS_AUDIT_LOG_NAME,
    projectId: e.GOOGLE_CLOUD_PROJECT,
    oauthClientThrottle: {
      maxFailures: e.TVS_OAUTH_MAX_FAILED_ATTEMPTS,
      windowMs: e.TVS_OAUTH_FAILURE_WINDOW_SECONDS * 1000,
      maxEntries: e.TVS_OAUTH_THROTTLE_MAX_CLIENTS,
    },
    stsUrl: e.TVS_STS_URL,
    oauthSourceThrottle: {
      maxFailures: e.TVS_OAUTH_MAX_FAILED_ATTEMPTS_PER_SOURCE,
      windowMs: e.TVS_OAUTH_FAILURE_WINDOW_SECONDS * 1000,
      maxEntries: e.TVS_OAUTH_THROTTLE_MAX_SOURCES,
    },
    forwardedForTrustedHops: e.TVS_FORWARDED_FOR_TRUSTED_HOPS,
    rateLimits: e.TVS_RATE_LIMITS === 'on' ? { maxCallers: e.TVS_RATE_LIMIT_MAX_CALLERS } : undefined,
    ...(userGrants.config ? { userGrants: userGrants.config } : {}),
    ...(e.TVS_SHARED_CACHE_URL
      ? {
          sharedCache: {
            url: e.TVS_SHARED_CACHE_URL,
            kmsKey: e.TVS_SHARED_CACHE_KMS_KEY!,
            kmsUrl: e.TVS_SHARED_CACHE_KMS_URL.replace(/\/+$/, ''),
            authSecretVersion: e.TVS_SHARED_CACHE_AUTH_SECRET,
            caPem: e.TVS_SHARED_CACHE_CA,
            opTimeoutMs: e.TVS_SHARED_CACHE_OP_TIMEOUT_MS,
            connectTimeoutMs: e.TVS_SHARED_CACHE_CONNECT_TIMEOUT_MS,
            lockWaitMs: e.TVS_SHARED_CACHE_LOCK_WAIT_MS,
          },
        }
      : {}),
  };
}

/** Cross-variable rules of the shared cache tier; each returns the problem, or undefined. */
function sharedCacheProblems(e: z.infer<typeof envSchema>): string[] {
  const problems: string[] = [];
  const dependents = [
    'TVS_SHARED_CACHE_KMS_KEY',
    'TVS_SHARED_CACHE_AUTH_SECRET',
    'TVS_SHARED_CACHE_CA',
  ] as const;
  if (!e.TVS_SHARED_CACHE_URL) {
    for (const name of dependents)
      if (e[name] !== undefined) problems.push(`${name}: set only together with TVS_SHARED_CACHE_URL`);
    return problems;
  }
  if (!e.TVS_SHARED_CACHE_KMS_KEY)
    problems.push(
      'TVS_SHARED_CACHE_KMS_KEY: required with TVS_SHARED_CACHE_URL (entries are encrypted under it)',
    );
  if (e.TVS_SHARED_CACHE_CA && !e.TVS_SHARED_CACHE_URL.startsWith('rediss:'))
    problems.push('TVS_SHARED_CACHE_CA: only with a rediss:// TVS_SHARED_CACHE_URL');
  return problems;
}
