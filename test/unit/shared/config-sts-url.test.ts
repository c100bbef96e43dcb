import { describe, expect, it } from 'vitest';
import { ConfigError, loadTokenServiceConfig } from '../../../shared/config.js';

const base = { TVS_AUDIENCE: 'https://tvs.example.com', TVS_POLICY_FILE: '/etc/tvs/policy.json' };

describe('TVS_STS_URL', () => {
  it('defaults to Google STS', () => {
    expect(loadTokenServiceConfig(base).stsUrl).toBe('https://sts.googleapis.com/v1/token');
  });

  it.each([
    'https://sts.example.com/v1/token',
    'http://127.0.0.1:8080/v1/token',
    'http://localhost:1/v1/token',
  ])('accepts %s', (url) => {
    expect(loadTokenServiceConfig({ ...base, TVS_STS_URL: url }).stsUrl).toBe(url);
  });

  it.each(['http://sts.example.com/v1/token', 'ftp://sts.example.com', 'not a url'])('refuses %s', (url) => {
    expect(() => loadTokenServiceConfig({ ...base, TVS_STS_URL: url })).toThrow(ConfigError);
    expect(() => loadTokenServiceConfig({ ...base, TVS_STS_URL: url })).toThrow(
      /TVS_STS_URL: must be an https URL/,
    );
  });
});
