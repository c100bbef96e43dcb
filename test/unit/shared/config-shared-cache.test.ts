import { describe, expect, it } from 'vitest';
import { ConfigError, loadTokenServiceConfig } from '../../../shared/config.js';

const base = { TVS_AUDIENCE: 'https://tvs.example.com', TVS_POLICY_FILE: '/etc/tvs/policy.json' };
const KEY = 'projects/p/locations/europe-west1/keyRings/tvs/cryptoKeys/token-cache';
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('the shared cache configuration', () => {
  it('is off unless TVS_SHARED_CACHE_URL is set', () => {
    expect(loadTokenServiceConfig(base).sharedCache).toBeUndefined();
  });

  it('reads a Memorystore setup with Google KMS by default', () => {
    const config = loadTokenServiceConfig({
      ...base,
      TVS_SHARED_CACHE_URL: 'rediss://10.0.0.3:6378',
      TVS_SHARED_CACHE_KMS_KEY: KEY,
      TVS_SHARED_CACHE_AUTH_SECRET: 'projects/p/secrets/redis-auth/versions/latest',
      TVS_SHARED_CACHE_CA: PEM,
    });
    expect(config.sharedCache).toEqual({
      url: 'rediss://10.0.0.3:6378',
      kmsKey: KEY,
      kmsUrl: 'https://cloudkms.googleapis.com',
      authSecretVersion: 'projects/p/secrets/redis-auth/versions/latest',
      caPem: PEM,
      opTimeoutMs: 100,
      connectTimeoutMs: 2_000,
      lockWaitMs: 3_000,
    });
  });

  it('points KMS at another endpoint by configuration alone (the emulator)', () => {
    const config = loadTokenServiceConfig({
      ...base,
      TVS_SHARED_CACHE_URL: 'redis://127.0.0.1:6379',
      TVS_SHARED_CACHE_KMS_KEY: KEY,
      TVS_SHARED_CACHE_KMS_URL: 'http://127.0.0.1:8085/',
    });
    expect(config.sharedCache).toMatchObject({ kmsUrl: 'http://127.0.0.1:8085' });
  });

  it.each([
    [
      'plain redis:// to a remote host',
      { TVS_SHARED_CACHE_URL: 'redis://10.0.0.3:6379' },
      /TVS_SHARED_CACHE_URL: must be rediss:\/\//,
    ],
    [
      'credentials in the URL',
      { TVS_SHARED_CACHE_URL: 'rediss://default:secret@10.0.0.3:6378' },
      /without credentials/,
    ],
    ['another scheme', { TVS_SHARED_CACHE_URL: 'https://10.0.0.3' }, /TVS_SHARED_CACHE_URL/],
    [
      'a URL without a KMS key',
      { TVS_SHARED_CACHE_KMS_KEY: undefined },
      /TVS_SHARED_CACHE_KMS_KEY: required/,
    ],
    [
      'a malformed KMS key',
      { TVS_SHARED_CACHE_KMS_KEY: 'token-cache' },
      /TVS_SHARED_CACHE_KMS_KEY: must be projects/,
    ],
    [
      'plain http KMS to a remote host',
      { TVS_SHARED_CACHE_KMS_URL: 'http://kms.example.com' },
      /TVS_SHARED_CACHE_KMS_URL/,
    ],
    ['a CA that is not PEM', { TVS_SHARED_CACHE_CA: 'abc' }, /TVS_SHARED_CACHE_CA: must be PEM/],
    [
      'a CA without TLS',
      { TVS_SHARED_CACHE_URL: 'redis://localhost:6379', TVS_SHARED_CACHE_CA: PEM },
      /only with a rediss/,
    ],
    [
      'an operation timeout under 10 ms',
      { TVS_SHARED_CACHE_OP_TIMEOUT_MS: '5' },
      /TVS_SHARED_CACHE_OP_TIMEOUT_MS/,
    ],
    [
      'a malformed AUTH secret',
      { TVS_SHARED_CACHE_AUTH_SECRET: 'redis-auth' },
      /TVS_SHARED_CACHE_AUTH_SECRET/,
    ],
  ])('fails start-up on %s, naming the variable', (_name, overrides, message) => {
    const env: Record<string, string | undefined> = {
      ...base,
      TVS_SHARED_CACHE_URL: 'rediss://10.0.0.3:6378',
      TVS_SHARED_CACHE_KMS_KEY: KEY,
      ...overrides,
    };
    expect(() => loadTokenServiceConfig(env)).toThrow(ConfigError);
    expect(() => loadTokenServiceConfig(env)).toThrow(message);
  });

  it('refuses tier settings without the tier', () => {
    expect(() => loadTokenServiceConfig({ ...base, TVS_SHARED_CACHE_KMS_KEY: KEY })).toThrow(
      /TVS_SHARED_CACHE_KMS_KEY: set only together with TVS_SHARED_CACHE_URL/,
    );
  });
});
