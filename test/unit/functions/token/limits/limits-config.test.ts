/** The quota and per-source throttle settings in the token function's environment. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadTokenServiceConfig } from '../../../../../shared/config.js';

const base = { TVS_AUDIENCE: 'https://tvs.example.com', TVS_POLICY_FILE: '/etc/tvs/policy.json' };

describe('quota and per-source throttle configuration', () => {
  it('defaults: quotas on with 10,000 callers per table; 30 failures per source in the client window; no proxy hops', () => {
    const config = loadTokenServiceConfig(base);
    expect(config.rateLimits).toEqual({ maxCallers: 10_000 });
    expect(config.oauthSourceThrottle).toEqual({ maxFailures: 30, windowMs: 60_000, maxEntries: 10_000 });
    expect(config.forwardedForTrustedHops).toBe(0);
  });

  it('reads the variables', () => {
    const config = loadTokenServiceConfig({
      ...base,
      TVS_RATE_LIMIT_MAX_CALLERS: '500',
      TVS_OAUTH_MAX_FAILED_ATTEMPTS_PER_SOURCE: '7',
      TVS_OAUTH_FAILURE_WINDOW_SECONDS: '120',
      TVS_OAUTH_THROTTLE_MAX_SOURCES: '99',
      TVS_FORWARDED_FOR_TRUSTED_HOPS: '1',
    });
    expect(config.rateLimits).toEqual({ maxCallers: 500 });
    expect(config.oauthSourceThrottle).toEqual({ maxFailures: 7, windowMs: 120_000, maxEntries: 99 });
    expect(config.forwardedForTrustedHops).toBe(1);
  });

  it('TVS_RATE_LIMITS=off disables the quotas', () => {
    expect(loadTokenServiceConfig({ ...base, TVS_RATE_LIMITS: 'off' }).rateLimits).toBeUndefined();
  });

  it.each([
    ['TVS_RATE_LIMITS', 'false'],
    ['TVS_RATE_LIMITS', 'OFF'],
    ['TVS_RATE_LIMIT_MAX_CALLERS', '0'],
    ['TVS_RATE_LIMIT_MAX_CALLERS', '1000001'],
    ['TVS_OAUTH_MAX_FAILED_ATTEMPTS_PER_SOURCE', '0'],
    ['TVS_OAUTH_MAX_FAILED_ATTEMPTS_PER_SOURCE', '1.5'],
    ['TVS_OAUTH_THROTTLE_MAX_SOURCES', '0'],
    ['TVS_FORWARDED_FOR_TRUSTED_HOPS', '-1'],
    ['TVS_FORWARDED_FOR_TRUSTED_HOPS', '11'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    expect(() => loadTokenServiceConfig({ ...base, [name]: value })).toThrow(ConfigError);
    expect(() => loadTokenServiceConfig({ ...base, [name]: value })).toThrow(name);
  });
});
