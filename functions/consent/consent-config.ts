/**
 * The consent function's configuration: read once from the environment at cold start, validated
 * with zod, failing loudly with each bad variable's name. Names shared with the token function
 * (issue 19 contract) mean the same thing in both.
 */
import { ConfigError, csv, parseEnv, secureUrl } from '../../shared/config.js';
import { userGrantsConfigOf, userGrantsEnvSchema } from '../../shared/user-grants/user-grants-config.js';
import * as z from '../../shared/zod.js';

export const CONSENT_DEFAULTS = {
  authUrl: 'https://accounts.google.com/o/oauth2/v2/auth',
  iapJwksUrl: 'https://www.gstatic.com/iap/verify/public_key-jwk',
  googleJwksUrl: 'https://www.googleapis.com/oauth2/v3/certs',
  secretManagerEndpoint: 'https://secretmanager.googleapis.com',
} as const;

const LOOPBACK = new Set(['localhost', '127.0.0.1']);

/** An exact origin (`https://host[:port]`, or `http://localhost|127.0.0.1[:port]`), nothing after it. */
export function isAllowedOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    if (url.origin !== value) return false;
    return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
  } catch {
    return false;
  }
}

const origins = z.pipe(
  csv,
  z.array(
    z
      .string()
      .check(
        z.refine(
          isAllowedOrigin,
          'each must be an exact origin: https://host[:port] (http only for localhost)',
        ),
      ),
  ),
);
/** Scopes separated by commas or white space. */
const scopeList = z.pipe(
  z.string(),
  z.transform((v: string) => v.split(/[\s,]+/).filter(Boolean)),
);

/** The user-grant variables both functions share (shared/user-grants), and the consent side's own. */
const envSchema = z.extend(userGrantsEnvSchema, {
  GOOGLE_CLOUD_PROJECT: z.string().check(z.minLength(1, 'must name the project of the grants database')),
  TVS_SECRET_MANAGER_ENDPOINT: z._default(secureUrl, CONSENT_DEFAULTS.secretManagerEndpoint),
  TVS_CONSENT_AUTH_URL: z._default(secureUrl, CONSENT_DEFAULTS.authUrl),
  TVS_CONSENT_REDIRECT_URI: secureUrl.check(
    z.refine((v) => new URL(v).pathname === '/v1/consent/callback', 'must end in /v1/consent/callback'),
  ),
  TVS_CONSENT_RETURN_TO_ORIGINS: z._default(origins, []),
  TVS_CONSENT_SCOPES: z.pipe(
    scopeList,
    z
      .array(z.string().check(z.regex(/^[\x21-\x7e]{1,512}$/)))
      .check(z.minLength(1, 'must list at least one scope')),
  ),
  TVS_IAP_AUDIENCE: z.string().check(z.minLength(1, 'must be the aud of IAP assertions (/projects/N/…)')),
  TVS_IAP_JWKS_URL: z._default(secureUrl, CONSENT_DEFAULTS.iapJwksUrl),
  TVS_GOOGLE_JWKS_URL: z._default(secureUrl, CONSENT_DEFAULTS.googleJwksUrl),
  TVS_TOKEN_FUNCTION_URL: secureUrl,
});

export interface ConsentConfig {
  projectId: string;
  clientId: string;
  /** Secret Manager version name of the OAuth client secret. */
  clientSecretVersion: string;
  grantsDatabase: string;
  kmsKey: string;
  firestoreUrl: string;
  kmsUrl: string;
  secretManagerEndpoint: string;
  tokenUrl: string;
  revokeUrl: string;
  authUrl: string;
  redirectUri: string;
  /** The consent side's own public origin (the redirect URI's): same-origin return_to, the revoke form's Origin. */
  selfOrigin: string;
  returnToOrigins: string[];
  /** Scopes a user may be asked for (openid and email are always added). */
  allowedScopes: string[];
  iapAudience: string;
  iapJwksUrl: string;
  googleJwksUrl: string;
  tokenFunctionUrl: string;
}

/** Parses the consent function's environment; throws `ConfigError` naming each bad variable. */
export function loadConsentConfig(env: NodeJS.ProcessEnv = process.env): ConsentConfig {
  const e = parseEnv(envSchema, env);
  // The consent side exists only for an OAuth client: the shared group's "off" state is an error here.
  const { config: grants, problems } = e.TVS_USER_CONSENT_CLIENT_ID
    ? userGrantsConfigOf(e)
    : {
        config: undefined,
        problems: ['TVS_USER_CONSENT_CLIENT_ID: required (the OAuth client users consent to)'],
      };
  if (!grants) throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  const trim = (url: string) => url.replace(/\/+$/, '');
  return {
    projectId: e.GOOGLE_CLOUD_PROJECT,
    clientId: grants.clientId,
    clientSecretVersion: grants.clientSecretVersion,
    grantsDatabase: grants.databaseId,
    kmsKey: grants.kmsKey,
    firestoreUrl: grants.firestoreUrl,
    kmsUrl: grants.kmsUrl,
    secretManagerEndpoint: trim(e.TVS_SECRET_MANAGER_ENDPOINT),
    tokenUrl: grants.oauthTokenUrl,
    revokeUrl: grants.oauthRevokeUrl,
    authUrl: e.TVS_CONSENT_AUTH_URL,
    redirectUri: e.TVS_CONSENT_REDIRECT_URI,
    selfOrigin: new URL(e.TVS_CONSENT_REDIRECT_URI).origin,
    returnToOrigins: e.TVS_CONSENT_RETURN_TO_ORIGINS,
    allowedScopes: [...new Set(e.TVS_CONSENT_SCOPES)],
    iapAudience: e.TVS_IAP_AUDIENCE,
    iapJwksUrl: e.TVS_IAP_JWKS_URL,
    googleJwksUrl: e.TVS_GOOGLE_JWKS_URL,
    tokenFunctionUrl: trim(e.TVS_TOKEN_FUNCTION_URL),
  };
}
