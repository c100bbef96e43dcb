/**
 * The user-grant environment both functions read (issue 19): the OAuth client, where grants live,
 * the KMS key that wraps their data keys, and Google's OAuth endpoints. Parsed once at cold start
 * with the rest of a function's configuration. The user features are off when
 * `TVS_USER_CONSENT_CLIENT_ID` is unset; then no other variable of this group may be set either
 * (a half-configured deployment fails loudly instead of silently serving nothing).
 */
import { secureUrl } from '../secure-url.js';
import * as z from '../zod.js';

export const USER_GRANT_DEFAULTS = {
  firestoreUrl: 'https://firestore.googleapis.com',
  kmsUrl: 'https://cloudkms.googleapis.com',
  oauthTokenUrl: 'https://oauth2.googleapis.com/token',
  oauthRevokeUrl: 'https://oauth2.googleapis.com/revoke',
  databaseId: '(default)',
} as const;

const secretVersion = z
  .string()
  .check(
    z.regex(/^projects\/[^/]+\/secrets\/[^/]+\/versions\/[^/]+$/, 'must be projects/P/secrets/S/versions/V'),
  );

export const userGrantsEnvSchema = z.object({
  TVS_USER_CONSENT_CLIENT_ID: z.optional(
    z
      .string()
      .check(
        z.regex(
          /^[A-Za-z0-9._-]{1,200}\.apps\.googleusercontent\.com$/,
          'must be an OAuth client id (…apps.googleusercontent.com)',
        ),
      ),
  ),
  TVS_USER_CONSENT_CLIENT_SECRET: z.optional(secretVersion),
  TVS_USER_GRANTS_DATABASE: z.optional(
    z
      .string()
      .check(z.regex(/^(\(default\)|[a-z][a-z0-9-]{2,61}[a-z0-9])$/, 'must be a Firestore database id')),
  ),
  TVS_USER_GRANTS_KMS_KEY: z.optional(
    z
      .string()
      .check(
        z.regex(
          /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/,
          'must be projects/P/locations/L/keyRings/R/cryptoKeys/K',
        ),
      ),
  ),
  TVS_FIRESTORE_URL: z._default(secureUrl, USER_GRANT_DEFAULTS.firestoreUrl),
  TVS_KMS_URL: z._default(secureUrl, USER_GRANT_DEFAULTS.kmsUrl),
  TVS_GOOGLE_OAUTH_TOKEN_URL: z._default(secureUrl, USER_GRANT_DEFAULTS.oauthTokenUrl),
  TVS_GOOGLE_OAUTH_REVOKE_URL: z._default(secureUrl, USER_GRANT_DEFAULTS.oauthRevokeUrl),
  /** Token function: how long a cached user token is served before the grant is read again (0 = every request). */
  TVS_USER_GRANT_RECHECK_SECONDS: z._default(
    z.coerce.number().check(z.int(), z.minimum(0), z.maximum(3600)),
    60,
  ),
});

/** Where users' grants are and how the OAuth client reaches Google; absent when the feature is off. */
export interface UserGrantsConfig {
  /** The OAuth client users consented to. */
  clientId: string;
  /** Secret Manager version holding the client secret (read once, cached). */
  clientSecretVersion: string;
  /** Firestore database id of the grants. */
  databaseId: string;
  /** `projects/P/locations/L/keyRings/R/cryptoKeys/K`: wraps the grants' data keys. */
  kmsKey: string;
  firestoreUrl: string;
  kmsUrl: string;
  oauthTokenUrl: string;
  oauthRevokeUrl: string;
  /**
   * Token function: a user's cached tokens are served without reading the grant for at most this
   * long; then the grant is read again (one Firestore read per user per instance per period), so a
   * revocation written by another instance or by the consent function stops every instance within it.
   */
  grantRecheckMs: number;
}

/**
 * The user-grant configuration from already-parsed variables; `undefined` when the feature is off.
 * Returns the problems (naming each variable) instead of throwing, so a function's loader reports
 * them with its own.
 */
export function userGrantsConfigOf(e: z.infer<typeof userGrantsEnvSchema>): {
  config?: UserGrantsConfig;
  problems: string[];
} {
  const dependents = [
    'TVS_USER_CONSENT_CLIENT_SECRET',
    'TVS_USER_GRANTS_DATABASE',
    'TVS_USER_GRANTS_KMS_KEY',
  ] as const;
  if (!e.TVS_USER_CONSENT_CLIENT_ID) {
    const problems = dependents
      .filter((name) => e[name] !== undefined)
      .map((name) => `${name}: set only together with TVS_USER_CONSENT_CLIENT_ID (user features are off)`);
    return { problems };
  }
  const problems: string[] = [];
  if (!e.TVS_USER_CONSENT_CLIENT_SECRET)
    problems.push(
      "TVS_USER_CONSENT_CLIENT_SECRET: required with TVS_USER_CONSENT_CLIENT_ID (the OAuth client secret's Secret Manager version)",
    );
  if (!e.TVS_USER_GRANTS_KMS_KEY)
    problems.push(
      'TVS_USER_GRANTS_KMS_KEY: required with TVS_USER_CONSENT_CLIENT_ID (refresh tokens are sealed under it)',
    );
  if (problems.length > 0) return { problems };
  return {
    problems,
    config: {
      clientId: e.TVS_USER_CONSENT_CLIENT_ID,
      clientSecretVersion: e.TVS_USER_CONSENT_CLIENT_SECRET!,
      databaseId: e.TVS_USER_GRANTS_DATABASE ?? USER_GRANT_DEFAULTS.databaseId,
      kmsKey: e.TVS_USER_GRANTS_KMS_KEY!,
      firestoreUrl: e.TVS_FIRESTORE_URL.replace(/\/+$/, ''),
      kmsUrl: e.TVS_KMS_URL.replace(/\/+$/, ''),
      oauthTokenUrl: e.TVS_GOOGLE_OAUTH_TOKEN_URL,
      oauthRevokeUrl: e.TVS_GOOGLE_OAUTH_REVOKE_URL,
      grantRecheckMs: e.TVS_USER_GRANT_RECHECK_SECONDS * 1000,
    },
  };
}
