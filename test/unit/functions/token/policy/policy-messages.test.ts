/**
 * The exact words an operator reads when a policy is refused, and the case rules of each pattern
 * field. Messages are the operator's only guide to the field to fix, so they are pinned whole.
 */
import { describe, expect, it } from 'vitest';
import {
  compilePolicy,
  PolicyError,
  type PolicyCaller,
} from '../../../../../functions/token/policy/compile-policy.js';

const SA = 'gemini@p.iam.gserviceaccount.com';
const KEYLESS = 'keyless@p.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const GH = 'https://token.actions.githubusercontent.com';
const CLIENT_HASH =
  'scrypt$N=16384,r=8,p=1$AQEBAQEBAQEBAQEBAQEBAQ$AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI';
const DOUBLE_STAR = '"**" is allowed only in subject and claims patterns';

function basePolicy(): any {
  return {
    version: 1,
    serviceAccounts: {
      [SA]: { backend: 'key', keySecret: 'projects/p/secrets/gemini-key/versions/current' },
      [KEYLESS]: {},
    },
    clients: { 'ci-runner': { secretHash: CLIENT_HASH } },
    rules: [
      {
        name: 'workload',
        caller: { issuer: 'https://accounts.google.com', email: 'workload@p.iam.gserviceaccount.com' },
        serviceAccounts: [SA],
        scopes: [CP],
        idTokenAudiences: ['https://*.run.app'],
      },
      {
        name: 'github-main',
        caller: {
          issuer: GH,
          subject: 'repo:org/*:ref:refs/heads/main',
          claims: { repository_owner: 'org' },
        },
        serviceAccounts: [KEYLESS],
        scopes: [CP],
        maxLifetimeSeconds: 1800,
      },
      { name: 'client', caller: { client: 'ci-runner' }, serviceAccounts: [SA], scopes: [CP] },
    ],
  };
}

const refused = (lines: string) => new PolicyError(`Invalid policy:\n  ${lines}`);

describe('compilePolicy error messages', () => {
  it.each<[string, (p: any) => unknown, string]>([
    [
      'a document that is not an object',
      () => 'x',
      '(policy): Invalid input: expected object, received string',
    ],
    [
      'a reserved key at the top level',
      () => JSON.parse('{"constructor": 1}'),
      'constructor: is a reserved name',
    ],
    [
      'a reserved key inside a rule (path through the rules array)',
      (p) => {
        p.rules[1].caller.claims = { prototype: 'x' };
        return p;
      },
      'rules[1] (name=github-main).caller.claims.prototype: is a reserved name',
    ],
    [
      'a rule name too long to echo whole (cut to 64 characters)',
      (p) => {
        p.rules[0].name = 'a'.repeat(70);
        return p;
      },
      `rules[0] (name=${'a'.repeat(64)}).name: must be lower-case letters, digits and dashes`,
    ],
    [
      'a rule whose name is not a string (no name to show)',
      (p) => {
        p.rules[0].name = 5;
        return p;
      },
      'rules[0].name: Invalid input: expected string, received number',
    ],
    [
      'a scope that is not https',
      (p) => {
        p.rules[0].scopes = ['http://x'];
        return p;
      },
      'rules[0] (name=workload).scopes[0]: must be an https scope URL (or glob)',
    ],
    [
      'a ** scope',
      (p) => {
        p.rules[0].scopes = [CP, 'https://a/**'];
        return p;
      },
      `rules[0] (name=workload).scopes[1]: ${DOUBLE_STAR}`,
    ],
    [
      'a ** audience',
      (p) => {
        p.rules[0].idTokenAudiences = ['https://a/**'];
        return p;
      },
      `rules[0] (name=workload).idTokenAudiences[0]: ${DOUBLE_STAR}`,
    ],
    [
      'a ** caller email',
      (p) => {
        p.rules[0].caller.email = '**@p.iam.gserviceaccount.com';
        return p;
      },
      `rules[0] (name=workload).caller.email: ${DOUBLE_STAR}`,
    ],
    [
      'a ** target service account',
      (p) => {
        p.rules[0].serviceAccounts = ['**@p.iam.gserviceaccount.com'];
        return p;
      },
      `rules[0] (name=workload).serviceAccounts[0]: ${DOUBLE_STAR}`,
    ],
    [
      'a *** claim pattern',
      (p) => {
        p.rules[1].caller.claims = { ref: ['main', 'a/***'] };
        return p;
      },
      'rules[1] (name=github-main).caller.claims.ref[1]: "***" is ambiguous: use "*" or "**"',
    ],
    [
      'a short maximum over a rule mixing key and keyless accounts ("any")',
      (p) => {
        p.rules[0].serviceAccounts = [SA, KEYLESS];
        p.rules[0].backend = 'any';
        p.rules[0].maxLifetimeSeconds = 600;
        return p;
      },
      'rules[0] (name=workload).maxLifetimeSeconds: tokens minted from a key live 3600 s; a shorter maximum needs keyless service accounts',
    ],
  ])('refuses %s, naming the field', (_name, make, message) => {
    expect(() => compilePolicy(make(basePolicy()))).toThrow(refused(message));
  });

  it('accepts a short maximum when every matching account is keyless', () => {
    const p = basePolicy();
    p.rules[1].maxLifetimeSeconds = 60;
    expect(compilePolicy(p).ruleCount).toBe(3);
  });
});

describe('pattern case rules', () => {
  const caller = (subject: string, owner: string): PolicyCaller => ({
    kind: 'id_token',
    issuer: GH,
    subject,
    claims: { repository_owner: owner },
  });
  const request = {
    kind: 'access_token' as const,
    serviceAccount: KEYLESS,
    scopes: [CP],
    lifetimeSeconds: 600,
  };

  it('matches subjects and claims case-sensitively (only emails fold ASCII case)', () => {
    const policy = compilePolicy(basePolicy());
    expect(policy.authorize(caller('repo:org/app:ref:refs/heads/main', 'org'), request).allowed).toBe(true);
    expect(policy.authorize(caller('repo:ORG/app:ref:refs/heads/main', 'org'), request)).toEqual({
      allowed: false,
      reason: 'NO_RULE_FOR_CALLER',
      rule: 'github-main',
      differed: { field: 'subject', count: 1 },
    });
    expect(policy.authorize(caller('repo:org/app:ref:refs/heads/MAIN', 'org'), request)).toEqual({
      allowed: false,
      reason: 'NO_RULE_FOR_CALLER',
      rule: 'github-main',
      differed: { field: 'subject', count: 1 },
    });
    expect(policy.authorize(caller('repo:org/app:ref:refs/heads/main', 'ORG'), request)).toEqual({
      allowed: false,
      reason: 'NO_RULE_FOR_CALLER',
      rule: 'github-main',
      differed: { field: 'claims.repository_owner', count: 1 },
    });
  });

  it('matches scopes and audiences case-sensitively', () => {
    const policy = compilePolicy(basePolicy());
    const workload: PolicyCaller = {
      kind: 'id_token',
      issuer: 'https://accounts.google.com',
      subject: '1',
      email: 'workload@p.iam.gserviceaccount.com',
      emailVerified: true,
      claims: {},
    };
    expect(
      policy.authorize(workload, {
        kind: 'access_token',
        serviceAccount: SA,
        scopes: [CP.toUpperCase()],
        lifetimeSeconds: 3600,
      }),
    ).toEqual({ allowed: false, reason: 'SCOPE_NOT_ALLOWED', rule: 'workload' });
    expect(
      policy.authorize(workload, { kind: 'id_token', serviceAccount: SA, audience: 'https://api.run.app' })
        .allowed,
    ).toBe(true);
    expect(
      policy.authorize(workload, { kind: 'id_token', serviceAccount: SA, audience: 'HTTPS://api.RUN.app' }),
    ).toEqual({ allowed: false, reason: 'AUDIENCE_NOT_ALLOWED', rule: 'workload' });
  });
});
