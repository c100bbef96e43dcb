/**
 * Fuzzing of claim interpolation: whatever a claim holds, it stays inside its placeholder. For CEL,
 * the rendered expression has the template's token structure and the placeholder's string literal
 * holds exactly the claim value; for resources, the value is refused or sits only where the
 * placeholder was.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  accessBoundarySchema,
  compileAccessBoundary,
} from '../../../../../functions/token/policy/access-boundary.js';
import {
  celStringValue,
  tokenizeCel,
  type CelToken,
} from '../../../../../functions/token/policy/cel-tokens.js';
import { PermissionDeniedError } from '../../../../../shared/errors.js';

const VIEWER = 'inRole:roles/storage.objectViewer';
const BUCKET = '//storage.googleapis.com/projects/_/buckets/b';
const SENTINEL = 'QQSENTINELQQ';

/** Values an attacker would try, beside arbitrary ones. */
const NASTY = [
  "' || true || '",
  "x/') || true || ('",
  '" || true || "',
  "''' || true || '''",
  '""" || true || """',
  '\\',
  '\\\\',
  "\\'",
  '\\u0027',
  '\n',
  '\r\n',
  '${claims.other}',
  '${',
  '// comment',
  '`',
  '\u2028\u2029',
  '\u0000',
  '😀',
  'é',
];

const value = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }),
  fc.string({
    unit: fc.constantFrom("'", '"', '\\', '$', '{', '}', '\n', 'u', 'x', '0', 'a', ' ', ')'),
    minLength: 1,
    maxLength: 40,
  }),
);

const TEMPLATES = [
  "resource.name.startsWith('projects/_/buckets/b/objects/${claims.v}/')",
  'resource.name == "a\\"b${claims.v}\\n"',
  "resource.name.startsWith('''pre'fix ${claims.v}''') && resource.type == 'x'",
  'resource.name.startsWith("""${claims.v}""") || !(resource.name == \'z\')',
  "'${claims.v}' == resource.name // a comment with ' and \"\n && true",
];

function render(template: string, v: string): string | PermissionDeniedError {
  const boundary = compileAccessBoundary(
    accessBoundarySchema.parse([
      {
        availableResource: BUCKET,
        availablePermissions: [VIEWER],
        availabilityCondition: { expression: template },
      },
    ]),
  );
  try {
    return boundary.render({ v, other: 'OTHER' }).accessBoundaryRules[0].availabilityCondition!.expression;
  } catch (err) {
    if (err instanceof PermissionDeniedError) return err;
    throw err;
  }
}

const shape = (tokens: CelToken[]) => tokens.map((t) => t.kind);

describe('claim interpolation fuzzing', () => {
  it.each(TEMPLATES)('a claim value never escapes its CEL string literal: %s', (template) => {
    const reference = tokenizeCel(template.replace('${claims.v}', SENTINEL));
    const holder = reference.findIndex((t) => t.text.includes(SENTINEL));
    fc.assert(
      fc.property(value, (v) => {
        const rendered = render(template, v);
        const valid = v.length <= 200 && !/[\uD800-\uDFFF]/u.test(v);
        if (!valid) {
          expect(rendered).toBeInstanceOf(PermissionDeniedError);
          return;
        }
        expect(typeof rendered).toBe('string');
        const tokens = tokenizeCel(rendered as string);
        expect(shape(tokens)).toEqual(shape(reference));
        tokens.forEach((token, i) => {
          if (i !== holder) expect(token.text).toBe(reference[i].text);
        });
        expect(celStringValue(tokens[holder])).toBe(
          celStringValue(reference[holder]).replace(SENTINEL, () => v),
        );
      }),
      { numRuns: 400 },
    );
  });

  it('a claim value in a resource is refused or stands only where its placeholder was', () => {
    const boundary = compileAccessBoundary(
      accessBoundarySchema.parse([
        {
          availableResource: '//storage.googleapis.com/projects/_/buckets/ci-${claims.v}-x',
          availablePermissions: [VIEWER],
        },
      ]),
    );
    fc.assert(
      fc.property(fc.oneof(value, fc.stringMatching(/^[A-Za-z0-9._-]{1,20}$/)), (v) => {
        let rendered: string;
        try {
          rendered = boundary.render({ v }).accessBoundaryRules[0].availableResource;
        } catch (err) {
          expect(err).toBeInstanceOf(PermissionDeniedError);
          return;
        }
        expect(rendered).toBe(`//storage.googleapis.com/projects/_/buckets/ci-${v}-x`);
        expect(v).toMatch(/^[A-Za-z0-9._-]{1,200}$/);
        expect(['.', '..']).not.toContain(v);
      }),
      { numRuns: 1000 },
    );
  });

  it('escaped values round-trip through the tokenizer for any well-formed string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (v) => {
        const rendered = render("'${claims.v}'", v);
        if (v.length === 0 || v.length > 200) return;
        const tokens = tokenizeCel(rendered as string);
        expect(tokens).toHaveLength(1);
        expect(celStringValue(tokens[0])).toBe(v);
      }),
      { numRuns: 500 },
    );
  });
});
