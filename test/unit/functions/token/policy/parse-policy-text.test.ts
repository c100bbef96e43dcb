import { describe, expect, it } from 'vitest';
import {
  compilePolicy,
  PolicyError,
  type PolicyCaller,
} from '../../../../../functions/token/policy/compile-policy.js';
import { parsePolicyText } from '../../../../../functions/token/policy/parse-policy-text.js';
import { parsePolicyTextSync } from '../../../../../functions/token/policy/parse-policy-yaml.js';

const SA = 'deployer@p.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const HASH = 'scrypt$N=16384,r=8,p=1$AQEBAQEBAQEBAQEBAQEBAQ$AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI';
const SOURCE = 'file policy.yaml';

const JSON_POLICY = {
  version: 1,
  serviceAccounts: { [SA]: {} },
  clients: { batch: { secretHash: HASH } },
  rules: [
    {
      name: 'gitlab-main',
      caller: {
        issuer: 'https://gitlab.example.com',
        subject: 'project_path:my-group/**:ref_type:branch:ref:main',
        claims: {
          project_path: 'my-group/**',
          ref_protected: 'true',
          '/kubernetes.io/namespace': 'ci',
          email_verified: true,
          environment: ['production', 'staging'],
        },
      },
      serviceAccounts: [SA],
      scopes: [CP],
      maxLifetimeSeconds: 600,
    },
  ],
};

const YAML_POLICY = `# the same policy, in YAML
version: 1
serviceAccounts:
  ${SA}: {}
clients:
  batch:
    secretHash: "${HASH}"
rules:
  - name: gitlab-main
    caller:
      issuer: https://gitlab.example.com
      subject: project_path:my-group/**:ref_type:branch:ref:main
      claims:
        project_path: my-group/**
        ref_protected: "true"
        /kubernetes.io/namespace: ci
        email_verified: true
        environment: [production, staging]
    serviceAccounts: [${SA}]
    scopes:
      - ${CP}
    maxLifetimeSeconds: 600
`;

const refusal = (text: string) => {
  try {
    const value = parsePolicyTextSync(text, SOURCE);
    compilePolicy(value);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
};

describe('parsePolicyText', () => {
  it('the async parser (which loads the YAML library only for YAML) answers and refuses exactly as the sync one', async () => {
    for (const text of [YAML_POLICY, JSON.stringify(JSON_POLICY), '  \n{"version": 1}'])
      expect(await parsePolicyText(text, SOURCE)).toEqual(parsePolicyTextSync(text, SOURCE));
    for (const broken of ['{"version":', 'a: 1\na: 2\n', 'a: !!binary aGk=\n']) {
      const sync = (() => {
        try {
          parsePolicyTextSync(broken, SOURCE);
        } catch (err) {
          return err;
        }
        throw new Error('expected a refusal');
      })();
      expect(sync).toBeInstanceOf(PolicyError);
      await expect(parsePolicyText(broken, SOURCE)).rejects.toThrow((sync as Error).message);
    }
  });

  it('reads a YAML policy as exactly its JSON equivalent', () => {
    expect(parsePolicyTextSync(YAML_POLICY, SOURCE)).toEqual(JSON_POLICY);
    expect(parsePolicyTextSync(JSON.stringify(JSON_POLICY, null, 2), SOURCE)).toEqual(JSON_POLICY);
  });

  it('compiles both to the same decisions', () => {
    const fromYaml = compilePolicy(parsePolicyTextSync(YAML_POLICY, SOURCE));
    const fromJson = compilePolicy(parsePolicyTextSync(`  \n${JSON.stringify(JSON_POLICY)}`, SOURCE));
    const caller = (ns: string): PolicyCaller => ({
      kind: 'id_token',
      issuer: 'https://gitlab.example.com',
      subject: 'project_path:my-group/sub/app:ref_type:branch:ref:main',
      claims: {
        project_path: 'my-group/sub/app',
        ref_protected: 'true',
        'kubernetes.io': { namespace: ns },
        email_verified: true,
        environment: 'staging',
      },
    });
    const request = { kind: 'access_token' as const, serviceAccount: SA, scopes: [CP], lifetimeSeconds: 600 };
    for (const ns of ['ci', 'prod']) {
      expect(fromYaml.authorize(caller(ns), request)).toEqual(fromJson.authorize(caller(ns), request));
    }
    expect(fromYaml.authorize(caller('ci'), request).allowed).toBe(true);
    expect(fromYaml.clientSecretHash('batch')).toEqual(fromJson.clientSecretHash('batch'));
  });

  it('reads text starting with "{" as JSON, and names the position (never the text) when it is broken', () => {
    expect(() => parsePolicyTextSync(`{"version": 1, "x": "${HASH}",`, SOURCE)).toThrow(
      /^Invalid policy from file policy\.yaml: not valid JSON \(at position \d+\)$/,
    );
  });

  it('reads YAML 1.1 booleans as strings (YAML 1.2 core): "yes" is not true', () => {
    const value = parsePolicyTextSync('a: yes\nb: no\nc: on\nd: off\ne: true\nf: y\n', SOURCE);
    expect(value).toEqual({ a: 'yes', b: 'no', c: 'on', d: 'off', e: true, f: 'y' });
    // So a rule written with `email_verified: yes` wants the string "yes": it fails closed.
    const policy = compilePolicy(
      parsePolicyTextSync(YAML_POLICY.replace('email_verified: true', 'email_verified: yes'), SOURCE),
    );
    const caller: PolicyCaller = {
      kind: 'id_token',
      issuer: 'https://gitlab.example.com',
      subject: 'project_path:my-group/app:ref_type:branch:ref:main',
      claims: {
        project_path: 'my-group/app',
        ref_protected: 'true',
        'kubernetes.io': { namespace: 'ci' },
        email_verified: true,
        environment: 'production',
      },
    };
    expect(
      policy.authorize(caller, {
        kind: 'access_token',
        serviceAccount: SA,
        scopes: [CP],
        lifetimeSeconds: 600,
      }),
    ).toMatchObject({ allowed: false, differed: { field: 'claims.email_verified' } });
  });

  it.each([
    ['a duplicate key', 'version: 1\nrules: []\nversion: 1\n', 'line 3, column 1: duplicate key'],
    ['a custom tag', 'version: !policy 1\n', 'tags other than the YAML 1.2 core schema are not accepted'],
    ['a YAML 1.1 !!binary tag', 'version: !!binary aGVsbG8=\n', 'tags other than the YAML 1.2 core schema'],
    ['a YAML 1.1 !!set tag', 'version: !!set {a: null}\n', 'tags other than the YAML 1.2 core schema'],
    ['a YAML 1.1 !!timestamp tag', 'version: !!timestamp 2001-12-14\n', 'tags other than the YAML 1.2 core'],
    ['two documents', 'version: 1\n---\nversion: 2\n', 'more than one document'],
    ['a collection as a key', '? [a, b]\n: 1\n', 'line 1'],
    [
      'an unterminated quote',
      `version: 1\nclients:\n  a:\n    secretHash: "${HASH}\n`,
      'line 5, column 1: unterminated quote',
    ],
    [
      'bad indentation',
      'version: 1\n  rules: []\n',
      'line 1, column 10: a nested mapping where a value was expected (check the indentation)',
    ],
  ])('refuses %s, naming the line', (_name, text, message) => {
    const refused = refusal(text);
    expect(refused).toMatch(/^Invalid policy from file policy\.yaml: not valid YAML \(/);
    expect(refused).toContain(message);
    expect(refused).not.toContain(HASH.slice(30));
  });

  it('reads text whose first non-space character is "{" as JSON, and gives the whole position', () => {
    // Leading blank lines, and an error past position 9: the position is quoted in full.
    expect(() => parsePolicyTextSync(`\n  {"version": 1, "rules": [1, 2, 3],`, SOURCE)).toThrow(
      /^Invalid policy from file policy\.yaml: not valid JSON \(at position \d{2,}\)$/,
    );
  });

  it('says only "not valid JSON" when the parser names no position', () => {
    expect(() => parsePolicyTextSync('{"version":', SOURCE)).toThrow(
      /^Invalid policy from file policy\.yaml: not valid JSON$/,
    );
  });

  it('reads YAML strictly: an implicit key over 1024 characters is an error, with its line and column', () => {
    expect(() => parsePolicyTextSync(`version: 1\n${'k'.repeat(1100)}: x\n`, SOURCE)).toThrow(
      'Invalid policy from file policy.yaml: not valid YAML (line 2, column 1: KEY_OVER_1024_CHARS)',
    );
  });

  it('counts aliases against its own limit (50), not the library default (100), keeping the cause', () => {
    const text = `a: &a x\nb: [${Array.from({ length: 60 }, () => '*a').join(', ')}]\n`;
    let refused: unknown;
    try {
      parsePolicyTextSync(text, SOURCE);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(PolicyError);
    expect((refused as Error).message).toBe(
      'Invalid policy from file policy.yaml: not valid YAML (too many aliases: at most 50 expansions)',
    );
    expect((refused as Error).cause).toBeInstanceOf(Error);
    // Forty uses are fine.
    expect(
      parsePolicyTextSync(`a: &a x\nb: [${Array.from({ length: 40 }, () => '*a').join(', ')}]\n`, SOURCE),
    ).toEqual({
      a: 'x',
      b: Array.from({ length: 40 }, () => 'x'),
    });
  });

  it('refuses an alias bomb (billion laughs) without expanding it', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]',
      'f: [*e, *e, *e, *e, *e, *e, *e, *e, *e]',
    ].join('\n');
    // The refusal comes before the expansion (9^5 nodes): the exact message proves which limit hit.
    expect(() => parsePolicyTextSync(bomb, SOURCE)).toThrow(
      'Invalid policy from file policy.yaml: not valid YAML (too many aliases: at most 50 expansions)',
    );
  });

  it('accepts a few aliases (a list of service accounts shared by two rules)', () => {
    const text = `version: 1
serviceAccounts:
  ${SA}: {}
rules:
  - name: one
    caller: {issuer: https://i.example.com, subject: a}
    serviceAccounts: &accounts [${SA}]
    scopes: &scopes [${CP}]
  - name: two
    caller: {issuer: https://i.example.com, subject: b}
    serviceAccounts: *accounts
    scopes: *scopes
`;
    expect(compilePolicy(parsePolicyTextSync(text, SOURCE)).ruleCount).toBe(2);
  });

  it('leaves merge keys ("<<") literal, so the strict schema refuses them', () => {
    const text = `version: 1
serviceAccounts: {}
rules:
  - &base {name: one, caller: {issuer: https://i.example.com, subject: a}, serviceAccounts: [x@p.iam.gserviceaccount.com], scopes: [${CP}]}
  - <<: *base
    name: two
`;
    expect(refusal(text)).toMatch(/rules\[1\].*"<<"|rules\[1\].*<</s);
  });

  it('still refuses __proto__, constructor and prototype keys in YAML', () => {
    const text = `version: 1
serviceAccounts: {}
rules:
  - name: one
    caller:
      issuer: https://i.example.com
      subject: a
      claims:
        __proto__: only-this
    serviceAccounts: [x@p.iam.gserviceaccount.com]
    scopes: [${CP}]
`;
    expect(refusal(text)).toMatch(/rules\[0\] \(name=one\)\.caller\.claims\.__proto__: is a reserved name/);
    expect(refusal('version: 1\nconstructor: {}\n')).toContain('constructor: is a reserved name');
  });

  it('gives a YAML scalar or empty text to the schema, which refuses it', () => {
    expect(refusal('just text')).toContain('(policy): Invalid input: expected object, received string');
    expect(refusal('')).toContain('(policy): Invalid input: expected object, received null');
  });
});
