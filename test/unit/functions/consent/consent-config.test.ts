import { describe, expect, it } from 'vitest';
import { loadConsentConfig } from '../../../../functions/consent/consent-config.js';
import { ConfigError } from '../../../../shared/config.js';

const VALID = {
  GOOGLE_CLOUD_PROJECT: 'acme-tokens',
  TVS_USER_CONSENT_CLIENT_ID: '123456789012-abc.apps.googleusercontent.com',
  TVS_USER_CONSENT_CLIENT_SECRET: 'projects/acme-tokens/secrets/tvs-oauth-client-secret/versions/latest',
  TVS_USER_GRANTS_DATABASE: 'tvs-user-grants',
  TVS_USER_GRANTS_KMS_KEY:
    'projects/acme-tokens/locations/europe-west1/keyRings/tvs-user-grants/cryptoKeys/user-grants',
  TVS_CONSENT_REDIRECT_URI: 'https://consent.example.com/v1/consent/callback',
  TVS_CONSENT_RETURN_TO_ORIGINS: 'https://app.example.com',
  TVS_CONSENT_SCOPES: 'https://www.googleapis.com/auth/drive.readonly',
  TVS_IAP_AUDIENCE: '/projects/123456789012/global/backendServices/42',
  TVS_TOKEN_FUNCTION_URL: 'https://tokens.example.com',
};

describe('loadConsentConfig', () => {
  it('reads the shared user-grant variables and the consent side’s own, with Google’s defaults', () => {
    const config = loadConsentConfig(VALID);
    expect(config).toMatchObject({
      projectId: 'acme-tokens',
      clientId: VALID.TVS_USER_CONSENT_CLIENT_ID,
      grantsDatabase: 'tvs-user-grants',
      firestoreUrl: 'https://firestore.googleapis.com',
      kmsUrl: 'https://cloudkms.googleapis.com',
      tokenUrl: 'https://oauth2.googleapis.com/token',
      revokeUrl: 'https://oauth2.googleapis.com/revoke',
      authUrl: 'https://accounts.google.com/o/oauth2/v2/auth',
      selfOrigin: 'https://consent.example.com',
      returnToOrigins: ['https://app.example.com'],
      allowedScopes: [VALID.TVS_CONSENT_SCOPES],
    });
  });

  it.each([
    ['TVS_USER_CONSENT_CLIENT_ID', undefined, 'TVS_USER_CONSENT_CLIENT_ID: required'],
    ['TVS_USER_CONSENT_CLIENT_ID', 'not-a-client', 'TVS_USER_CONSENT_CLIENT_ID'],
    ['TVS_USER_GRANTS_KMS_KEY', undefined, 'TVS_USER_GRANTS_KMS_KEY: required'],
    ['TVS_USER_CONSENT_CLIENT_SECRET', 'my-secret', 'TVS_USER_CONSENT_CLIENT_SECRET'],
    ['TVS_CONSENT_REDIRECT_URI', 'https://consent.example.com/callback', 'must end in /v1/consent/callback'],
    [
      'TVS_CONSENT_REDIRECT_URI',
      'http://consent.example.com/v1/consent/callback',
      'TVS_CONSENT_REDIRECT_URI',
    ],
    ['TVS_CONSENT_RETURN_TO_ORIGINS', 'https://app.example.com/path', 'exact origin'],
    ['TVS_CONSENT_RETURN_TO_ORIGINS', 'http://app.example.com', 'exact origin'],
    ['TVS_CONSENT_SCOPES', '', 'TVS_CONSENT_SCOPES'],
    ['TVS_IAP_AUDIENCE', undefined, 'TVS_IAP_AUDIENCE'],
    ['TVS_TOKEN_FUNCTION_URL', 'http://tokens.example.com', 'TVS_TOKEN_FUNCTION_URL'],
    ['GOOGLE_CLOUD_PROJECT', undefined, 'GOOGLE_CLOUD_PROJECT'],
  ])('refuses %s = %s, naming it', (name, value, message) => {
    const env: Record<string, string | undefined> = { ...VALID, [name]: value };
    if (value === undefined) delete env[name];
    expect(() => loadConsentConfig(env)).toThrow(ConfigError);
    expect(() => loadConsentConfig(env)).toThrow(message);
  });
});
