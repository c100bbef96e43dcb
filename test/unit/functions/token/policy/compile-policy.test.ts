import { describe, expect, it } from 'vitest';
import {
  compilePolicy,
  PolicyError,
  type PolicyCaller,
} from '../../../../../functions/token/policy/compile-policy.js';

const SA = 'gemini@p.iam.gserviceaccount.com';
const KEYLESS = 'keyless@p.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const GOOGLE = 'https://accounts.google.com';
const GH = 'https://token.actions.githubusercontent.com';
const CLIENT_HASH =
  'scrypt$N=16384,r=8,p=1$AQEBAQEBAQEBAQEBAQEBAQ$AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI';

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
        caller: { issuer: GOOGLE, email: 'workload@p.iam.gserviceaccount.com' },
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

const workload: PolicyCaller = {
  kind: 'id_token',
  issuer: GOOGLE,
  subject: '1',
  email: 'workload@p.iam.gserviceaccount.com',
  emailVerified: true,
  claims: {},
};
const gh = (sub: string, owner = 'org'): PolicyCaller => ({
  kind: 'id_token',
  issuer: GH,
  subject: sub,
  claims: { repository_owner: owner },
});
const at = (serviceAccount: string, scopes = [CP], lifetimeSeconds = 600) => ({
  kind: 'access_token' as const,
  serviceAccount,
  scopes,
  lifetimeSeconds,
});

describe('compilePolicy', () => {
  it('grants a matching caller and names the rule and backend', () => {
    const d = compilePolicy(basePolicy()).authorize(workload, at(SA));
    expect(d).toMatchObject({
      allowed: true,
      rule: 'workload',
      serviceAccount: { email: SA, backend: 'key' },
    });
  });

  it.each([
    [
      'an unknown caller',
      { ...workload, email: 'other@p.iam.gserviceaccount.com' },
      at(SA),
      'NO_RULE_FOR_CALLER',
    ],
    ['an unverified email', { ...workload, emailVerified: false }, at(SA), 'NO_RULE_FOR_CALLER'],
    [
      'another issuer with the same email',
      { ...workload, issuer: 'https://accounts.google.com.evil.com' },
      at(SA),
      'NO_RULE_FOR_CALLER',
    ],
    ['a service account outside the rule', workload, at(KEYLESS), 'SERVICE_ACCOUNT_NOT_ALLOWED'],
    [
      'a scope outside the rule',
      workload,
      at(SA, [CP, 'https://www.googleapis.com/auth/gmail.send']),
      'SCOPE_NOT_ALLOWED',
    ],
    ['a scope with a newline', workload, at(SA, [`${CP}\n`]), 'SCOPE_NOT_ALLOWED'],
    [
      'a lifetime above the rule maximum',
      gh('repo:org/app:ref:refs/heads/main'),
      at(KEYLESS, [CP], 1801),
      'LIFETIME_EXCEEDS_POLICY',
    ],
    ['a branch other than main', gh('repo:org/app:ref:refs/heads/dev'), at(KEYLESS), 'NO_RULE_FOR_CALLER'],
    [
      'a repository path that crosses a segment',
      gh('repo:org/a/b:ref:refs/heads/main'),
      at(KEYLESS),
      'NO_RULE_FOR_CALLER',
    ],
    ['a claim mismatch', gh('repo:org/app:ref:refs/heads/main', 'evil'), at(KEYLESS), 'NO_RULE_FOR_CALLER'],
    [
      'a caller whose token lacks a claim the rule constrains',
      { ...gh('repo:org/app:ref:refs/heads/main'), claims: {} },
      at(KEYLESS),
      'NO_RULE_FOR_CALLER',
    ],
    [
      'a constrained claim that is neither a string nor a list',
      { ...gh('repo:org/app:ref:refs/heads/main'), claims: { repository_owner: { name: 'org' } } },
      at(KEYLESS),
      'NO_RULE_FOR_CALLER',
    ],
    [
      'an ID token audience outside the rule',
      workload,
      { kind: 'id_token' as const, serviceAccount: SA, audience: 'https://evil.com/x.run.app' },
      'AUDIENCE_NOT_ALLOWED',
    ],
  ])('denies %s', (_name, caller, request, reason) => {
    expect(compilePolicy(basePolicy()).authorize(caller, request)).toMatchObject({ allowed: false, reason });
  });

  it('accepts Google access tokens only where a rule opts in', () => {
    const p = basePolicy();
    const viaAccessToken = { ...workload, kind: 'google_access_token' } as PolicyCaller;
    expect(compilePolicy(p).authorize(viaAccessToken, at(SA))).toMatchObject({
      allowed: false,
      reason: 'NO_RULE_FOR_CALLER',
    });
    p.rules[0].caller.credentials = ['id_token', 'access_token'];
    expect(compilePolicy(p).authorize(viaAccessToken, at(SA)).allowed).toBe(true);
  });

  it('matches emails case-insensitively in ASCII only', () => {
    const p = compilePolicy(basePolicy());
    expect(p.authorize({ ...workload, email: 'WORKLOAD@P.iam.gserviceaccount.com' }, at(SA)).allowed).toBe(
      true,
    );
    expect(
      p.authorize({ ...workload, email: 'wor\u212Aload@p.iam.gserviceaccount.com' }, at(SA)).allowed,
    ).toBe(false);
  });

  it('grants a GitHub workflow on main and a client by id', () => {
    const p = compilePolicy(basePolicy());
    expect(p.authorize(gh('repo:org/app:ref:refs/heads/main'), at(KEYLESS))).toMatchObject({
      allowed: true,
      rule: 'github-main',
      serviceAccount: { backend: 'keyless' },
    });
    expect(p.authorize({ kind: 'client', clientId: 'ci-runner' }, at(SA))).toMatchObject({
      allowed: true,
      rule: 'client',
    });
    expect(p.authorize({ kind: 'client', clientId: 'other' }, at(SA))).toMatchObject({
      allowed: false,
      reason: 'NO_RULE_FOR_CALLER',
    });
  });

  it('allows a lifetime exactly at the rule maximum', () => {
    expect(
      compilePolicy(basePolicy()).authorize(gh('repo:org/app:ref:refs/heads/main'), at(KEYLESS, [CP], 1800)),
    ).toMatchObject({ allowed: true, rule: 'github-main' });
  });

  it('defaults a service account without a backend to keyless', () => {
    expect(compilePolicy(basePolicy()).serviceAccount(KEYLESS)).toEqual({
      email: KEYLESS,
      backend: 'keyless',
    });
  });

  it('does not treat inherited properties as clients', () => {
    const p = compilePolicy(basePolicy());
    expect(p.clientSecretHash('__proto__')).toBeUndefined();
    expect(p.clientSecretHash('constructor')).toBeUndefined();
  });

  it.each([
    [
      'an unknown top-level key',
      (p: any) => {
        p.extra = 1;
      },
      /Unrecognized key.*extra|extra/,
    ],
    [
      'an unknown rule key, naming the rule',
      (p: any) => {
        p.rules[0].scopez = [];
      },
      /rules\[0\] \(name=workload\)/,
    ],
    [
      'both subject and email',
      (p: any) => {
        p.rules[1].caller.email = 'a@b.com';
      },
      /rules\[1\] \(name=github-main\).*exactly one of "subject" or "email"/s,
    ],
    [
      'neither subject nor email',
      (p: any) => {
        delete p.rules[1].caller.subject;
      },
      /exactly one of/,
    ],
    [
      'a key backend without its secret',
      (p: any) => {
        delete p.serviceAccounts[SA].keySecret;
      },
      /serviceAccounts.*keySecret/s,
    ],
    [
      'a rule naming an unlisted service account',
      (p: any) => {
        p.rules[0].serviceAccounts = ['x@p.iam.gserviceaccount.com'];
      },
      /rules\[0\] \(name=workload\)\.serviceAccounts\[0\].*not listed/,
    ],
    [
      'a rule mixing backends silently',
      (p: any) => {
        p.rules[0].serviceAccounts = [SA, KEYLESS];
      },
      /rules\[0\] \(name=workload\)\.backend/,
    ],
    [
      'a rule naming an unknown client',
      (p: any) => {
        p.rules[2].caller.client = 'nobody';
      },
      /rules\[2\] \(name=client\)\.caller\.client/,
    ],
    [
      'a rule that grants nothing',
      (p: any) => {
        delete p.rules[0].scopes;
        delete p.rules[0].idTokenAudiences;
      },
      /grant "scopes"/,
    ],
    [
      'a scope with whitespace',
      (p: any) => {
        p.rules[0].scopes = ['https://a b'];
      },
      /scopes\[0\]/,
    ],
    [
      'a lifetime above one hour',
      (p: any) => {
        p.rules[0].maxLifetimeSeconds = 7200;
      },
      /maxLifetimeSeconds/,
    ],
    [
      'a maximum below one hour for key-minted tokens',
      (p: any) => {
        p.rules[0].maxLifetimeSeconds = 600;
      },
      /rules\[0\] \(name=workload\)\.maxLifetimeSeconds: tokens minted from a key live 3600 s/,
    ],
    [
      'a ** pattern outside subject and claims',
      (p: any) => {
        p.rules[1].serviceAccounts = ['**@p.iam.gserviceaccount.com'];
      },
      /rules\[1\] \(name=github-main\)\.serviceAccounts\[0\]: "\*\*" is allowed only in subject and claims patterns/,
    ],
    [
      'duplicate rule names',
      (p: any) => {
        p.rules[1].name = 'workload';
      },
      /duplicate rule name/,
    ],
    [
      'an unsupported version',
      (p: any) => {
        p.version = 2;
      },
      /version/,
    ],
    [
      'a __proto__ claim constraint (it would vanish into the prototype)',
      (p: any) => {
        p.rules[1].caller.claims = JSON.parse('{"__proto__": "only-this"}');
      },
      /rules\[1\].*claims.*reserved name/s,
    ],
    [
      'a client named __proto__',
      (p: any) => {
        p.clients = JSON.parse(`{"__proto__": {"secretHash": "${CLIENT_HASH}"}}`);
      },
      /clients.*reserved name/s,
    ],
    [
      'a constructor claim constraint',
      (p: any) => {
        p.rules[1].caller.claims = { constructor: 'x' };
      },
      /rules\[1\].*claims.*reserved name/s,
    ],
    [
      'a prototype claim constraint',
      (p: any) => {
        p.rules[1].caller.claims = { prototype: 'x' };
      },
      /rules\[1\].*claims.*reserved name/s,
    ],
    [
      'a rule saying "keyless" over a key-backed service account',
      (p: any) => {
        p.rules[0].backend = 'keyless';
      },
      /rules\[0\] \(name=workload\)\.backend: the rule says "keyless"/,
    ],
    [
      'a rule saying "key" over a keyless service account',
      (p: any) => {
        p.rules[1].backend = 'key';
      },
      /rules\[1\] \(name=github-main\)\.backend: the rule says "key"/,
    ],
    [
      'a malformed client secret hash',
      (p: any) => {
        p.clients['ci-runner'].secretHash = 'plaintext';
      },
      /clients\.ci-runner\.secretHash/,
    ],
  ])('rejects %s with a message naming the field', (_name, mutate, message) => {
    const p = basePolicy();
    mutate(p);
    expect(() => compilePolicy(p)).toThrow(PolicyError);
    expect(() => compilePolicy(p)).toThrow(message);
  });

  it('grants an ID token for an audience the rule lists, among several', () => {
    const p = basePolicy();
    p.rules[0].idTokenAudiences = ['https://a.example.com', 'https://*.run.app'];
    const d = compilePolicy(p).authorize(workload, {
      kind: 'id_token',
      serviceAccount: SA,
      audience: 'https://svc.run.app',
    });
    expect(d).toMatchObject({ allowed: true, rule: 'workload' });
  });

  it('grants a subset of the scopes a rule lists', () => {
    const p = basePolicy();
    p.rules[0].scopes = [CP, 'https://www.googleapis.com/auth/userinfo.email'];
    expect(compilePolicy(p).authorize(workload, at(SA, [CP])).allowed).toBe(true);
  });

  it('matches target service accounts case-insensitively in ASCII', () => {
    expect(
      compilePolicy(basePolicy()).authorize(workload, at('GEMINI@P.iam.gserviceaccount.com')),
    ).toMatchObject({ allowed: true, serviceAccount: { email: SA } });
  });

  it('reports the denial that got furthest across rules, whatever their order', () => {
    const p = basePolicy();
    const second = { ...p.rules[0], name: 'workload-keyless', serviceAccounts: [KEYLESS] };
    p.rules.splice(1, 0, second);
    const scopeDenied = at(SA, ['https://www.googleapis.com/auth/gmail.send']);
    expect(compilePolicy(p).authorize(workload, scopeDenied)).toMatchObject({
      allowed: false,
      reason: 'SCOPE_NOT_ALLOWED',
      rule: 'workload',
    });
    p.rules.reverse();
    expect(compilePolicy(p).authorize(workload, scopeDenied)).toMatchObject({
      allowed: false,
      reason: 'SCOPE_NOT_ALLOWED',
      rule: 'workload',
    });
  });

  it('allows mixing backends when the rule says "any"', () => {
    const p = basePolicy();
    p.rules[0].serviceAccounts = [SA, KEYLESS];
    p.rules[0].backend = 'any';
    expect(compilePolicy(p).authorize(workload, at(KEYLESS)).allowed).toBe(true);
  });
});
