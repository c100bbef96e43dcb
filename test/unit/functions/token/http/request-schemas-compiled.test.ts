/**
 * The compiled body checks of the IAM routes answer exactly what the zod schemas answer: the same
 * data for every body a schema accepts, and `undefined` (so the schema runs and words the error)
 * for every body it refuses. Fuzzed with bodies built near the boundaries of every field, plus
 * arbitrary JSON.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compiledAccessTokenBody,
  compiledIdTokenBody,
  generateAccessTokenBody,
  generateIdTokenBody,
  parseJsonBody,
} from '../../../../../functions/token/http/request-schemas.js';

const printable = fc.string({
  unit: fc.constantFrom(...'abcXYZ09:/._-~!{}"\\'.split(''), '\x21', '\x7e'),
  minLength: 1,
  maxLength: 40,
});
const edgeString = fc.oneof(
  fc.constantFrom('', ' ', 'a b', 'tab\there', 'ünïcode', '\x7f', '\x20', '\x00', 'https://x'),
  fc.constantFrom(511, 512, 513, 2047, 2048, 2049).map((n) => 'a'.repeat(n)),
);
/** A scope or audience: mostly valid, sometimes one character or one length off. */
const tokenish = fc.oneof(
  { weight: 4, arbitrary: printable },
  { weight: 1, arbitrary: edgeString },
  fc.string(),
);
const anyJson = fc.jsonValue({ maxDepth: 2 });

const lifetime = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 3600 }).map((n) => `${n}s`) },
  fc.constantFrom(
    '3600s',
    '1s',
    '0s',
    '3601s',
    '3600.000000001s',
    '3599.5s',
    '0.5s',
    '0.000000001s',
    '1234567890s',
    '999999999s',
    '1.s',
    '.5s',
    's',
    '60',
    ' 60s',
    '60s ',
    '1e3s',
    '-1s',
    '+1s',
  ),
  fc.integer({ min: -10, max: 4000 }).map((n) => `${n}s`),
  fc
    .tuple(fc.integer({ min: 0, max: 3601 }), fc.integer({ min: 0, max: 999_999_999 }))
    .map(([s, f]) => `${s}.${f}s`),
  anyJson,
);
const delegates = fc.oneof(
  { weight: 6, arbitrary: fc.constant([]) },
  fc.constant(['projects/-/serviceAccounts/a@p.iam.gserviceaccount.com']),
  anyJson,
);
const extraKey = fc.constantFrom(
  'scopes',
  'Scope',
  '__proto__',
  'constructor',
  'toString',
  'lifetimeSeconds',
  '',
);
/** An unknown member now and then (most bodies have none, so both sides of every other check are reached). */
const extra = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.tuple(extraKey, anyJson) },
);

const accessBody = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      {
        scope: fc.oneof(
          { weight: 8, arbitrary: fc.array(tokenish, { minLength: 1, maxLength: 4 }) },
          { weight: 2, arbitrary: fc.array(tokenish, { minLength: 0, maxLength: 70 }) },
          fc.constantFrom(64, 65).map((n) => Array.from({ length: n }, (_, i) => `https://s/${i}`)),
          anyJson,
        ),
        lifetime,
        delegates,
        extra,
      },
      { requiredKeys: ['scope', 'extra'] },
    ),
  },
  anyJson,
);
const idBody = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      {
        audience: fc.oneof({ weight: 5, arbitrary: tokenish }, anyJson),
        includeEmail: fc.oneof({ weight: 3, arbitrary: fc.boolean() }, anyJson),
        useEmailAzp: fc.oneof({ weight: 3, arbitrary: fc.boolean() }, anyJson),
        organizationNumberIncluded: fc.oneof({ weight: 3, arbitrary: fc.boolean() }, anyJson),
        delegates,
        extra,
      },
      { requiredKeys: ['audience', 'extra'] },
    ),
  },
  anyJson,
);

/** Builds the body as JSON text and parses it back, as the route does (so `__proto__` is an own key). */
function asParsedJson(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const { extra, ...fields } = value as { extra?: [string, unknown] | undefined };
  let text = JSON.stringify(fields);
  if (extra) {
    const member = `${JSON.stringify(extra[0])}:${JSON.stringify(extra[1]) ?? 'null'}`;
    text = text === '{}' ? `{${member}}` : `${text.slice(0, -1)},${member}}`;
  }
  return JSON.parse(text) as unknown;
}

const RUNS = 3000;

/**
 * Fuzzes `compiled` against `schema`: the schema's data for every body it accepts, `undefined` for
 * every body it refuses; and the generator must reach both sides often enough to mean something.
 */
function expectEquivalent(
  bodies: fc.Arbitrary<unknown>,
  schema: { safeParse(json: unknown): { success: boolean; data?: unknown } },
  compiled: (json: unknown) => unknown,
): void {
  let accepted = 0;
  fc.assert(
    fc.property(bodies, (raw) => {
      const json = asParsedJson(raw);
      const parsed = schema.safeParse(json);
      if (parsed.success) {
        accepted++;
        expect(compiled(json)).toStrictEqual(parsed.data);
      } else expect(compiled(json)).toBeUndefined();
    }),
    { numRuns: RUNS },
  );
  expect(accepted).toBeGreaterThan(RUNS / 20);
}

describe('compiled body checks answer exactly what the zod schemas answer', () => {
  it('generateAccessToken', () => {
    expectEquivalent(accessBody, generateAccessTokenBody, compiledAccessTokenBody);
  });

  it('generateIdToken', () => {
    expectEquivalent(idBody, generateIdTokenBody, compiledIdTokenBody);
  });

  it('the bodies Google clients send take the compiled path (no zod pass on a cache hit)', () => {
    expect(compiledAccessTokenBody({ scope: ['https://www.googleapis.com/auth/cloud-platform'] })).toEqual({
      scope: ['https://www.googleapis.com/auth/cloud-platform'],
    });
    expect(compiledAccessTokenBody({ scope: ['a'], lifetime: '3599.5s', delegates: [] })).toEqual({
      scope: ['a'],
      lifetime: 3600,
      delegates: [],
    });
    expect(compiledIdTokenBody({ audience: 'https://svc', includeEmail: true, useEmailAzp: true })).toEqual({
      audience: 'https://svc',
      includeEmail: true,
      useEmailAzp: true,
    });
  });

  it('errors still come from the schema, naming the field', () => {
    const raw = Buffer.from(JSON.stringify({ scope: ['a'], lifetime: '3601s' }));
    expect(() => parseJsonBody(raw, generateAccessTokenBody, compiledAccessTokenBody)).toThrow(
      expect.objectContaining({
        reason: 'INVALID_REQUEST_FIELD',
        message: "Invalid value at 'lifetime': lifetime must be at most 3600s",
      }),
    );
  });
});
