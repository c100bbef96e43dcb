import { describe, expect, it } from 'vitest';
import { createCallerAuthenticator } from '../../../../../functions/token/auth/authenticate-caller.js';
import { resolveCallerAuthOptions } from '../../../../../functions/token/auth/options.js';
import {
  CALLER_TOKEN_ALGORITHMS,
  type CallerAuthOptions,
  type IssuerConfig,
} from '../../../../../functions/token/auth/types.js';

const issuer: IssuerConfig = {
  issuer: 'https://accounts.google.com',
  audiences: ['https://tvs.example.com'],
};
const valid: CallerAuthOptions = { issuers: [issuer], clockToleranceSeconds: 30 };

describe('createCallerAuthenticator options', () => {
  it.each<[string, Partial<CallerAuthOptions>]>([
    ['no issuers', { issuers: [] }],
    ['a clock tolerance above 60 s', { clockToleranceSeconds: 61 }],
    ['a negative clock tolerance', { clockToleranceSeconds: -1 }],
    ['a non-finite clock tolerance', { clockToleranceSeconds: Number.NaN }],
    ['empty audiences', { issuers: [{ ...issuer, audiences: [] }] }],
    ['an empty audience string', { issuers: [{ ...issuer, audiences: [''] }] }],
    ['HS256', { issuers: [{ ...issuer, algorithms: ['HS256' as 'RS256'] }] }],
    ['alg none', { issuers: [{ ...issuer, algorithms: ['none' as 'RS256'] }] }],
    ['an empty algorithm list', { issuers: [{ ...issuer, algorithms: [] }] }],
    ['the same issuer twice', { issuers: [issuer, issuer] }],
    ['an issuer that is not a URL', { issuers: [{ ...issuer, issuer: 'accounts.google.com' }] }],
    ['a plain-http non-loopback issuer', { issuers: [{ ...issuer, issuer: 'http://accounts.google.com' }] }],
    [
      'a plain-http non-loopback jwksUri',
      { issuers: [{ ...issuer, jwksUri: 'http://www.googleapis.com/oauth2/v3/certs' }] },
    ],
    [
      'a jwksUri with credentials',
      { issuers: [{ ...issuer, jwksUri: 'https://user:pw@www.googleapis.com/oauth2/v3/certs' }] },
    ],
    [
      'a plain-http non-loopback tokeninfo URL',
      { googleAccessTokens: { tokeninfoUrl: 'http://oauth2.googleapis.com/tokeninfo' } },
    ],
    [
      'a zero access-token cache size',
      { googleAccessTokens: { tokeninfoUrl: 'https://oauth2.googleapis.com/tokeninfo', cacheMaxEntries: 0 } },
    ],
    ['a zero maxTokenBytes', { maxTokenBytes: 0 }],
    ['a negative fetchTimeoutMs', { fetchTimeoutMs: -5 }],
    ['a fractional maxDocumentBytes', { maxDocumentBytes: 1.5 }],
    ['a zero jwksCacheMaxAgeMs', { jwksCacheMaxAgeMs: 0 }],
    ['a zero jwksRefetchCooldownMs', { jwksRefetchCooldownMs: 0 }],
  ])('throws a TypeError for %s', (_name, overrides) => {
    expect(() => createCallerAuthenticator({ ...valid, ...overrides })).toThrow(TypeError);
  });

  it.each<[string, Partial<CallerAuthOptions>]>([
    ['the defaults', {}],
    ['a tolerance of exactly 60 s', { clockToleranceSeconds: 60 }],
    [
      'every asymmetric algorithm',
      {
        issuers: [{ ...issuer, algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'] }],
      },
    ],
    [
      'loopback http URLs',
      {
        issuers: [{ ...issuer, issuer: 'http://127.0.0.1:8080', jwksUri: 'http://localhost:8080/jwks' }],
        googleAccessTokens: { tokeninfoUrl: 'http://[::1]:9/tokeninfo' },
      },
    ],
  ])('accepts %s', (_name, overrides) => {
    expect(() => createCallerAuthenticator({ ...valid, ...overrides })).not.toThrow();
  });
});

describe('resolveCallerAuthOptions messages', () => {
  const algs = CALLER_TOKEN_ALGORITHMS.join(', ');
  it.each<[string, Partial<CallerAuthOptions>, string]>([
    ['a negative tolerance', { clockToleranceSeconds: -1 }, 'clockToleranceSeconds must be between 0 and 60'],
    ['no issuers', { issuers: [] }, 'issuers must be a non-empty array'],
    [
      'a non-string issuer',
      { issuers: [{ ...issuer, issuer: 42 as unknown as string }] },
      'issuers[].issuer must be an https URL (http only for loopback): 42',
    ],
    [
      'an issuer object that stringifies to an https URL',
      { issuers: [{ ...issuer, issuer: { toString: () => 'https://a.example' } as unknown as string }] },
      'issuers[].issuer must be an https URL (http only for loopback): {}',
    ],
    [
      'a non-string audience',
      { issuers: [{ ...issuer, audiences: [5 as unknown as string] }] },
      'issuers[].audiences of https://accounts.google.com must be a non-empty array of non-empty strings',
    ],
    [
      'a tokeninfo URL object that stringifies to an https URL',
      { googleAccessTokens: { tokeninfoUrl: { toString: () => 'https://a.example' } as unknown as string } },
      'googleAccessTokens.tokeninfoUrl must be an https URL (http only for loopback)',
    ],
    [
      'an http issuer',
      { issuers: [{ ...issuer, issuer: 'http://a.example' }] },
      'issuers[].issuer must be an https URL (http only for loopback): "http://a.example"',
    ],
    [
      'the same issuer twice',
      { issuers: [issuer, issuer] },
      'issuers[].issuer is configured twice: https://accounts.google.com',
    ],
    [
      'an http jwksUri',
      { issuers: [{ ...issuer, jwksUri: 'http://a.example/jwks' }] },
      'issuers[].jwksUri of https://accounts.google.com must be an https URL (http only for loopback)',
    ],
    [
      'one empty audience among valid ones',
      { issuers: [{ ...issuer, audiences: ['https://tvs.example.com', ''] }] },
      'issuers[].audiences of https://accounts.google.com must be a non-empty array of non-empty strings',
    ],
    [
      'one symmetric algorithm among valid ones',
      { issuers: [{ ...issuer, algorithms: ['RS256', 'HS256' as 'RS256'] }] },
      `issuers[].algorithms of https://accounts.google.com must be a non-empty subset of ${algs}`,
    ],
    [
      'a non-string tokeninfo URL',
      { googleAccessTokens: { tokeninfoUrl: 7 as unknown as string } },
      'googleAccessTokens.tokeninfoUrl must be an https URL (http only for loopback)',
    ],
    [
      'a zero access-token cache size',
      { googleAccessTokens: { tokeninfoUrl: 'https://oauth2.googleapis.com/tokeninfo', cacheMaxEntries: 0 } },
      'googleAccessTokens.cacheMaxEntries must be a positive integer',
    ],
    ['a zero maxTokenBytes', { maxTokenBytes: 0 }, 'maxTokenBytes must be a positive integer'],
    ['a negative fetchTimeoutMs', { fetchTimeoutMs: -5 }, 'fetchTimeoutMs must be a positive integer'],
    [
      'a fractional maxDocumentBytes',
      { maxDocumentBytes: 1.5 },
      'maxDocumentBytes must be a positive integer',
    ],
    ['a zero jwksCacheMaxAgeMs', { jwksCacheMaxAgeMs: 0 }, 'jwksCacheMaxAgeMs must be a positive integer'],
    [
      'a zero jwksRefetchCooldownMs',
      { jwksRefetchCooldownMs: 0 },
      'jwksRefetchCooldownMs must be a positive integer',
    ],
  ])('names the option for %s', (_name, overrides, message) => {
    expect(() => resolveCallerAuthOptions({ ...valid, ...overrides })).toThrow(new TypeError(message));
  });

  it('accepts a clock tolerance of exactly 0', () => {
    expect(resolveCallerAuthOptions({ ...valid, clockToleranceSeconds: 0 }).clockToleranceSeconds).toBe(0);
  });
});
