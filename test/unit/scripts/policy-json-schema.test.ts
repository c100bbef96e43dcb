/**
 * docs/policy.schema.json: the committed file is what the zod schema generates, and it agrees with
 * the function's compiler on the policies that matter — every policy the repository ships passes
 * both, and each shape mistake below fails both.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../functions/token/policy/compile-policy.js';
import { DEMO_POLICY_FILE } from '../../../scripts/local-stack.js';
import { POLICY_SCHEMA_FILE, policyJsonSchema } from '../../../scripts/policy-json-schema.js';

const committed = JSON.parse(readFileSync(POLICY_SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
const validate = new Ajv2020({ strict: false, allErrors: true }).compile(committed);

const GOOGLE = 'https://accounts.google.com';
const SA = 'deployer@my-project.iam.gserviceaccount.com';
const base = () => ({
  version: 1,
  serviceAccounts: { [SA]: { backend: 'keyless' } } as Record<string, unknown>,
  clients: {},
  rules: [
    {
      name: 'ci',
      caller: { issuer: GOOGLE, subject: 'repo:acme/*', claims: { ref_protected: true } } as Record<
        string,
        unknown
      >,
      serviceAccounts: [SA],
      scopes: ['https://www.googleapis.com/auth/cloud-platform'],
    },
  ],
});

function compiles(policy: unknown): boolean {
  try {
    compilePolicy(policy);
    return true;
  } catch {
    return false;
  }
}

describe('docs/policy.schema.json', () => {
  it('is what npm run policy-schema generates from the zod schema', () => {
    expect(committed).toEqual(policyJsonSchema());
  });

  it('accepts the demo policy, which names it as its $schema', () => {
    const demo = JSON.parse(readFileSync(DEMO_POLICY_FILE, 'utf8')) as Record<string, unknown>;
    expect(demo.$schema).toBe('../../docs/policy.schema.json');
    expect(validate(demo), JSON.stringify(validate.errors)).toBe(true);
    expect(compiles(demo)).toBe(true);
  });

  it.each<[string, (p: ReturnType<typeof base>) => void]>([
    ['the base policy', () => undefined],
    ['a service account without backend (keyless by default)', (p) => (p.serviceAccounts[SA] = {})],
    [
      'a key-backed service account',
      (p) => (p.serviceAccounts[SA] = { backend: 'key', keySecret: 'projects/p/secrets/k/versions/current' }),
    ],
    [
      'an email caller',
      (p) => (p.rules[0].caller = { issuer: GOOGLE, email: 'ci@p.iam.gserviceaccount.com' }),
    ],
    ['a list-valued claim', (p) => (p.rules[0].caller.claims = { groups: ['a', 'b'] })],
    [
      'a deny section of every kind',
      (p) =>
        Object.assign(p, {
          deny: {
            callers: [
              { issuer: GOOGLE },
              { issuer: GOOGLE, subject: 'repo:acme/app', claims: { ref: 'x' } },
              { client: 'c' },
            ],
            serviceAccounts: [SA],
            tokenFingerprints: [`sha256:${'0'.repeat(64)}`],
          },
        }),
    ],
  ])('accepts %s, as the compiler does', (_name, change) => {
    const p = base();
    change(p);
    expect(validate(p), JSON.stringify(validate.errors)).toBe(true);
    expect(compiles(p)).toBe(true);
  });

  it.each<[string, (p: ReturnType<typeof base>) => void]>([
    ['an unknown top-level field', (p) => Object.assign(p, { extra: 1 })],
    ['version 2', (p) => (p.version = 2)],
    ['a key backend without its secret', (p) => (p.serviceAccounts[SA] = { backend: 'key' })],
    [
      'a keySecret on a keyless account',
      (p) => (p.serviceAccounts[SA] = { keySecret: 'projects/p/secrets/k/versions/1' }),
    ],
    ['both subject and email', (p) => (p.rules[0].caller = { issuer: GOOGLE, subject: 'x', email: 'a@b.c' })],
    ['neither subject nor email', (p) => (p.rules[0].caller = { issuer: GOOGLE })],
    ['a client caller with an issuer', (p) => (p.rules[0].caller = { client: 'c', issuer: GOOGLE })],
    ['a numeric claim value', (p) => (p.rules[0].caller.claims = { run_number: 7 })],
    ['an empty claim list', (p) => (p.rules[0].caller.claims = { groups: [] })],
    ['a rule name in capitals', (p) => (p.rules[0].name = 'CI')],
    ['a lifetime over an hour', (p) => Object.assign(p.rules[0], { maxLifetimeSeconds: 3601 })],
    ['an http scope', (p) => (p.rules[0].scopes = ['http://x'])],
    ['a deny caller without issuer', (p) => Object.assign(p, { deny: { callers: [{ subject: 'x' }] } })],
    [
      'a deny client with an issuer',
      (p) => Object.assign(p, { deny: { callers: [{ client: 'c', issuer: GOOGLE }] } }),
    ],
    ['a raw token as a fingerprint', (p) => Object.assign(p, { deny: { tokenFingerprints: ['ya29.a0'] } })],
    ['an unknown deny field', (p) => Object.assign(p, { deny: { users: [] } })],
  ])('refuses %s, as the compiler does', (_name, change) => {
    const p = base();
    change(p);
    expect(validate(p)).toBe(false);
    expect(compiles(p)).toBe(false);
  });
});
