import { describe, expect, it } from 'vitest';
import {
  acceptedAudiences,
  normalizeAudience,
} from '../../../../../functions/token/policy/accepted-audiences.js';

const SERVICE = 'https://token-abc123-uc.a.run.app';

describe('normalizeAudience', () => {
  it.each([
    ['leaves a normal URL as it is', SERVICE, SERVICE],
    ['lower-cases the scheme', 'HTTPS://token-abc123-uc.a.run.app', SERVICE],
    ['lower-cases the host', 'https://TOKEN-abc123-UC.A.RUN.APP', SERVICE],
    ['drops the https default port', 'https://token-abc123-uc.a.run.app:443', SERVICE],
    [
      'drops the https default port written with leading zeros',
      'https://token-abc123-uc.a.run.app:0443',
      SERVICE,
    ],
    [
      'keeps a non-default port written with leading zeros, without them',
      'https://svc.example.com:0008443',
      'https://svc.example.com:8443',
    ],
    ['drops an empty port', 'https://token-abc123-uc.a.run.app:', SERVICE],
    ['drops the http default port', 'http://svc.example.com:80/x', 'http://svc.example.com/x'],
    ['drops one trailing slash', `${SERVICE}/`, SERVICE],
    ['drops one trailing slash of a path', `${SERVICE}/api/`, `${SERVICE}/api`],
    ['drops the trailing dot of a fully qualified host', 'https://token-abc123-uc.a.run.app.:443/', SERVICE],
    ['all at once', 'HtTpS://Token-ABC123-uc.a.run.app:443/', SERVICE],
    ['keeps a non-default port', 'https://svc.example.com:8443', 'https://svc.example.com:8443'],
    ['keeps the path case', 'https://svc.example.com/API', 'https://svc.example.com/API'],
    ['keeps a query', 'https://svc.example.com/?a=B', 'https://svc.example.com?a=B'],
    [
      'lower-cases an IPv6 host and keeps its port',
      'http://[::FFFF:7f00:1]:8080/',
      'http://[::ffff:7f00:1]:8080',
    ],
    ['keeps a non-URL audience exactly (a client id)', 'My-Client.Apps', 'My-Client.Apps'],
    [
      'keeps a WIF audience exactly',
      '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/P/providers/X',
      '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/P/providers/X',
    ],
    ['keeps another scheme exactly', 'SPIFFE://Example.org/ns', 'SPIFFE://Example.org/ns'],
    ['keeps a URL with user info exactly', 'https://user@SVC.example.com', 'https://user@SVC.example.com'],
  ])('%s: %s → %s', (_name, input, expected) => {
    expect(normalizeAudience(input)).toBe(expected);
  });
});

describe('acceptedAudiences', () => {
  const accepted = acceptedAudiences([SERVICE, 'http://127.0.0.1:8080', 'https://ci-audience.example.org']);

  it.each([
    ['the audience itself', SERVICE],
    ['with an upper-case host', 'https://TOKEN-ABC123-UC.A.RUN.APP'],
    ['with an upper-case scheme', 'HTTPS://token-abc123-uc.a.run.app'],
    ['with the default port', `${SERVICE}:443`],
    ['with a trailing slash', `${SERVICE}/`],
    ['with the default port and a trailing slash', `${SERVICE}:443/`],
    ['with a trailing dot on the host', 'https://token-abc123-uc.a.run.app./'],
    ['another accepted audience (an external issuer’s)', 'https://CI-audience.example.org/'],
    ['a loopback service URL with a trailing slash', 'http://127.0.0.1:8080/'],
  ])('recognises %s', (_name, audience) => {
    expect(accepted.includes(audience)).toBe(true);
  });

  it.each([
    ['another path', `${SERVICE}/other`],
    ['two trailing slashes', `${SERVICE}//`],
    ['a path that differs only in case from another accepted path', 'https://ci-audience.example.org/X'],
    ['another port', `${SERVICE}:8443`],
    ['the other scheme', 'http://token-abc123-uc.a.run.app'],
    ['a sub-domain', 'https://x.token-abc123-uc.a.run.app'],
    ['a longer host', 'https://token-abc123-uc.a.run.app.evil.com'],
    ['a query', `${SERVICE}?x=1`],
    ['a fragment', `${SERVICE}#x`],
    ['user info', 'https://user@token-abc123-uc.a.run.app'],
    ['the http default port on https', `${SERVICE}:80`],
    ['a similar service', 'https://token-abc124-uc.a.run.app'],
  ])('does not confuse %s with an accepted audience', (_name, audience) => {
    expect(accepted.includes(audience)).toBe(false);
  });

  it('finds the accepted audience a glob would match, in any spelling the glob may use', () => {
    expect(accepted.matchedByPattern('https://*.a.run.app')).toBe(SERVICE);
    expect(accepted.matchedByPattern('https://*.*.run.app')).toBe(SERVICE);
    expect(accepted.matchedByPattern('https://*.A.RUN.APP')).toBe(SERVICE);
    expect(accepted.matchedByPattern('https://*.a.run.app/')).toBe(SERVICE);
    expect(accepted.matchedByPattern('https://*.a.run.app:443')).toBe(SERVICE);
    expect(accepted.matchedByPattern('https://*.a.run.app:*')).toBe(SERVICE);
    expect(accepted.matchedByPattern('HTTPS://token-abc123-uc.a.run.app')).toBe(SERVICE);
    expect(accepted.matchedByPattern('http://127.0.0.1:*')).toBe('http://127.0.0.1:8080');
    expect(accepted.matchedByPattern('https://*.example.org')).toBe('https://ci-audience.example.org');
  });

  it.each([
    'https://backend-*.a.run.app',
    'https://*.us-central1.run.app',
    'https://*.a.run.app/api',
    'https://example.com',
    'http://*.a.run.app',
    'https://token-abc123-uc.a.run.app/*',
  ])('finds no accepted audience for %s', (pattern) => {
    expect(accepted.matchedByPattern(pattern)).toBeUndefined();
  });
});

describe('normalisation leaves what it does not understand as it is', () => {
  it.each([
    [
      'a port that is not all digits keeps its leading zeros',
      'https://h.example.com:001a/p',
      'https://h.example.com:001a/p',
    ],
    ['…even when it ends in a digit', 'https://h.example.com:00a1', 'https://h.example.com:00a1'],
    [
      'a bracketed host followed by more text is not an IPv6 host',
      'https://[::1]x:443/p',
      'https://[::1]x:443/p',
    ],
  ])('%s', (_name, value, normalized) => {
    expect(normalizeAudience(value)).toBe(normalized);
  });

  it('keeps the configured values as configured', () => {
    expect(acceptedAudiences(['https://A.example.com/', 'client-id']).values).toEqual([
      'https://A.example.com/',
      'client-id',
    ]);
  });
});

describe('a glob matches the spellings a request may use, and no others', () => {
  it('with the default port, with and without the trailing slash', () => {
    const accepted = acceptedAudiences(['https://a.example.com']);
    expect(accepted.matchedByPattern('https://a.example.com:*')).toBe('https://a.example.com');
    expect(accepted.matchedByPattern('https://a.example.com:*/')).toBe('https://a.example.com');
  });

  it('an IPv6 host gains the default port too', () => {
    expect(acceptedAudiences(['https://[::1]']).matchedByPattern('https://[::1]:*')).toBe('https://[::1]');
  });

  it('an audience with its own port gains no second port', () => {
    expect(
      acceptedAudiences(['https://a.example.com:8443']).matchedByPattern('https://a.example.com:8443:*'),
    ).toBeUndefined();
  });
});
