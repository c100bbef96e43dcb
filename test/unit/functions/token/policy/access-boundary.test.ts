import { describe, expect, it } from 'vitest';
import { compilePolicy, PolicyError } from '../../../../../functions/token/policy/compile-policy.js';
import {
  accessBoundarySchema,
  compileAccessBoundary,
} from '../../../../../functions/token/policy/access-boundary.js';
import { PermissionDeniedError } from '../../../../../shared/errors.js';

const SA = 'ci@p.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const GH = 'https://token.actions.githubusercontent.com';
const VIEWER = 'inRole:roles/storage.objectViewer';
const BUCKET = '//storage.googleapis.com/projects/_/buckets/ci-${claims.repository_owner}';
const PREFIX =
  "resource.name.startsWith('projects/_/buckets/ci-${claims.repository_owner}/objects/${claims.repository}/')";

function policy(rule: Record<string, unknown>): any {
  return {
    version: 1,
    serviceAccounts: { [SA]: {} },
    clients: {
      runner: {
        secretHash:
          'scrypt$N=16384,r=8,p=1$AQEBAQEBAQEBAQEBAQEBAQ$AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI',
      },
    },
    rules: [
      {
        name: 'ci',
        caller: { issuer: GH, subject: 'repo:*' },
        serviceAccounts: [SA],
        scopes: [CP],
        ...rule,
      },
    ],
  };
}

const compile = (boundary: unknown) => {
  const parsed = accessBoundarySchema.parse(boundary);
  return compileAccessBoundary(parsed);
};

function refusal(run: () => unknown): PermissionDeniedError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(PermissionDeniedError);
    return err as PermissionDeniedError;
  }
  throw new Error('expected a refusal');
}

describe('accessBoundary in the policy', () => {
  it('compiles a rule with a boundary and renders it with the caller’s claims', () => {
    const compiled = compilePolicy(
      policy({
        accessBoundary: [
          {
            availableResource: BUCKET,
            availablePermissions: [VIEWER],
            availabilityCondition: { expression: PREFIX, title: 'repo prefix' },
          },
        ],
      }),
    );
    const decision = compiled.authorize(
      {
        kind: 'id_token',
        issuer: GH,
        subject: 'repo:acme',
        claims: { repository_owner: 'acme', repository: 'acme/app' },
      },
      { kind: 'access_token', serviceAccount: SA, scopes: [CP], lifetimeSeconds: 3600 },
    );
    expect(decision.allowed).toBe(true);
    if (!decision.allowed) return;
    expect(decision.accessBoundary?.render({ repository_owner: 'acme', repository: 'acme/app' })).toEqual({
      accessBoundaryRules: [
        {
          availableResource: '//storage.googleapis.com/projects/_/buckets/ci-acme',
          availablePermissions: [VIEWER],
          availabilityCondition: {
            expression: "resource.name.startsWith('projects/_/buckets/ci-acme/objects/acme/app/')",
            title: 'repo prefix',
          },
        },
      ],
    });
  });

  it('gives ID-token decisions no boundary (it bounds access tokens only)', () => {
    const compiled = compilePolicy(
      policy({
        idTokenAudiences: ['https://x.example'],
        accessBoundary: [{ availableResource: BUCKET, availablePermissions: [VIEWER] }],
      }),
    );
    const decision = compiled.authorize(
      { kind: 'id_token', issuer: GH, subject: 'repo:a', claims: {} },
      { kind: 'id_token', serviceAccount: SA, audience: 'https://x.example' },
    );
    expect(decision).toMatchObject({ allowed: true });
    expect(decision).not.toHaveProperty('accessBoundary');
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    [
      'a boundary on a rule without scopes',
      {
        scopes: undefined,
        idTokenAudiences: ['https://x.example'],
        accessBoundary: [{ availableResource: BUCKET, availablePermissions: [VIEWER] }],
      },
      /accessBoundary: bounds access tokens only/,
    ],
    [
      'claims used by a client caller',
      {
        caller: { client: 'runner' },
        accessBoundary: [{ availableResource: BUCKET, availablePermissions: [VIEWER] }],
      },
      /OAuth client caller has no claims/,
    ],
    ['an empty list', { accessBoundary: [] }, /accessBoundary/],
    [
      'eleven rules',
      {
        accessBoundary: Array.from({ length: 11 }, () => ({
          availableResource: BUCKET,
          availablePermissions: [VIEWER],
        })),
      },
      /accessBoundary/,
    ],
    [
      'a permission not in inRole: form',
      { accessBoundary: [{ availableResource: BUCKET, availablePermissions: ['storage.objects.get'] }] },
      /inRole:roles\/ROLE/,
    ],
    [
      'no permissions',
      { accessBoundary: [{ availableResource: BUCKET, availablePermissions: [] }] },
      /availablePermissions/,
    ],
    [
      'a resource that is not a full resource name',
      { accessBoundary: [{ availableResource: 'projects/_/buckets/b', availablePermissions: [VIEWER] }] },
      /full resource name/,
    ],
    [
      'a placeholder in the service part',
      {
        accessBoundary: [
          { availableResource: '//${claims.svc}.googleapis.com/x', availablePermissions: [VIEWER] },
        ],
      },
      /full resource name/,
    ],
    [
      'a malformed placeholder',
      {
        accessBoundary: [
          { availableResource: '//storage.googleapis.com/b/${claim.x}', availablePermissions: [VIEWER] },
        ],
      },
      /must start a placeholder/,
    ],
    [
      'a placeholder with a reserved name',
      {
        accessBoundary: [
          {
            availableResource: '//storage.googleapis.com/b/${claims.__proto__}',
            availablePermissions: [VIEWER],
          },
        ],
      },
      /reserved name/,
    ],
    [
      'an unknown key',
      { accessBoundary: [{ availableResource: BUCKET, availablePermissions: [VIEWER], extra: 1 }] },
      /extra/,
    ],
    [
      'a placeholder outside a CEL string literal',
      {
        accessBoundary: [
          {
            availableResource: BUCKET,
            availablePermissions: [VIEWER],
            availabilityCondition: { expression: 'resource.name == ${claims.repository}' },
          },
        ],
      },
      /only inside a CEL string literal/,
    ],
    [
      'a placeholder inside a raw CEL string',
      {
        accessBoundary: [
          {
            availableResource: BUCKET,
            availablePermissions: [VIEWER],
            availabilityCondition: { expression: "resource.name == r'${claims.repository}'" },
          },
        ],
      },
      /not raw, not bytes/,
    ],
    [
      'a placeholder inside a CEL comment',
      {
        accessBoundary: [
          {
            availableResource: BUCKET,
            availablePermissions: [VIEWER],
            availabilityCondition: { expression: "true // ${claims.repository}\n && resource.name == 'x'" },
          },
        ],
      },
      /must be inside a quoted/,
    ],
    [
      'an unterminated CEL string',
      {
        accessBoundary: [
          {
            availableResource: BUCKET,
            availablePermissions: [VIEWER],
            availabilityCondition: { expression: "resource.name == 'x" },
          },
        ],
      },
      /unterminated string literal/,
    ],
    [
      'a condition over 2048 characters',
      {
        accessBoundary: [
          {
            availableResource: BUCKET,
            availablePermissions: [VIEWER],
            availabilityCondition: { expression: `'${'a'.repeat(2048)}' == 'b'` },
          },
        ],
      },
      /expression/,
    ],
    [
      'a placeholder in a title',
      {
        accessBoundary: [
          {
            availableResource: BUCKET,
            availablePermissions: [VIEWER],
            availabilityCondition: { expression: 'true', title: '${claims.repository}' },
          },
        ],
      },
      /title takes no placeholders/,
    ],
  ])('refuses %s', (_name, rule, message) => {
    expect(() => compilePolicy(policy(rule))).toThrow(PolicyError);
    expect(() => compilePolicy(policy(rule))).toThrow(message);
  });

  it('accepts a client caller with a boundary that uses no claims', () => {
    expect(() =>
      compilePolicy(
        policy({
          caller: { client: 'runner' },
          accessBoundary: [
            {
              availableResource: '//storage.googleapis.com/projects/_/buckets/b',
              availablePermissions: [VIEWER],
            },
          ],
        }),
      ),
    ).not.toThrow();
  });
});

describe('rendering with claims', () => {
  const boundary = compile([
    {
      availableResource: BUCKET,
      availablePermissions: [VIEWER],
      availabilityCondition: { expression: PREFIX },
    },
  ]);

  it('reads JSON-pointer placeholders', () => {
    const b = compile([
      {
        availableResource:
          '//storage.googleapis.com/projects/_/buckets/ns-${claims./kubernetes.io/namespace}',
        availablePermissions: [VIEWER],
      },
    ]);
    expect(
      b.render({ 'kubernetes.io': { namespace: 'team-a' } }).accessBoundaryRules[0].availableResource,
    ).toBe('//storage.googleapis.com/projects/_/buckets/ns-team-a');
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a missing claim', { repository: 'a/b' }, 'ACCESS_BOUNDARY_CLAIM_MISSING'],
    ['a number claim', { repository_owner: 12, repository: 'a/b' }, 'ACCESS_BOUNDARY_CLAIM_INVALID'],
    ['a boolean claim', { repository_owner: true, repository: 'a/b' }, 'ACCESS_BOUNDARY_CLAIM_INVALID'],
    ['a list claim', { repository_owner: ['a'], repository: 'a/b' }, 'ACCESS_BOUNDARY_CLAIM_INVALID'],
    ['an empty claim', { repository_owner: '', repository: 'a/b' }, 'ACCESS_BOUNDARY_CLAIM_INVALID'],
    [
      'a slash in a resource claim',
      { repository_owner: 'a/../b', repository: 'a/b' },
      'ACCESS_BOUNDARY_CLAIM_INVALID',
    ],
    [
      'a wildcard in a resource claim',
      { repository_owner: '*', repository: 'a/b' },
      'ACCESS_BOUNDARY_CLAIM_INVALID',
    ],
    [
      '".." as a resource claim',
      { repository_owner: '..', repository: 'a/b' },
      'ACCESS_BOUNDARY_CLAIM_INVALID',
    ],
    [
      'a quote in a resource claim',
      { repository_owner: "a'", repository: 'a/b' },
      'ACCESS_BOUNDARY_CLAIM_INVALID',
    ],
    [
      'an overlong claim',
      { repository_owner: 'a', repository: 'x'.repeat(201) },
      'ACCESS_BOUNDARY_CLAIM_INVALID',
    ],
    ['a lone surrogate', { repository_owner: 'a', repository: 'x\ud800' }, 'ACCESS_BOUNDARY_CLAIM_INVALID'],
  ])('refuses %s with 403 and a reason, never echoing the value', (_name, claims, reason) => {
    const err = refusal(() => boundary.render(claims));
    expect(err.reason).toBe(reason);
    for (const value of Object.values(claims)) {
      if (typeof value !== 'string' || value.length < 2) continue;
      expect(err.message).not.toContain(value);
      expect(err.detail ?? '').not.toContain(value);
    }
  });

  it('does not read claims through prototypes or arrays', () => {
    expect(refusal(() => boundary.render({ repository: 'a/b', toString: undefined })).reason).toBe(
      'ACCESS_BOUNDARY_CLAIM_MISSING',
    );
  });

  it('escapes a CEL-breaking claim value inside its string literal', () => {
    const rendered = boundary.render({ repository_owner: 'acme', repository: "x/') || true || ('" });
    expect(rendered.accessBoundaryRules[0].availabilityCondition?.expression).toBe(
      "resource.name.startsWith('projects/_/buckets/ci-acme/objects/x/\\') || true || (\\'/')",
    );
  });

  it('never interpolates a second time: a value holding a placeholder stays text', () => {
    const rendered = boundary.render({ repository_owner: 'acme', repository: '${claims.repository_owner}' });
    expect(rendered.accessBoundaryRules[0].availabilityCondition?.expression).toContain(
      '/objects/${claims.repository_owner}/',
    );
  });

  it('refuses a rendered condition over the 2048-character limit', () => {
    const long = compile([
      {
        availableResource: BUCKET,
        availablePermissions: [VIEWER],
        availabilityCondition: { expression: `'${'a'.repeat(1900)}' == '\${claims.repository}'` },
      },
    ]);
    expect(refusal(() => long.render({ repository_owner: 'a', repository: '\n'.repeat(100) })).reason).toBe(
      'ACCESS_BOUNDARY_CLAIM_INVALID',
    );
  });
});
