import { describe, expect, it } from 'vitest';
import { tokenFingerprint } from '../../../../../shared/audit-log.js';
import {
  compilePolicy,
  PolicyError,
  type PolicyCaller,
} from '../../../../../functions/token/policy/compile-policy.js';

const SA = 'deployer@p.iam.gserviceaccount.com';
const OTHER_SA = 'reader@p.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const GOOGLE = 'https://accounts.google.com';
const GH = 'https://token.actions.githubusercontent.com';
const HASH = 'scrypt$N=16384,r=8,p=1$AQEBAQEBAQEBAQEBAQEBAQ$AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI';

function policy(deny: unknown): any {
  return {
    version: 1,
    serviceAccounts: { [SA]: {}, [OTHER_SA]: {} },
    clients: { nightly: { secretHash: HASH } },
    rules: [
      {
        name: 'github',
        caller: { issuer: GH, subject: 'repo:org/**' },
        serviceAccounts: ['*@p.iam.gserviceaccount.com'],
        scopes: [CP],
      },
      { name: 'nightly', caller: { client: 'nightly' }, serviceAccounts: [SA], scopes: [CP] },
    ],
    ...(deny === undefined ? {} : { deny }),
  };
}

type OidcCaller = Exclude<PolicyCaller, { kind: 'client' }>;
const gh = (subject: string, claims: Record<string, unknown> = {}): OidcCaller => ({
  kind: 'id_token',
  issuer: GH,
  subject,
  claims: { sub: subject, ...claims },
});
const google = (email: string, emailVerified: boolean): OidcCaller => ({
  kind: 'id_token',
  issuer: GOOGLE,
  subject: '42',
  email,
  emailVerified,
  claims: {},
});
const client: PolicyCaller = { kind: 'client', clientId: 'nightly' };

describe('policy deny section', () => {
  it('is empty when absent: nothing denied, no fingerprint check needed', () => {
    const compiled = compilePolicy(policy(undefined));
    expect(compiled.deny.size).toBe(0);
    expect(compiled.deny.hasTokenFingerprints).toBe(false);
    expect(compiled.deny.check(gh('repo:org/app:ref:refs/heads/main'), SA)).toBeUndefined();
  });

  it('denies a caller by issuer and subject glob, naming the entry; others pass', () => {
    const { deny } = compilePolicy(
      policy({
        callers: [
          { issuer: GOOGLE, email: 'x@p.iam.gserviceaccount.com' },
          { issuer: GH, subject: 'repo:org/app:ref:**' },
        ],
      }),
    );
    expect(deny.check(gh('repo:org/app:ref:refs/heads/main'), SA)).toEqual({
      reason: 'CALLER_DENIED',
      entry: 'deny.callers[1]',
    });
    expect(deny.check(gh('repo:org/other:ref:refs/heads/main'), SA)).toBeUndefined();
    // The same subject from another issuer is another caller.
    expect(deny.check({ ...gh('repo:org/app:ref:x'), issuer: 'https://gitlab.com' }, SA)).toBeUndefined();
  });

  it('an issuer alone denies every caller of that issuer, but no client and no other issuer', () => {
    const { deny } = compilePolicy(policy({ callers: [{ issuer: GH }] }));
    expect(deny.check(gh('anything'), SA)?.reason).toBe('CALLER_DENIED');
    expect(deny.check(google('a@b.com', true), SA)).toBeUndefined();
    expect(deny.check(client, SA)).toBeUndefined();
  });

  it('narrows by claims: every listed claim must match (pointer claims included)', () => {
    const { deny } = compilePolicy(
      policy({
        callers: [{ issuer: GH, claims: { repository: 'org/app', '/job/env': ['prod', 'staging'] } }],
      }),
    );
    expect(deny.check(gh('s', { repository: 'org/app', job: { env: 'prod' } }), SA)?.reason).toBe(
      'CALLER_DENIED',
    );
    expect(deny.check(gh('s', { repository: 'org/app', job: { env: 'dev' } }), SA)).toBeUndefined();
    expect(deny.check(gh('s', { repository: 'org/other', job: { env: 'prod' } }), SA)).toBeUndefined();
  });

  it('matches an email whether or not the issuer verified it (a deny errs toward refusing)', () => {
    const { deny } = compilePolicy(policy({ callers: [{ issuer: GOOGLE, email: '*@evil.example.com' }] }));
    expect(deny.check(google('mallory@evil.example.com', false), SA)?.reason).toBe('CALLER_DENIED');
    expect(deny.check(google('MALLORY@EVIL.EXAMPLE.COM', true), SA)?.reason).toBe('CALLER_DENIED');
    expect(deny.check(google('alice@good.example.com', true), SA)).toBeUndefined();
    expect(deny.check({ ...google('x', true), email: undefined }, SA)).toBeUndefined();
  });

  it('denies an OAuth client by id (and only OAuth clients)', () => {
    const { deny } = compilePolicy(policy({ callers: [{ client: 'nightly' }] }));
    expect(deny.check(client, SA)).toEqual({ reason: 'CALLER_DENIED', entry: 'deny.callers[0]' });
    expect(deny.check({ kind: 'client', clientId: 'nightly2' }, SA)).toBeUndefined();
    expect(deny.check(gh('nightly'), SA)).toBeUndefined();
  });

  it('denies target service accounts by glob, case-insensitively', () => {
    const { deny } = compilePolicy(policy({ serviceAccounts: ['deployer@*.iam.gserviceaccount.com'] }));
    expect(deny.check(gh('repo:org/app'), SA)).toEqual({
      reason: 'SERVICE_ACCOUNT_DENIED',
      entry: 'deny.serviceAccounts[0]',
    });
    expect(deny.check(gh('repo:org/app'), SA.toUpperCase())?.reason).toBe('SERVICE_ACCOUNT_DENIED');
    expect(deny.check(gh('repo:org/app'), OTHER_SA)).toBeUndefined();
  });

  it('a caller entry wins over a service-account entry (the caller is the incident)', () => {
    const { deny } = compilePolicy(policy({ callers: [{ issuer: GH }], serviceAccounts: [SA] }));
    expect(deny.check(gh('x'), SA)?.reason).toBe('CALLER_DENIED');
  });

  it('holds issued-token fingerprints as audit entries write them', () => {
    const leaked = tokenFingerprint('ya29.leaked');
    const { deny } = compilePolicy(policy({ tokenFingerprints: [leaked] }));
    expect(deny.hasTokenFingerprints).toBe(true);
    expect(deny.size).toBe(1);
    expect(deny.deniesToken(leaked)).toBe(true);
    expect(deny.deniesToken(tokenFingerprint('ya29.other'))).toBe(false);
  });

  it.each([
    [{ callers: [{ issuer: GH, subject: 'a', extra: 1 }] }, /deny\.callers\[0\]/],
    [{ callers: [{ subject: 'repo:x' }] }, /deny\.callers\[0\]\.issuer/],
    [{ callers: [{ client: 'bad id!' }] }, /deny\.callers\[0\]\.client: client ids are plain identifiers/],
    [{ serviceAccounts: ['Not An Email'] }, /deny\.serviceAccounts\[0\]: must be a lower-case email/],
    [
      { tokenFingerprints: ['ya29.raw-token-pasted-by-mistake'] },
      /deny\.tokenFingerprints\[0\]: must be "sha256:"/,
    ],
    [{ tokenFingerprints: [`sha256:${'A'.repeat(64)}`] }, /deny\.tokenFingerprints\[0\]/],
    [
      { callers: [{ issuer: GH, claims: { __proto__x: 'a', 'bad key': 'b' } }] },
      /deny\.callers\[0\]\.claims\.bad key/,
    ],
    [{ callers: [{ issuer: GH, subject: 'a***' }] }, /deny\.callers\[0\]\.subject/],
    [{ callers: [{ issuer: GH, claims: { repo: 'a***' } }] }, /deny\.callers\[0\]\.claims\.repo/],
    [{ unknown: [] }, /deny: Unrecognized key/],
  ])('refuses a bad deny section %j with a message naming the field', (deny, message) => {
    expect(() => compilePolicy(policy(deny))).toThrow(PolicyError);
    expect(() => compilePolicy(policy(deny))).toThrow(message);
  });

  it('never echoes a pasted token in the error (only the field and what is expected)', () => {
    try {
      compilePolicy(policy({ tokenFingerprints: ['ya29.secret-token-value'] }));
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain('ya29.secret-token-value');
    }
  });
});
