/**
 * The Google STS request shape that `POST /v1/token` speaks for Application Default Credentials
 * (`external_account` credential files), shared by the token function and the credentials
 * generator so both name a service account the same way.
 *
 * The STS `audience` names the target service account: `//tokenvending/serviceAccounts/EMAIL`.
 * No `/projects/…` segment on purpose: Google's client libraries read a project number out of
 * `/projects/X/` in the audience, and `getProjectId()` would then ask Cloud Resource Manager about
 * project `X` with the vended token.
 */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';

export const STS_AUDIENCE_PREFIX = '//tokenvending/serviceAccounts/';

/** A service account email as the service accepts it (lower case; the API path and `service_account` too). */
export const SERVICE_ACCOUNT_EMAIL = /^[a-z0-9][a-z0-9._%+-]{0,99}@[a-z0-9][a-z0-9.-]{0,252}$/;

/** The STS `audience` that names `serviceAccount` (an email, used as given). */
export function stsAudience(serviceAccount: string): string {
  return `${STS_AUDIENCE_PREFIX}${serviceAccount}`;
}

/** The service account an STS `audience` names, or `undefined` when it is not of that form. */
export function serviceAccountOfStsAudience(audience: string): string | undefined {
  if (!audience.startsWith(STS_AUDIENCE_PREFIX)) return undefined;
  const email = audience.slice(STS_AUDIENCE_PREFIX.length);
  return email === '' || email.includes('/') ? undefined : email;
}
