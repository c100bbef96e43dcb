/**
 * A rule that may mint ID tokens for an audience this service accepts from callers would let its
 * caller act as the target SA here (present the minted token back): such a policy must not compile.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { acceptedAudiences } from '../../../../../functions/token/policy/accepted-audiences.js';
import { compilePolicy, PolicyError } from '../../../../../functions/token/policy/compile-policy.js';

const SA = 'gemini@p.iam.gserviceaccount.com';
const SERVICE = 'https://token-abc123-uc.a.run.app';
const CI_AUDIENCE = 'https://tvs.ci.example.org';
const accepted = acceptedAudiences([SERVICE, CI_AUDIENCE]);

function policy(idTokenAudiences: string[]): unknown {
  return {
    version: 1,
    serviceAccounts: { [SA]: {} },
    rules: [
      {
        name: 'harmless',
        caller: { issuer: 'https://accounts.google.com', email: 'a@p.iam.gserviceaccount.com' },
        serviceAccounts: [SA],
        idTokenAudiences: ['https://example.com'],
      },
      {
        name: 'workload',
        caller: { issuer: 'https://accounts.google.com', email: 'w@p.iam.gserviceaccount.com' },
        serviceAccounts: [SA],
        idTokenAudiences,
      },
    ],
  };
}

describe('compilePolicy refuses ID-token audiences this service accepts from callers', () => {
  it.each([
    ['the service URL itself', [SERVICE], 0],
    ['a Cloud Run wildcard', ['https://example.com', 'https://*.a.run.app'], 1],
    ['a two-label Cloud Run wildcard', ['https://*.*.run.app'], 0],
    ['the service URL with an upper-case host', ['https://TOKEN-ABC123-UC.A.RUN.APP'], 0],
    ['the service URL with the default port', [`${SERVICE}:443`], 0],
    ['the service URL with a trailing slash', [`${SERVICE}/`], 0],
    ['a wildcard over the port', ['https://*.a.run.app:*'], 0],
    ['an external issuer’s accepted audience', [CI_AUDIENCE], 0],
    ['a wildcard over an external issuer’s accepted audience', ['https://*.ci.example.org'], 0],
  ])('refuses %s, naming the rule and the field', (_name, audiences, index) => {
    const compile = () => compilePolicy(policy(audiences), { acceptedAudiences: accepted });
    expect(compile).toThrow(PolicyError);
    expect(compile).toThrow(`rules[1] (name=workload).idTokenAudiences[${index}]`);
    expect(compile).toThrow(/an audience this service accepts from callers/);
  });

  it.each([
    ['a named downstream service', ['https://backend-xyz-uc.a.run.app']],
    ['a narrower wildcard', ['https://backend-*.a.run.app', 'https://backend-*.*.run.app']],
    ['another path on the service host', [`${SERVICE}/api`]],
    ['a non-URL audience', ['my-client-id']],
  ])('compiles %s', (_name, audiences) => {
    expect(compilePolicy(policy(audiences), { acceptedAudiences: accepted }).ruleCount).toBe(2);
  });
});

describe('the demo policy', () => {
  it.each([
    ['a classic Cloud Run URL', 'https://token-abc123-uc.a.run.app'],
    ['a deterministic Cloud Run URL', 'https://token-123456789012.us-central1.run.app'],
    ['the local stack', 'http://127.0.0.1:8080'],
  ])('compiles for a token service at %s (no ID tokens for the service itself)', (_name, service) => {
    const demo: unknown = JSON.parse(
      readFileSync(new URL('../../../../../emulator/seed/demo-policy.json', import.meta.url), 'utf8'),
    );
    expect(
      compilePolicy(demo, { acceptedAudiences: acceptedAudiences([service]) }).ruleCount,
    ).toBeGreaterThan(0);
  });
});
