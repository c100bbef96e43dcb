import { describe, expect, it } from 'vitest';
import { isTrustedFetchUrl } from '../../../../../functions/token/auth/key-url.js';

describe('isTrustedFetchUrl', () => {
  it.each([
    ['an https URL', 'https://www.googleapis.com/oauth2/v3/certs'],
    ['an https URL on loopback', 'https://127.0.0.1:8443/jwks'],
    ['plain http to localhost', 'http://localhost:8080/jwks'],
    ['plain http to LOCALHOST (hosts are case-insensitive)', 'http://LOCALHOST:8080/jwks'],
    ['plain http to IPv6 loopback', 'http://[::1]:8080/jwks'],
    ['plain http to IPv6 loopback written in full', 'http://[0:0:0:0:0:0:0:1]/jwks'],
    ['plain http to 127.0.0.1', 'http://127.0.0.1:8080/jwks'],
    ['plain http to the top of 127/8', 'http://127.255.255.255/jwks'],
    ['plain http to 127/8 with octets 250 to 255', 'http://127.250.251.255/jwks'],
    ['plain http to 127/8 with octets 200 to 249', 'http://127.200.249.201/jwks'],
    ['plain http to 127/8 with octets 100 to 199', 'http://127.100.199.150/jwks'],
    ['plain http to 127/8 with octets 10 to 99', 'http://127.10.99.42/jwks'],
    ['plain http to 127/8 with single-digit octets', 'http://127.0.9.5/jwks'],
    ['plain http to 127/8 in a short form the URL parser normalizes', 'http://127.1/jwks'],
  ])('trusts %s', (_name, url) => {
    expect(isTrustedFetchUrl(url)).toBe(true);
  });

  it.each([
    ['text that is not a URL', 'not a url'],
    ['an empty string', ''],
    ['a relative path', '/jwks'],
    ['plain http to a public host', 'http://www.googleapis.com/oauth2/v3/certs'],
    ['plain http to a host merely starting with a loopback address', 'http://127.0.0.1.evil.example/jwks'],
    ['plain http to a name ending in localhost', 'http://evil-localhost/jwks'],
    ['plain http to a private, non-loopback address', 'http://10.0.0.1/jwks'],
    ['plain http to the IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]/jwks'],
    ['another scheme, even to loopback (ftp)', 'ftp://127.0.0.1/jwks'],
    ['another scheme, even to loopback (ws)', 'ws://localhost/jwks'],
    ['another scheme, even to loopback (file)', 'file:///etc/jwks'],
    ['https with a user and password', 'https://user:pw@keys.example/jwks'],
    ['https with a user only', 'https://user@keys.example/jwks'],
    ['https with a password only', 'https://:pw@keys.example/jwks'],
    ['loopback http with a user only', 'http://user@localhost/jwks'],
  ])('does not trust %s', (_name, url) => {
    expect(isTrustedFetchUrl(url)).toBe(false);
  });
});
