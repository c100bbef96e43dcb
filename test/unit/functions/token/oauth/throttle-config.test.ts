/** The OAuth client throttle's settings in the token function's environment. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadTokenServiceConfig } from '../../../../../shared/config.js';

const base = { TVS_AUDIENCE: 'https://tvs.example.com', TVS_POLICY_FILE: '/etc/tvs/policy.json' };

describe('OAuth client throttle configuration', () => {
  it('defaults to 10 failures per 60 s, 10,000 tracked ids', () => {
    expect(loadTokenServiceConfig(base).oauthClientThrottle).toEqual({
      maxFailures: 10,
      windowMs: 60_000,
      maxEntries: 10_000,
    });
  });

  it('reads the three variables', () => {
    const config = loadTokenServiceConfig({
      ...base,
      TVS_OAUTH_MAX_FAILED_ATTEMPTS: '3',
      TVS_OAUTH_FAILURE_WINDOW_SECONDS: '900',
      TVS_OAUTH_THROTTLE_MAX_CLIENTS: '500',
    });
    expect(config.oauthClientThrottle).toEqual({ maxFailures: 3, windowMs: 900_000, maxEntries: 500 });
  });

  it.each([
    ['TVS_OAUTH_MAX_FAILED_ATTEMPTS', '0'],
    ['TVS_OAUTH_MAX_FAILED_ATTEMPTS', 'ten'],
    ['TVS_OAUTH_FAILURE_WINDOW_SECONDS', '0'],
    ['TVS_OAUTH_FAILURE_WINDOW_SECONDS', '86401'],
    ['TVS_OAUTH_THROTTLE_MAX_CLIENTS', '0'],
    ['TVS_OAUTH_THROTTLE_MAX_CLIENTS', '1000001'],
  ])('fails start-up on %s=%s, naming the variable', (name, value) => {
    expect(() => loadTokenServiceConfig({ ...base, [name]: value })).toThrow(ConfigError);
    expect(() => loadTokenServiceConfig({ ...base, [name]: value })).toThrow(name);
  });
});
