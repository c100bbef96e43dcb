import { describe, expect, it } from 'vitest';
import { MAX_LIST_CLAIM_ELEMENTS } from '../../../../../functions/token/policy/claim-matcher.js';
import {
  compilePolicy,
  describeDenial,
  PolicyError,
  type PolicyCaller,
} from '../../../../../functions/token/policy/compile-policy.js';

const SA = 'deployer@p.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const ISS = 'https://issuer.example.com';
const request = { kind: 'access_token' as const, serviceAccount: SA, scopes: [CP], lifetimeSeconds: 600 };

function policy(claims: Record<string, unknown>, subject = 'system:serviceaccount:ci:deployer'): unknown {
  return {
    version: 1,
    serviceAccounts: { [SA]: {} },
    rules: [{ name: 'ci', caller: { issuer: ISS, subject, claims }, serviceAccounts: [SA], scopes: [CP] }],
  };
}

const caller = (
  claims: Record<string, unknown>,
  subject = 'system:serviceaccount:ci:deployer',
): PolicyCaller => ({
  kind: 'id_token',
  issuer: ISS,
  subject,
  claims,
});

const allowed = (claims: Record<string, unknown>, tokenClaims: Record<string, unknown>) =>
  compilePolicy(policy(claims)).authorize(caller(tokenClaims), request).allowed;

describe('claims by JSON pointer', () => {
  const k8s = { 'kubernetes.io': { namespace: 'ci', serviceaccount: { name: 'deployer', uid: 'u-1' } } };

  it('matches a nested claim', () => {
    expect(
      allowed({ '/kubernetes.io/namespace': 'ci', '/kubernetes.io/serviceaccount/name': 'deployer' }, k8s),
    ).toBe(true);
    expect(allowed({ '/kubernetes.io/namespace': 'prod' }, k8s)).toBe(false);
  });

  it('decodes ~1 as "/" and ~0 as "~" (in that order)', () => {
    expect(
      allowed({ '/https:~1~1example.com~1groups': 'admins' }, { 'https://example.com/groups': 'admins' }),
    ).toBe(true);
    expect(allowed({ '/a~0b': 'x' }, { 'a~b': 'x' })).toBe(true);
    // "~01" is "~1" literally, not "/".
    expect(allowed({ '/a~01b': 'x' }, { 'a~1b': 'x' })).toBe(true);
    expect(allowed({ '/a~01b': 'x' }, { 'a/b': 'x' })).toBe(false);
  });

  it('a top-level name with a dot is one claim, not a path', () => {
    expect(allowed({ 'kubernetes.io': 'x' }, { 'kubernetes.io': 'x' })).toBe(true);
    expect(allowed({ 'kubernetes.io': 'x' }, k8s)).toBe(false);
  });

  it('never indexes into arrays (numeric segments are plain keys of objects only)', () => {
    expect(allowed({ '/groups/0': 'admins' }, { groups: ['admins'] })).toBe(false);
    expect(allowed({ '/groups/0': 'admins' }, { groups: { 0: 'admins' } })).toBe(true);
  });

  it('reads own properties only: nothing reachable through a prototype matches', () => {
    expect(allowed({ '/kubernetes.io/toString': '**' }, k8s)).toBe(false);
    expect(allowed({ '/kubernetes.io/hasOwnProperty/name': 'hasOwnProperty' }, k8s)).toBe(false);
    expect(allowed({ toString: '**' }, {})).toBe(false);
    expect(allowed({ '/kubernetes.io/namespace/length': '2' }, k8s)).toBe(false);
  });

  it.each([
    ['/__proto__/x', 'is a reserved name (a pointer segment is __proto__, constructor or prototype)'],
    ['/constructor', 'is a reserved name (a pointer segment is __proto__, constructor or prototype)'],
    ['/a/prototype', 'is a reserved name (a pointer segment is __proto__, constructor or prototype)'],
    // ~5f is not an escape: the only escapes are ~0 and ~1.
    ['/__proto~5f__', 'a claim pointer is'],
    ['/a//b', 'a claim pointer is'],
    ['/', 'a claim pointer is'],
    ['/a~', 'a claim pointer is'],
    ['/a b', 'a claim pointer is'],
    ['/1/2/3/4/5/6/7/8/9', 'a claim pointer is "/" then at most 8 non-empty segments'],
    [`/${'a'.repeat(200)}`, 'a claim pointer is "/" then at most 8 non-empty segments'],
    ['not a/name', 'claim names are plain identifiers (or a JSON pointer: "/a/b")'],
  ])('refuses the claim key %j', (key, message) => {
    expect(() => compilePolicy(policy({ [key]: 'x' }))).toThrow(PolicyError);
    expect(() => compilePolicy(policy({ [key]: 'x' }))).toThrow(
      `rules[0] (name=ci).caller.claims.${key}: ${message}`,
    );
  });

  it('does bounded work on a deeply nested claim (the pointer is at most 8 deep)', () => {
    let deep: Record<string, unknown> = { leaf: 'x' };
    for (let i = 0; i < 10_000; i++) deep = { a: deep };
    expect(allowed({ '/a/a/a/a/a/a/a/a': 'x' }, deep)).toBe(false);
  });
});

describe('claim value types', () => {
  it('tells a boolean from its string: "true" is not true, in either direction', () => {
    expect(allowed({ email_verified: true }, { email_verified: true })).toBe(true);
    expect(allowed({ email_verified: true }, { email_verified: 'true' })).toBe(false);
    expect(allowed({ email_verified: true }, { email_verified: [true] })).toBe(false);
    expect(allowed({ email_verified: false }, {})).toBe(false);
    expect(allowed({ ref_protected: 'true' }, { ref_protected: 'true' })).toBe(true);
    expect(allowed({ ref_protected: 'true' }, { ref_protected: true })).toBe(false);
  });

  it('never matches a number claim with a string pattern', () => {
    expect(allowed({ project_id: '42' }, { project_id: 42 })).toBe(false);
    expect(allowed({ project_id: '*' }, { project_id: 42 })).toBe(false);
  });

  it('matches a list claim when any string element matches (any-of)', () => {
    expect(allowed({ groups: 'deployers' }, { groups: ['readers', 'deployers'] })).toBe(true);
    expect(allowed({ groups: 'deployers' }, { groups: ['readers', { deployers: true }, 7, null] })).toBe(
      false,
    );
    expect(allowed({ groups: 'deployers' }, { groups: [] })).toBe(false);
    expect(allowed({ groups: 'deployers' }, { groups: [['deployers']] })).toBe(false);
  });

  it('documents the risk: a list claim the caller fills itself matches if ANY element does', () => {
    // Rules must constrain claims the issuer sets (repository, project_path, namespace), not
    // claims a workload can choose; a claim that is a list of attacker-chosen strings matches
    // a string pattern as soon as one of them does.
    expect(allowed({ repository_owner: 'my-org' }, { repository_owner: ['evil', 'my-org'] })).toBe(true);
  });

  it('gives up on a list claim longer than the bound (fails closed)', () => {
    const many = Array.from({ length: MAX_LIST_CLAIM_ELEMENTS }, (_, i) => `g${i}`);
    expect(allowed({ groups: 'target' }, { groups: [...many.slice(1), 'target'] })).toBe(true);
    expect(allowed({ groups: 'target' }, { groups: [...many, 'target'] })).toBe(false);
  });

  it('matches any of a list of alternatives, on a string claim or any element of a list claim', () => {
    const env = { environment: ['production', 'staging'] };
    expect(allowed(env, { environment: 'staging' })).toBe(true);
    expect(allowed(env, { environment: ['dev', 'production'] })).toBe(true);
    expect(allowed(env, { environment: 'dev' })).toBe(false);
    expect(allowed(env, { environment: 'production-x' })).toBe(false);
  });

  it('lets ** span path segments in claims, anchored at both ends', () => {
    const rule = { project_path: 'my-group/**' };
    expect(allowed(rule, { project_path: 'my-group/sub/project' })).toBe(true);
    expect(allowed(rule, { project_path: 'my-group/project' })).toBe(true);
    expect(allowed(rule, { project_path: 'my-group/' })).toBe(false);
    expect(allowed(rule, { project_path: 'my-group' })).toBe(false);
    expect(allowed(rule, { project_path: 'other/my-group/x' })).toBe(false);
    expect(allowed(rule, { project_path: 'my-group/a:b' })).toBe(false);
    expect(allowed(rule, { project_path: 'my-group/a b' })).toBe(false);
  });

  it.each([
    [42, 'must be a pattern string, a boolean, or a non-empty list of pattern strings (got number)'],
    [null, 'must be a pattern string, a boolean, or a non-empty list of pattern strings (got null)'],
    [{ a: 'b' }, 'must be a pattern string, a boolean, or a non-empty list of pattern strings (got object)'],
  ])('refuses the claim value %j', (value, message) => {
    expect(() => compilePolicy(policy({ ref: value }))).toThrow(
      `rules[0] (name=ci).caller.claims.ref: ${message}`,
    );
  });

  it.each([
    [[], 'rules[0] (name=ci).caller.claims.ref: Too small'],
    [['main', 7], 'rules[0] (name=ci).caller.claims.ref[1]: Invalid input'],
    [['main', 'a b'], 'rules[0] (name=ci).caller.claims.ref[1]: must not contain whitespace'],
    [Array.from({ length: 65 }, (_, i) => `r${i}`), 'rules[0] (name=ci).caller.claims.ref: Too big'],
  ])('refuses the list of alternatives %j', (value, message) => {
    expect(() => compilePolicy(policy({ ref: value }))).toThrow(message);
  });
});

describe('a claim pattern the glob compiler refuses', () => {
  it.each([
    ['a single pattern, named by the claim', 'a***', 'rules[0] (name=ci).caller.claims.ref: '],
    ['one of a list, named by its index', ['main', 'a***'], 'rules[0] (name=ci).caller.claims.ref[1]: '],
  ])('names %s', (_name, value, prefix) => {
    expect(() => compilePolicy(policy({ ref: value }))).toThrow(`${prefix}"***" is ambiguous`);
  });
});

describe('the closest rule when no rule matches the caller', () => {
  const twoRules = (): any => ({
    version: 1,
    serviceAccounts: { [SA]: {} },
    rules: [
      {
        name: 'other-issuer',
        caller: { issuer: 'https://elsewhere.example.com', subject: 'x' },
        serviceAccounts: [SA],
        scopes: [CP],
      },
      {
        name: 'main-protected',
        caller: {
          issuer: ISS,
          subject: 'project_path:g/**:ref_type:branch:ref:main',
          claims: { ref_protected: 'true', '/ns/name': 'ci' },
        },
        serviceAccounts: [SA],
        scopes: [CP],
      },
      {
        name: 'any-tag',
        caller: {
          issuer: ISS,
          subject: 'project_path:g/**:ref_type:tag:ref:*',
          claims: { ref_protected: 'true' },
        },
        serviceAccounts: [SA],
        scopes: [CP],
      },
    ],
  });
  const subject = 'project_path:g/app:ref_type:branch:ref:main';

  it('names the rule with the fewest differing fields and the first field that differed', () => {
    const p = compilePolicy(twoRules());
    const denied = p.authorize(caller({ ref_protected: 'false', ns: { name: 'ci' } }, subject), request);
    expect(denied).toEqual({
      allowed: false,
      reason: 'NO_RULE_FOR_CALLER',
      rule: 'main-protected',
      differed: { field: 'claims.ref_protected', count: 1 },
    });
    expect(describeDenial(denied as Extract<typeof denied, { allowed: false }>)).toBe(
      'closest rule: main-protected; caller claims.ref_protected differed',
    );
  });

  it('names a pointer claim as the policy wrote it, and counts the other differences', () => {
    const denied = compilePolicy(twoRules()).authorize(caller({ ns: { name: 'prod' } }, subject), request);
    expect(denied).toMatchObject({
      rule: 'main-protected',
      differed: { field: 'claims.ref_protected', count: 2 },
    });
    expect(describeDenial(denied as Extract<typeof denied, { allowed: false }>)).toBe(
      'closest rule: main-protected; caller claims.ref_protected differed (and 1 more)',
    );
    const onlyNs = compilePolicy(twoRules()).authorize(
      caller({ ref_protected: 'true', ns: { name: 'prod' } }, subject),
      request,
    );
    expect(onlyNs).toMatchObject({ differed: { field: 'claims./ns/name', count: 1 } });
  });

  it('never names a rule of another issuer or credential kind', () => {
    const p = compilePolicy(twoRules());
    const stranger: PolicyCaller = {
      kind: 'id_token',
      issuer: 'https://unknown.example.com',
      subject: 'x',
      claims: {},
    };
    expect(p.authorize(stranger, request)).toEqual({ allowed: false, reason: 'NO_RULE_FOR_CALLER' });
    const accessToken: PolicyCaller = { ...caller({}, subject), kind: 'google_access_token' } as PolicyCaller;
    expect(p.authorize(accessToken, request)).toEqual({ allowed: false, reason: 'NO_RULE_FOR_CALLER' });
  });

  it('a denial past the caller match still reports the furthest reason, without a differing field', () => {
    const p = compilePolicy(twoRules());
    const denied = p.authorize(caller({ ref_protected: 'true', ns: { name: 'ci' } }, subject), {
      ...request,
      scopes: ['https://www.googleapis.com/auth/gmail.send'],
    });
    expect(denied).toEqual({ allowed: false, reason: 'SCOPE_NOT_ALLOWED', rule: 'main-protected' });
    expect(describeDenial(denied as Extract<typeof denied, { allowed: false }>)).toBe(
      'closest rule: main-protected',
    );
  });
});
