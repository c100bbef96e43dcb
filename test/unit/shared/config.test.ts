import { describe, expect, it } from 'vitest';
import { ConfigError, loadTokenServiceConfig } from '../../../shared/config.js';

const base = { TVS_AUDIENCE: 'https://tvs.example.com', TVS_POLICY_FILE: '/etc/tvs/policy.json' };

describe('loadTokenServiceConfig', () => {
  it('applies Google defaults and parses lists', () => {
    const config = loadTokenServiceConfig({ ...base, TVS_AUDIENCE: 'https://a.example, https://b.example' });
    expect(config.audiences).toEqual(['https://a.example', 'https://b.example']);
    expect(config.tokenUriAllowlist).toEqual(['https://oauth2.googleapis.com/token']);
    expect(config.cache).toEqual({ maxEntries: 10_000, refreshAheadMs: 300_000, minRemainingMs: 60_000 });
    expect(config.clockSkewSeconds).toBe(60);
  });

  it.each([
    ['a missing audience', { TVS_AUDIENCE: undefined }, /TVS_AUDIENCE/],
    ['both policy sources', { TVS_POLICY_SECRET: 'projects/p/secrets/s/versions/latest' }, /set exactly one/],
    ['no policy source', { TVS_POLICY_FILE: undefined }, /set exactly one/],
    [
      'a malformed policy secret name',
      { TVS_POLICY_FILE: undefined, TVS_POLICY_SECRET: 'tvs-policy' },
      /TVS_POLICY_SECRET/,
    ],
    [
      'plain http to a remote host',
      { TVS_GOOGLE_JWKS_URL: 'http://keys.example.com/certs' },
      /TVS_GOOGLE_JWKS_URL: must be an https URL/,
    ],
    ['a clock skew above 60 s', { TVS_CLOCK_SKEW_SECONDS: '120' }, /TVS_CLOCK_SKEW_SECONDS/],
    ['issuers that are not JSON', { TVS_OIDC_ISSUERS: '[{' }, /TVS_OIDC_ISSUERS: must be valid JSON/],
    [
      'an issuer with an unknown field',
      { TVS_OIDC_ISSUERS: '[{"issuer":"https://i.example","jku":"x"}]' },
      /TVS_OIDC_ISSUERS/,
    ],
  ])('fails start-up on %s, naming the variable', (_name, overrides, message) => {
    const env: Record<string, string | undefined> = { ...base, ...overrides };
    expect(() => loadTokenServiceConfig(env)).toThrow(ConfigError);
    expect(() => loadTokenServiceConfig(env)).toThrow(message);
  });
});

describe('TVS_POLICY_MAX_STALENESS_SECONDS', () => {
  it('defaults to one hour, and is read in seconds', () => {
    expect(loadTokenServiceConfig(base).policy.maxStalenessSeconds).toBe(3600);
    expect(
      loadTokenServiceConfig({ ...base, TVS_POLICY_MAX_STALENESS_SECONDS: '900' }).policy.maxStalenessSeconds,
    ).toBe(900);
  });

  it.each([
    ['zero', { TVS_POLICY_MAX_STALENESS_SECONDS: '0' }, /TVS_POLICY_MAX_STALENESS_SECONDS/],
    ['a negative value', { TVS_POLICY_MAX_STALENESS_SECONDS: '-1' }, /TVS_POLICY_MAX_STALENESS_SECONDS/],
    ['a fraction', { TVS_POLICY_MAX_STALENESS_SECONDS: '1.5' }, /TVS_POLICY_MAX_STALENESS_SECONDS/],
    ['not a number', { TVS_POLICY_MAX_STALENESS_SECONDS: 'one hour' }, /TVS_POLICY_MAX_STALENESS_SECONDS/],
    ['more than a week', { TVS_POLICY_MAX_STALENESS_SECONDS: '604801' }, /TVS_POLICY_MAX_STALENESS_SECONDS/],
    [
      'less than the reload interval',
      { TVS_POLICY_TTL_SECONDS: '600', TVS_POLICY_MAX_STALENESS_SECONDS: '300' },
      /TVS_POLICY_MAX_STALENESS_SECONDS: must be at least TVS_POLICY_TTL_SECONDS \(600\)/,
    ],
  ])('fails start-up on %s, naming the variable', (_name, overrides, message) => {
    const env: Record<string, string | undefined> = { ...base, ...overrides };
    expect(() => loadTokenServiceConfig(env)).toThrow(ConfigError);
    expect(() => loadTokenServiceConfig(env)).toThrow(message);
  });
});

describe('TVS_POLICY_TTL_SECONDS and TVS_POLICY_NOTIFIER', () => {
  it('re-reads the policy every 60 s by default; no notifier unless set', () => {
    const config = loadTokenServiceConfig(base);
    expect(config.policy.ttlSeconds).toBe(60);
    expect(config.policy.notifier).toBeUndefined();
  });

  it('takes the notifier as a service account email', () => {
    const notifier = 'tvs-policy-notifier@p.iam.gserviceaccount.com';
    expect(loadTokenServiceConfig({ ...base, TVS_POLICY_NOTIFIER: notifier }).policy.notifier).toBe(notifier);
  });

  it.each([
    'alice@example.com',
    'Notifier@p.iam.gserviceaccount.com',
    'x@p.iam.gserviceaccount.com.evil.com',
    '',
  ])('refuses %j as TVS_POLICY_NOTIFIER, naming the variable', (value) => {
    expect(() => loadTokenServiceConfig({ ...base, TVS_POLICY_NOTIFIER: value })).toThrow(
      /TVS_POLICY_NOTIFIER/,
    );
  });
});
