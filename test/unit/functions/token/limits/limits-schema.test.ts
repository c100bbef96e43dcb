/**
 * The policy's `limits`, at the top level and per rule: strict (a typo never means "unlimited"),
 * bounded, reported with their path; resolved field by field rule → top level → defaults, and
 * handed to the decision of the rule that matched.
 */
import { describe, expect, it } from 'vitest';
import { compilePolicy, PolicyError } from '../../../../../functions/token/policy/compile-policy.js';
import { DEFAULT_LIMITS, resolveLimits } from '../../../../../functions/token/limits/limits-schema.js';

const SA = 'gemini@p.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const GH = 'https://token.actions.githubusercontent.com';

function policy(limits?: unknown, ruleLimits?: unknown): any {
  return {
    version: 1,
    serviceAccounts: { [SA]: {} },
    ...(limits === undefined ? {} : { limits }),
    rules: [
      {
        name: 'gh',
        caller: { issuer: GH, subject: 'repo:org/*' },
        serviceAccounts: [SA],
        scopes: [CP],
        ...(ruleLimits === undefined ? {} : { limits: ruleLimits }),
      },
      { name: 'plain', caller: { issuer: GH, subject: 'repo:other/*' }, serviceAccounts: [SA], scopes: [CP] },
    ],
  };
}

function error(doc: unknown): string {
  try {
    compilePolicy(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return (err as Error).message;
  }
  throw new Error('expected the policy to be refused');
}

const caller = (subject: string) => ({ kind: 'id_token' as const, issuer: GH, subject, claims: {} });
const request = { kind: 'access_token' as const, serviceAccount: SA, scopes: [CP], lifetimeSeconds: 3600 };

describe('policy limits: refused values, with their path', () => {
  it.each<[string, unknown, string]>([
    ['zero', { requestsPerMinute: 0 }, 'limits.requestsPerMinute: Too small'],
    ['negative', { mintsPerMinute: -1 }, 'limits.mintsPerMinute: Too small'],
    ['a fraction', { mintBurst: 1.5 }, 'limits.mintBurst: Invalid input: expected int'],
    ['a string', { requestsPerMinute: '100' }, 'limits.requestsPerMinute: Invalid input: expected number'],
    ['above the bound', { distinctTokensPerHour: 10_001 }, 'limits.distinctTokensPerHour: Too big'],
    ['above the request bound', { requestBurst: 1_000_001 }, 'limits.requestBurst: Too big'],
    ['an unknown key (a typo)', { requestPerMinute: 10 }, 'limits: Unrecognized key: "requestPerMinute"'],
    [
      'an unknown per-rule key',
      { perRule: { distinctTokensPerHour: 5 } },
      'limits.perRule: Unrecognized key',
    ],
    ['null', null, 'limits: Invalid input'],
    ['infinity as a string', { requestsPerMinute: 'Infinity' }, 'limits.requestsPerMinute'],
  ])('top level: %s', (_name, limits, message) => {
    expect(error(policy(limits))).toContain(message);
  });

  it.each<[string, unknown, string]>([
    ['zero', { mintsPerMinute: 0 }, 'rules[0] (name=gh).limits.mintsPerMinute: Too small'],
    ['a typo', { mintsPerMin: 5 }, 'rules[0] (name=gh).limits: Unrecognized key: "mintsPerMin"'],
    [
      'a bad aggregate',
      { perRule: { requestsPerMinute: 0 } },
      'rules[0] (name=gh).limits.perRule.requestsPerMinute',
    ],
  ])('per rule: %s', (_name, limits, message) => {
    expect(error(policy(undefined, limits))).toContain(message);
  });

  it('accepts the largest values of every field', () => {
    const max = {
      requestsPerMinute: 1_000_000,
      requestBurst: 1_000_000,
      mintsPerMinute: 100_000,
      mintBurst: 100_000,
      distinctTokensPerHour: 10_000,
      perRule: { requestsPerMinute: 1_000_000, mintsPerMinute: 100_000 },
    };
    expect(() => compilePolicy(policy(max, max))).not.toThrow();
  });
});

describe('policy limits: resolved into the decision of the rule that matched', () => {
  it('a policy without limits gives every rule the defaults', () => {
    const d = compilePolicy(policy()).authorize(caller('repo:org/app'), request);
    expect(d).toMatchObject({ allowed: true, rule: 'gh', limits: DEFAULT_LIMITS });
  });

  it('top-level limits apply to every rule; a rule overrides field by field', () => {
    const p = compilePolicy(
      policy(
        { requestsPerMinute: 100, mintsPerMinute: 10, perRule: { mintsPerMinute: 50 } },
        { mintsPerMinute: 20 },
      ),
    );
    expect(p.authorize(caller('repo:org/app'), request)).toMatchObject({
      rule: 'gh',
      limits: {
        requestsPerMinute: 100,
        requestBurst: 100,
        mintsPerMinute: 20,
        mintBurst: 20,
        distinctTokensPerHour: DEFAULT_LIMITS.distinctTokensPerHour,
        perRule: { mintsPerMinute: 50 },
      },
    });
    expect(p.authorize(caller('repo:other/app'), request)).toMatchObject({
      rule: 'plain',
      limits: { requestsPerMinute: 100, mintsPerMinute: 10, mintBurst: 10, perRule: { mintsPerMinute: 50 } },
    });
  });
});

describe('resolveLimits', () => {
  it('a burst follows the rate of its own level', () => {
    // The rule raises the rate without a burst: its burst is the new rate, not the top level's burst.
    expect(
      resolveLimits({ requestsPerMinute: 10, requestBurst: 2 }, { requestsPerMinute: 600 }),
    ).toMatchObject({
      requestsPerMinute: 600,
      requestBurst: 600,
    });
    // The rule sets only a burst: the top level's rate stays.
    expect(resolveLimits({ mintsPerMinute: 10 }, { mintBurst: 3 })).toMatchObject({
      mintsPerMinute: 10,
      mintBurst: 3,
    });
    // Neither sets a burst: the rate.
    expect(resolveLimits({ mintsPerMinute: 7 }, undefined)).toMatchObject({ mintBurst: 7 });
    // The top level sets a burst, the rule nothing about requests: the top level's burst.
    expect(resolveLimits({ requestBurst: 5 }, { mintsPerMinute: 1 })).toMatchObject({
      requestsPerMinute: DEFAULT_LIMITS.requestsPerMinute,
      requestBurst: 5,
    });
  });

  it('the defaults are the documented numbers', () => {
    expect(DEFAULT_LIMITS).toEqual({
      requestsPerMinute: 1200,
      requestBurst: 1200,
      mintsPerMinute: 60,
      mintBurst: 60,
      distinctTokensPerHour: 100,
      perRule: {},
    });
  });
});
