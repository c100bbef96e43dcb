import { describe, expect, it } from 'vitest';
import { discoverJwksUri } from '../../../../../functions/token/auth/discover-jwks-uri.js';

/** A fetch that answers every URL with `doc` (our own stand-in, no Google wire format involved). */
const fetchReturning =
  (doc: unknown): typeof fetch =>
  () =>
    Promise.resolve(
      new Response(JSON.stringify(doc), { status: 200, headers: { 'content-type': 'application/json' } }),
    );
const limits = (doc: unknown) => ({
  fetchTimeoutMs: 1000,
  maxDocumentBytes: 65_536,
  fetchImpl: fetchReturning(doc),
});

describe('discoverJwksUri', () => {
  it('accepts an https jwks_uri from an https issuer', async () => {
    await expect(
      discoverJwksUri(
        'https://issuer.example',
        limits({ issuer: 'https://issuer.example', jwks_uri: 'https://keys.example/jwks' }),
      ),
    ).resolves.toBe('https://keys.example/jwks');
  });

  it.each([
    ['plain http to loopback (would make the service call its own host)', 'http://127.0.0.1:8080/jwks'],
    ['plain http elsewhere', 'http://keys.example/jwks'],
    ['a URL with credentials', 'https://user:pw@keys.example/jwks'],
  ])('refuses %s from an https issuer', async (_name, jwksUri) => {
    await expect(
      discoverJwksUri(
        'https://issuer.example',
        limits({ issuer: 'https://issuer.example', jwks_uri: jwksUri }),
      ),
    ).rejects.toThrow(/no https jwks_uri/);
  });

  it('refuses a document naming another issuer', async () => {
    await expect(
      discoverJwksUri(
        'https://issuer.example',
        limits({ issuer: 'https://evil.example', jwks_uri: 'https://keys.example/jwks' }),
      ),
    ).rejects.toThrow(/names issuer/);
  });
});
