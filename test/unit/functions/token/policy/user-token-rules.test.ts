import { describe, expect, it } from 'vitest';
import {
  compilePolicy,
  PolicyError,
  type PolicyCaller,
} from '../../../../../functions/token/policy/compile-policy.js';

const GOOGLE = 'https://accounts.google.com';
const DRIVE = 'https://www.googleapis.com/auth/drive.readonly';
const SHEETS = 'https://www.googleapis.com/auth/spreadsheets.readonly';
const ADA = '110248495921238986420';
const GRACE = '117350918440571250137';

const who = (email: string): PolicyCaller => ({
  kind: 'id_token',
  issuer: GOOGLE,
  subject: `sub-of-${email}`,
  email,
  emailVerified: true,
  claims: {},
});
const WORKLOAD = who('workload@p.iam.gserviceaccount.com');
const OTHER = who('other@p.iam.gserviceaccount.com');
const CONSENT = who('consent@p.iam.gserviceaccount.com');

function policy(extra: Record<string, unknown> = {}) {
  return compilePolicy({
    version: 1,
    serviceAccounts: {},
    rules: [],
    userTokenRules: [
      {
        name: 'by-sub',
        caller: { issuer: GOOGLE, email: 'workload@p.iam.gserviceaccount.com' },
        users: [`sub:${GRACE}`],
        scopes: [SHEETS],
      },
      {
        name: 'by-email',
        caller: { issuer: GOOGLE, email: 'workload@p.iam.gserviceaccount.com' },
        users: ['*@example.com'],
        scopes: ['https://www.googleapis.com/auth/drive.*'],
        limits: { requestsPerMinute: 7, perUser: { mintsPerMinute: 2 } },
      },
    ],
    userGrantAdmins: [
      { name: 'consent', caller: { issuer: GOOGLE, email: 'consent@p.iam.gserviceaccount.com' } },
      {
        name: 'helpdesk',
        caller: { issuer: GOOGLE, email: 'other@p.iam.gserviceaccount.com' },
        users: ['*@example.com'],
      },
    ],
    ...extra,
  });
}

describe('user token rules', () => {
  const users = policy().users!;
  it.each([
    ['a sub rule, its scope', WORKLOAD, GRACE, [SHEETS], undefined, { allowed: true, rule: 'by-sub' }],
    [
      'an email rule before the email is known',
      WORKLOAD,
      ADA,
      [DRIVE],
      undefined,
      { allowed: false, needsEmail: true },
    ],
    [
      'an email rule with a matching email',
      WORKLOAD,
      ADA,
      [DRIVE],
      'ada@example.com',
      { allowed: true, rule: 'by-email' },
    ],
    [
      'an email rule, the email upper-cased',
      WORKLOAD,
      ADA,
      [DRIVE],
      'Ada@Example.com',
      { allowed: true, rule: 'by-email' },
    ],
    [
      'an email rule with another domain',
      WORKLOAD,
      ADA,
      [DRIVE],
      'ada@example.org',
      { allowed: false, needsEmail: false },
    ],
    [
      'a look-alike domain',
      WORKLOAD,
      ADA,
      [DRIVE],
      'ada@example.com.evil.test',
      { allowed: false, needsEmail: false },
    ],
    [
      'a scope beyond every rule',
      WORKLOAD,
      GRACE,
      [SHEETS, 'https://mail.google.com/'],
      undefined,
      { allowed: false, needsEmail: false },
    ],
    [
      'a sub the sub rule does not name (no email rule covers the scope)',
      WORKLOAD,
      ADA,
      [SHEETS],
      undefined,
      { allowed: false, needsEmail: false },
    ],
    ['a caller no rule names', OTHER, GRACE, [SHEETS], undefined, { allowed: false, needsEmail: false }],
    [
      'a caller no rule names, even with an email',
      OTHER,
      ADA,
      [DRIVE],
      'ada@example.com',
      { allowed: false, needsEmail: false },
    ],
  ])('%s', (_name, caller, sub, scopes, email, expected) => {
    expect(users.authorizeToken(caller, sub, scopes, email)).toMatchObject(expected);
  });

  it('resolves per-caller quotas over the defaults and per-user quotas', () => {
    const decision = users.authorizeToken(WORKLOAD, ADA, [DRIVE], 'ada@example.com');
    expect(decision).toMatchObject({
      allowed: true,
      limits: { requestsPerMinute: 7, requestBurst: 7, mintsPerMinute: 60 },
      userLimits: { requestsPerMinute: 600, mintsPerMinute: 2 },
    });
  });
});

describe('user grant admins', () => {
  const users = policy().users!;
  it.each([
    ['an admin for everyone', CONSENT, ADA, undefined, { allowed: true, rule: 'consent' }],
    [
      'a narrowed admin before the email is known',
      OTHER,
      ADA,
      undefined,
      { allowed: false, needsEmail: true },
    ],
    [
      'a narrowed admin, a user it covers',
      OTHER,
      ADA,
      'ada@example.com',
      { allowed: true, rule: 'helpdesk' },
    ],
    ['a narrowed admin, a user it does not cover', OTHER, ADA, 'ada@example.org', { allowed: false }],
    ['a workload', WORKLOAD, ADA, 'ada@example.com', { allowed: false, needsEmail: false }],
  ])('%s', (_name, caller, sub, email, expected) => {
    expect(users.authorizeAdmin(caller, sub, email)).toMatchObject(expected);
  });
});

describe('parsing and compiling the user sections', () => {
  it('defaults both sections to empty', () => {
    const p = compilePolicy({ version: 1, serviceAccounts: {}, rules: [] });
    expect(p.users!.ruleCount).toBe(0);
    expect(p.users!.authorizeToken(WORKLOAD, ADA, [DRIVE], 'ada@example.com')).toMatchObject({
      allowed: false,
    });
  });

  const base = {
    name: 'r',
    caller: { issuer: GOOGLE, email: 'w@p.iam.gserviceaccount.com' },
    users: ['sub:1'],
    scopes: [DRIVE],
  };
  it.each([
    ['an unknown key', { ...base, serviceAccounts: [] }, /Unknown|unrecognized/i],
    ['an upper-case email pattern', { ...base, users: ['Ada@example.com'] }, /users\[0\]/],
    ['a sub that is not digits', { ...base, users: ['sub:abc'] }, /users\[0\]/],
    ['a path in a user', { ...base, users: ['sub:1/../2'] }, /users\[0\]/],
    ['no users', { ...base, users: [] }, /users/],
    ['no scopes', { ...base, scopes: [] }, /scopes/],
    ['a non-https scope', { ...base, scopes: ['drive'] }, /scopes\[0\]/],
    ['an unknown client', { ...base, caller: { client: 'nobody' } }, /not listed under "clients"/],
    ['an unknown per-user limit', { ...base, limits: { perUser: { burst: 3 } } }, /perUser|Unrecognized/i],
  ])('refuses %s', (_name, rule, message) => {
    const compile = () =>
      compilePolicy({ version: 1, serviceAccounts: {}, rules: [], userTokenRules: [rule] });
    expect(compile).toThrow(PolicyError);
    expect(compile).toThrow(message);
  });

  it('refuses duplicate rule names within a section', () => {
    expect(() =>
      compilePolicy({ version: 1, serviceAccounts: {}, rules: [], userTokenRules: [base, base] }),
    ).toThrow(/userTokenRules\[name=r\]: duplicate rule name/);
  });
});
