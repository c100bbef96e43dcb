import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../shared/config.js';
import { loadRotateConfig } from '../../../../shared/rotate-config.js';

const INVOKER = 'tvs-rotation-invoker@acme-tokens-prod.iam.gserviceaccount.com';
const ROTATE_URL = 'https://us-central1-acme-tokens-prod.cloudfunctions.net/tvs-rotate';
/** The variables without a default. */
const REQUIRED = {
  GOOGLE_CLOUD_PROJECT: 'acme-tokens-prod',
  TVS_ROTATE_INVOKERS: INVOKER,
  TVS_ROTATE_AUDIENCE: ROTATE_URL,
  TVS_ROTATION_BINDINGS: '{}',
};
/** The required variables, with an empty binding. */
const BOUND = REQUIRED;

describe('loadRotateConfig', () => {
  it('defaults every endpoint to Google production', () => {
    expect(loadRotateConfig(REQUIRED)).toEqual({
      projectId: 'acme-tokens-prod',
      bindings: new Map(),
      secretManagerEndpoint: 'https://secretmanager.googleapis.com',
      iamUrl: 'https://iam.googleapis.com',
      apiKeysUrl: 'https://apikeys.googleapis.com',
      geminiUrl: 'https://generativelanguage.googleapis.com',
      tokenUriAllowlist: ['https://oauth2.googleapis.com/token'],
      claimTtlMs: 600_000,
      verifyDeadlineMs: 120_000,
      upstreamDeadlineMs: 10_000,
      auditLogName: 'token-vending-rotation',
      invokers: {
        emails: [INVOKER],
        audiences: [ROTATE_URL],
        googleJwksUrl: 'https://www.googleapis.com/oauth2/v3/certs',
        clockSkewSeconds: 60,
      },
    });
  });

  it.each([
    [{ ...REQUIRED, GOOGLE_CLOUD_PROJECT: undefined }, 'GOOGLE_CLOUD_PROJECT'],
    [{ ...REQUIRED, TVS_IAM_URL: 'http://iam.example.com' }, 'TVS_IAM_URL'],
    [{ ...REQUIRED, TVS_TOKEN_URI_ALLOWLIST: 'ftp://x' }, 'TVS_TOKEN_URI_ALLOWLIST'],
    [{ ...REQUIRED, TVS_ROTATION_CLAIM_TTL_SECONDS: '5' }, 'TVS_ROTATION_CLAIM_TTL_SECONDS'],
    [{ ...REQUIRED, TVS_ROTATE_INVOKERS: undefined }, 'TVS_ROTATE_INVOKERS'],
    [{ ...REQUIRED, TVS_ROTATE_INVOKERS: ' , ' }, 'TVS_ROTATE_INVOKERS'],
    [{ ...REQUIRED, TVS_ROTATE_INVOKERS: 'not-an-email' }, 'TVS_ROTATE_INVOKERS'],
    [{ ...REQUIRED, TVS_ROTATE_AUDIENCE: undefined }, 'TVS_ROTATE_AUDIENCE'],
    [{ ...REQUIRED, TVS_ROTATE_AUDIENCE: 'http://rotate.example.com' }, 'TVS_ROTATE_AUDIENCE'],
    [{ ...REQUIRED, TVS_GOOGLE_JWKS_URL: 'http://certs.example.com' }, 'TVS_GOOGLE_JWKS_URL'],
  ])('fails loudly on %j, naming %s', (env, name) => {
    expect(() => loadRotateConfig(env)).toThrow(ConfigError);
    expect(() => loadRotateConfig(env)).toThrow(name);
  });

  it('accepts plain http on loopback for the emulator and trims trailing slashes', () => {
    const config = loadRotateConfig({
      ...REQUIRED,
      GOOGLE_CLOUD_PROJECT: 'tvs-local',
      TVS_IAM_URL: 'http://127.0.0.1:8085/',
      TVS_APIKEYS_URL: 'http://localhost:8085',
    });
    expect(config.iamUrl).toBe('http://127.0.0.1:8085');
    expect(config.apiKeysUrl).toBe('http://localhost:8085');
  });

  it.each([
    ['60', '120000', '10000', false],
    ['259', '120000', '10000', false],
    ['260', '120000', '10000', true],
    ['119', '1000', '100', false], // the API-key operation wait (60 s) is the longest step here
    ['121', '1000', '100', true],
  ])(
    'claim TTL %s s with verify %s ms and upstream %s ms: accepted %s (TTL ≥ 2 × (longest step + one upstream call))',
    (ttl, verify, upstream, ok) => {
      const env = {
        ...BOUND,
        TVS_ROTATION_CLAIM_TTL_SECONDS: ttl,
        TVS_ROTATION_VERIFY_DEADLINE_MS: verify,
        TVS_UPSTREAM_DEADLINE_MS: upstream,
      };
      if (ok) expect(loadRotateConfig(env).claimTtlMs).toBe(Number(ttl) * 1000);
      else
        expect(() => loadRotateConfig(env)).toThrow(/TVS_ROTATION_CLAIM_TTL_SECONDS: must be at least \d+ s/);
    },
  );
});
