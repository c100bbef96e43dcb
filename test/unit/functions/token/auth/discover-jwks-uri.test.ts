import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { discoverJwksUri } from '../../../../../functions/token/auth/discover-jwks-uri.js';
import { rejectionOf, startTestServer, type TestServer } from './support/test-servers.js';

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

describe('discoverJwksUri against a loopback issuer', () => {
  let server: TestServer;

  beforeEach(async () => {
    server = await startTestServer();
  });

  afterEach(async () => {
    await server.close();
  });

  const loopbackLimits = { fetchTimeoutMs: 5000, maxDocumentBytes: 65_536, fetchImpl: undefined };

  it('reads the discovery document at the issuer plus /.well-known/openid-configuration', async () => {
    const issuer = `${server.baseUrl}/issuers/ci`;
    server.json('/issuers/ci/.well-known/openid-configuration', { issuer, jwks_uri: `${issuer}/jwks` });
    await expect(discoverJwksUri(issuer, loopbackLimits)).resolves.toBe(`${issuer}/jwks`);
    expect(server.urls.map((u) => u.pathname)).toEqual(['/issuers/ci/.well-known/openid-configuration']);
  });

  it('drops one trailing slash of the issuer but still requires the document to name it exactly', async () => {
    const issuer = `${server.baseUrl}/`;
    server.json('/.well-known/openid-configuration', { issuer, jwks_uri: `${server.baseUrl}/jwks` });
    await expect(discoverJwksUri(issuer, loopbackLimits)).resolves.toBe(`${server.baseUrl}/jwks`);
    expect(server.urls.map((u) => u.pathname)).toEqual(['/.well-known/openid-configuration']);

    const error = await rejectionOf(discoverJwksUri(server.baseUrl, loopbackLimits));
    expect((error as Error).message).toBe(
      `discovery document at ${server.baseUrl}/.well-known/openid-configuration names issuer ` +
        `${JSON.stringify(issuer)}, not ${server.baseUrl}`,
    );
  });

  it('accepts a plain-http loopback jwks_uri from a plain-http loopback issuer (a local test issuer)', async () => {
    server.json('/.well-known/openid-configuration', {
      issuer: server.baseUrl,
      jwks_uri: 'http://localhost:9/jwks',
    });
    await expect(discoverJwksUri(server.baseUrl, loopbackLimits)).resolves.toBe('http://localhost:9/jwks');
  });

  it('accepts an https jwks_uri from a plain-http loopback issuer', async () => {
    server.json('/.well-known/openid-configuration', {
      issuer: server.baseUrl,
      jwks_uri: 'https://keys.example/jwks',
    });
    await expect(discoverJwksUri(server.baseUrl, loopbackLimits)).resolves.toBe('https://keys.example/jwks');
  });

  it.each([
    ['plain http elsewhere', 'http://keys.example/jwks'],
    ['another scheme on loopback', 'ftp://127.0.0.1/jwks'],
    ['a URL with credentials', 'http://user:pw@localhost:9/jwks'],
    ['a relative reference', '/jwks'],
  ])('refuses %s even from a plain-http loopback issuer', async (_name, jwksUri) => {
    server.json('/.well-known/openid-configuration', { issuer: server.baseUrl, jwks_uri: jwksUri });
    const error = await rejectionOf(discoverJwksUri(server.baseUrl, loopbackLimits));
    expect((error as Error).message).toBe(
      `discovery document at ${server.baseUrl}/.well-known/openid-configuration has no https jwks_uri`,
    );
  });

  it('passes a fetch failure through, naming the discovery URL', async () => {
    const error = await rejectionOf(discoverJwksUri(`${server.baseUrl}/none`, loopbackLimits));
    expect((error as Error).message).toBe(
      `GET ${server.baseUrl}/none/.well-known/openid-configuration: HTTP 404`,
    );
  });
});

describe('discoverJwksUri document checks', () => {
  const ISSUER = 'https://issuer.example';
  const DISCOVERY = `${ISSUER}/.well-known/openid-configuration`;

  it.each([
    ['missing', { jwks_uri: 'https://keys.example/jwks' }, 'undefined'],
    ['not a string', { issuer: 42, jwks_uri: 'https://keys.example/jwks' }, '42'],
    [
      'the issuer with a trailing slash',
      { issuer: `${ISSUER}/`, jwks_uri: 'https://k.example/' },
      `"${ISSUER}/"`,
    ],
  ])('refuses a document whose issuer is %s, quoting what it named', async (_name, doc, named) => {
    const error = await rejectionOf(discoverJwksUri(ISSUER, limits(doc)));
    expect((error as Error).message).toBe(
      `discovery document at ${DISCOVERY} names issuer ${named}, not ${ISSUER}`,
    );
  });

  it('quotes at most 200 characters of a foreign issuer', async () => {
    const foreign = `https://${'a'.repeat(500)}.example`;
    const error = await rejectionOf(
      discoverJwksUri(ISSUER, limits({ issuer: foreign, jwks_uri: 'https://k.example/' })),
    );
    expect((error as Error).message).toBe(
      `discovery document at ${DISCOVERY} names issuer ${JSON.stringify(foreign).slice(0, 200)}, not ${ISSUER}`,
    );
  });

  it.each([
    ['missing', {}],
    ['not a string', { jwks_uri: { href: 'https://keys.example/jwks' } }],
    ['not a URL', { jwks_uri: 'keys' }],
  ])('refuses a jwks_uri that is %s', async (_name, extra) => {
    const error = await rejectionOf(discoverJwksUri(ISSUER, limits({ issuer: ISSUER, ...extra })));
    expect((error as Error).message).toBe(`discovery document at ${DISCOVERY} has no https jwks_uri`);
  });

  it('refuses a plain-http loopback jwks_uri from a plain-http issuer that is not on loopback', async () => {
    const issuer = 'http://issuer.example';
    await expect(
      discoverJwksUri(issuer, limits({ issuer, jwks_uri: 'http://127.0.0.1:8080/jwks' })),
    ).rejects.toThrow(
      `discovery document at ${issuer}/.well-known/openid-configuration has no https jwks_uri`,
    );
  });

  it('asks for the discovery document of the issuer, not any other URL', async () => {
    const seen: string[] = [];
    const fetchImpl: typeof fetch = (input) => {
      seen.push(input instanceof Request ? input.url : input.toString());
      return Promise.resolve(
        new Response(JSON.stringify({ issuer: `${ISSUER}/tenant`, jwks_uri: 'https://keys.example/jwks' })),
      );
    };
    await discoverJwksUri(`${ISSUER}/tenant`, { fetchTimeoutMs: 1000, maxDocumentBytes: 65_536, fetchImpl });
    expect(seen).toEqual([`${ISSUER}/tenant/.well-known/openid-configuration`]);
  });
});
