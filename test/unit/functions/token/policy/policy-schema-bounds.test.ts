/**
 * Each limit of the policy schema, just inside and just outside: a policy one character too
 * permissive is a rule that matches more callers than its author wrote.
 */
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../../../functions/token/policy/compile-policy.js';

const SA = 'gemini@p.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const CLIENT_HASH =
  'scrypt$N=16384,r=8,p=1$AQEBAQEBAQEBAQEBAQEBAQ$AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI';

function basePolicy(): any {
  return {
    version: 1,
    serviceAccounts: { [SA]: {} },
    clients: { 'ci-runner': { secretHash: CLIENT_HASH } },
    rules: [
      {
        name: 'gh',
        caller: {
          issuer: 'https://token.actions.githubusercontent.com',
          subject: 'repo:org/*',
          claims: { repository_owner: 'org' },
        },
        serviceAccounts: [SA],
        scopes: [CP],
      },
      {
        name: 'client',
        caller: { client: 'ci-runner' },
        serviceAccounts: [SA],
        idTokenAudiences: ['https://api.example.com'],
      },
    ],
  };
}

const compiles = (edit: (p: any) => void): boolean => {
  const p = basePolicy();
  edit(p);
  try {
    compilePolicy(p);
    return true;
  } catch {
    return false;
  }
};

describe('policy schema limits', () => {
  it.each<[string, (p: any) => void, (p: any) => void]>([
    [
      'rule name length 63 / 64',
      (p) => {
        p.rules[0].name = `a${'b'.repeat(62)}`;
      },
      (p) => {
        p.rules[0].name = `a${'b'.repeat(63)}`;
      },
    ],
    [
      'rule name starts with a letter or digit, not a dash',
      (p) => {
        p.rules[0].name = '0-a';
      },
      (p) => {
        p.rules[0].name = '-a';
      },
    ],
    [
      'rule name lower-case only',
      (p) => {
        p.rules[0].name = 'a-b';
      },
      (p) => {
        p.rules[0].name = 'a-B';
      },
    ],
    [
      'rule description 500 / 501',
      (p) => {
        p.rules[0].description = 'x'.repeat(500);
      },
      (p) => {
        p.rules[0].description = 'x'.repeat(501);
      },
    ],
    [
      'client description 200 / 201',
      (p) => {
        p.clients['ci-runner'].description = 'x'.repeat(200);
      },
      (p) => {
        p.clients['ci-runner'].description = 'x'.repeat(201);
      },
    ],
    [
      'pattern length 512 / 513',
      (p) => {
        p.rules[0].caller.subject = 'x'.repeat(512);
      },
      (p) => {
        p.rules[0].caller.subject = 'x'.repeat(513);
      },
    ],
    [
      'pattern without / with whitespace',
      (p) => {
        p.rules[0].caller.subject = 'repo:a';
      },
      (p) => {
        p.rules[0].caller.subject = 'repo: a';
      },
    ],
    [
      'pattern without / with a control character',
      (p) => {
        p.rules[0].caller.claims = { ref: 'a~' };
      },
      (p) => {
        p.rules[0].caller.claims = { ref: 'a\u007f' };
      },
    ],
    [
      'pattern without / with a NUL',
      (p) => {
        p.rules[1].idTokenAudiences = ['https://a'];
      },
      (p) => {
        p.rules[1].idTokenAudiences = ['https://a\u0000'];
      },
    ],
    [
      'pattern non-empty',
      (p) => {
        p.rules[0].caller.subject = '*';
      },
      (p) => {
        p.rules[0].caller.subject = '';
      },
    ],
    [
      'claim name 100 / 101 characters',
      (p) => {
        p.rules[0].caller.claims = { ['c'.repeat(100)]: 'x' };
      },
      (p) => {
        p.rules[0].caller.claims = { ['c'.repeat(101)]: 'x' };
      },
    ],
    [
      'claim name plain identifier',
      (p) => {
        p.rules[0].caller.claims = { 'a_b.c:d-e': 'x' };
      },
      (p) => {
        p.rules[0].caller.claims = { 'a/b': 'x' };
      },
    ],
    [
      'client id 100 / 101 characters',
      (p) => {
        p.clients = { ['c'.repeat(100)]: { secretHash: CLIENT_HASH } };
        p.rules[1].caller.client = 'c'.repeat(100);
      },
      (p) => {
        p.clients = { ['c'.repeat(101)]: { secretHash: CLIENT_HASH } };
        p.rules[1].caller.client = 'c'.repeat(101);
      },
    ],
    [
      'client id plain identifier',
      (p) => {
        p.clients = { 'A_b.c-1': { secretHash: CLIENT_HASH } };
        p.rules[1].caller.client = 'A_b.c-1';
      },
      (p) => {
        p.clients = { 'a:b': { secretHash: CLIENT_HASH } };
        p.rules[1].caller.client = 'a:b';
      },
    ],
    [
      'rule client id plain identifier',
      (p) => {
        p.rules[1].caller.client = 'ci-runner';
      },
      (p) => {
        p.rules[1].caller.client = 'ci runner';
      },
    ],
    [
      'maxLifetimeSeconds 1 / 0',
      (p) => {
        p.rules[0].maxLifetimeSeconds = 1;
      },
      (p) => {
        p.rules[0].maxLifetimeSeconds = 0;
      },
    ],
    [
      'maxLifetimeSeconds 3600 / 3601',
      (p) => {
        p.rules[0].maxLifetimeSeconds = 3600;
      },
      (p) => {
        p.rules[0].maxLifetimeSeconds = 3601;
      },
    ],
    [
      'maxLifetimeSeconds an integer',
      (p) => {
        p.rules[0].maxLifetimeSeconds = 60;
      },
      (p) => {
        p.rules[0].maxLifetimeSeconds = 60.5;
      },
    ],
    [
      'scope https, not http',
      (p) => {
        p.rules[0].scopes = ['https://x'];
      },
      (p) => {
        p.rules[0].scopes = ['http://x'];
      },
    ],
    [
      'scope URL anchored at the start',
      (p) => {
        p.rules[0].scopes = ['https://x'];
      },
      (p) => {
        p.rules[0].scopes = ['xhttps://x'];
      },
    ],
    [
      'scope with a host',
      (p) => {
        p.rules[0].scopes = ['https://x'];
      },
      (p) => {
        p.rules[0].scopes = ['https://'];
      },
    ],
    [
      'service account a lower-case email',
      (p) => {
        p.serviceAccounts = { 'a.b_c%d+e-f@p-1.iam.gserviceaccount.com': {} };
        p.rules.forEach((r: any) => {
          r.serviceAccounts = ['*@p-1.iam.gserviceaccount.com'];
        });
      },
      (p) => {
        p.serviceAccounts = { 'Gemini@p.iam.gserviceaccount.com': {} };
        p.rules.forEach((r: any) => {
          r.serviceAccounts = ['*@*'];
        });
      },
    ],
    [
      'service account email anchored at both ends',
      (p) => {
        p.serviceAccounts = { 'a@p.io': {} };
        p.rules.forEach((r: any) => {
          r.serviceAccounts = ['a@p.io'];
        });
      },
      (p) => {
        p.serviceAccounts = { 'a@p.io ': {} };
        p.rules.forEach((r: any) => {
          r.serviceAccounts = ['*@*'];
        });
      },
    ],
    [
      'service account email has a dotted domain',
      (p) => {
        p.serviceAccounts = { 'a@p.io': {} };
        p.rules.forEach((r: any) => {
          r.serviceAccounts = ['a@p.io'];
        });
      },
      (p) => {
        p.serviceAccounts = { 'a@pio': {} };
        p.rules.forEach((r: any) => {
          r.serviceAccounts = ['*@*'];
        });
      },
    ],
    [
      'service account email TLD of two letters or more',
      (p) => {
        p.serviceAccounts = { 'a@p.io': {} };
        p.rules.forEach((r: any) => {
          r.serviceAccounts = ['a@p.io'];
        });
      },
      (p) => {
        p.serviceAccounts = { 'a@p.i': {} };
        p.rules.forEach((r: any) => {
          r.serviceAccounts = ['*@*'];
        });
      },
    ],
    [
      'rule service-account pattern lower-case',
      (p) => {
        p.rules[0].serviceAccounts = ['*@p.iam.gserviceaccount.com'];
      },
      (p) => {
        p.rules[0].serviceAccounts = ['*@P.iam.gserviceaccount.com'];
      },
    ],
    [
      'rule service-account pattern anchored',
      (p) => {
        p.rules[0].serviceAccounts = [SA];
      },
      (p) => {
        p.rules[0].serviceAccounts = [`${SA}/x`];
      },
    ],
    [
      'rule lists at least one service account',
      (p) => {
        p.rules[0].serviceAccounts = [SA];
      },
      (p) => {
        p.rules[0].serviceAccounts = [];
      },
    ],
    [
      'caller credentials at least one',
      (p) => {
        p.rules[0].caller.credentials = ['id_token'];
      },
      (p) => {
        p.rules[0].caller.credentials = [];
      },
    ],
    [
      'caller credentials from the two kinds',
      (p) => {
        p.rules[0].caller.credentials = ['access_token'];
      },
      (p) => {
        p.rules[0].caller.credentials = ['refresh_token'];
      },
    ],
    [
      'caller issuer non-empty',
      (p) => {
        p.rules[0].caller.issuer = 'x';
      },
      (p) => {
        p.rules[0].caller.issuer = '';
      },
    ],
    [
      'key secret a version path',
      (p) => {
        p.serviceAccounts[SA] = { backend: 'key', keySecret: 'projects/p/secrets/s/versions/current' };
      },
      (p) => {
        p.serviceAccounts[SA] = { backend: 'key', keySecret: 'projects/p/secrets/s' };
      },
    ],
    [
      'key secret anchored',
      (p) => {
        p.serviceAccounts[SA] = { backend: 'key', keySecret: 'projects/p/secrets/s/versions/1' };
      },
      (p) => {
        p.serviceAccounts[SA] = { backend: 'key', keySecret: 'x/projects/p/secrets/s/versions/1' };
      },
    ],
    [
      'key secret without extra segments',
      (p) => {
        p.serviceAccounts[SA] = { backend: 'key', keySecret: 'projects/p/secrets/s/versions/1' };
      },
      (p) => {
        p.serviceAccounts[SA] = { backend: 'key', keySecret: 'projects/p/secrets/s/versions/1/x' };
      },
    ],
    [
      'keyless entry takes no key secret',
      (p) => {
        p.serviceAccounts[SA] = { backend: 'keyless' };
      },
      (p) => {
        p.serviceAccounts[SA] = { backend: 'keyless', keySecret: 'projects/p/secrets/s/versions/1' };
      },
    ],
    [
      'rule backend from the three',
      (p) => {
        p.rules[0].backend = 'any';
      },
      (p) => {
        p.rules[0].backend = 'both';
      },
    ],
    [
      'at most 1000 rules',
      (p) => {
        p.rules = Array.from({ length: 1000 }, (_, i) => ({ ...p.rules[0], name: `r${i}` }));
      },
      (p) => {
        p.rules = Array.from({ length: 1001 }, (_, i) => ({ ...p.rules[0], name: `r${i}` }));
      },
    ],
  ])('%s', (_name, inside, outside) => {
    expect(compiles(inside)).toBe(true);
    expect(compiles(outside)).toBe(false);
  });

  it('refuses a client with the legacy unsalted hash, saying how to replace it', () => {
    const p = basePolicy();
    p.clients['ci-runner'] = { secretSha256: 'ab'.repeat(32) };
    expect(() => compilePolicy(p)).toThrow(
      'clients.ci-runner.secretSha256: an unsalted SHA-256 hash is no longer accepted: generate a new secret and its hash with `npm run -s hash-client-secret -- --generate`, give the client the secret, and put the hash under "secretHash"',
    );
  });

  it('refuses a client without a hash, saying how to make one', () => {
    const p = basePolicy();
    p.clients['ci-runner'] = { description: 'runner' };
    expect(() => compilePolicy(p)).toThrow(
      'clients.ci-runner.secretHash: is required (generate a new secret and its hash with',
    );
  });

  it('defaults clients to none', () => {
    const p = basePolicy();
    delete p.clients;
    p.rules = [p.rules[0]];
    expect(compilePolicy(p).clientSecretHash('ci-runner')).toBeUndefined();
  });

  it('defaults maxLifetimeSeconds to 3600', () => {
    const policy = compilePolicy(basePolicy());
    const caller = {
      kind: 'id_token' as const,
      issuer: 'https://token.actions.githubusercontent.com',
      subject: 'repo:org/a',
      claims: { repository_owner: 'org' },
    };
    expect(
      policy.authorize(caller, {
        kind: 'access_token',
        serviceAccount: SA,
        scopes: [CP],
        lifetimeSeconds: 3600,
      }).allowed,
    ).toBe(true);
    expect(
      policy.authorize(caller, {
        kind: 'access_token',
        serviceAccount: SA,
        scopes: [CP],
        lifetimeSeconds: 3601,
      }),
    ).toMatchObject({ allowed: false, reason: 'LIFETIME_EXCEEDS_POLICY' });
  });
});
