/**
 * A rule's `accessBoundary`: Google's Credential Access Boundary (at most 10 rules of
 * `{availableResource, availablePermissions, availabilityCondition?}`) with placeholders filled from
 * the caller's verified claims. The policy parses and checks the templates; a granted request
 * renders them with its caller's claims; the minter exchanges the SA token for a downscoped one.
 *
 * Placeholders: `${claims.NAME}` (a top-level claim) or `${claims./json/pointer}` (RFC 6901, as in
 * a rule's `caller.claims`). Only string claims fill them; a missing claim or one of another type
 * refuses the request. Rendering is one pass over the parsed template: a claim value is never
 * scanned for placeholders. Typed by position:
 * - in `availableResource` the value must be a safe resource-name piece (`[A-Za-z0-9._-]`, not `.`
 *   or `..`): it can never add a `/` segment, a wildcard or another service;
 * - in `availabilityCondition.expression` a placeholder may stand only inside a (non-raw) CEL string
 *   literal (checked at compile time with the CEL tokenizer), and its value is escaped as CEL
 *   string content, so it can never change the expression's structure.
 */
import * as z from '../../../shared/zod.js';
import { PermissionDeniedError } from '../../../shared/errors.js';
import type { AccessBoundary } from '../../../shared/minting/downscope.js';
import { CelSyntaxError, escapeCelString, tokenizeCel } from './cel-tokens.js';
import { claimKeyProblem, parseClaimPointer } from './policy-schema.js';

/** Google's limits (cloud.google.com/iam/docs/reference/sts/rest/v1/AccessBoundary). */
export const MAX_ACCESS_BOUNDARY_RULES = 10;
export const MAX_CONDITION_EXPRESSION_CHARS = 2048;
/** Ours: bounds on what a claim may put into a boundary, and on a resource name. */
export const MAX_PLACEHOLDER_VALUE_CHARS = 200;
const MAX_RESOURCE_CHARS = 1024;
const MAX_PERMISSIONS = 20;

/** What a claim value filling an `availableResource` placeholder may contain. */
const RESOURCE_VALUE = /^[A-Za-z0-9._-]+$/;
/** Everything a placeholder may hold between `${claims.` and `}`: never a quote, backslash, space or `}`. */
const PLACEHOLDER = /^\$\{claims\.([A-Za-z0-9_.:/~-]{1,200})\}/;

type Part = string | { key: string; path: string[] };

/** Splits a template into literal text and placeholders; a `${` that is not a valid placeholder is an error. */
export function parseTemplate(template: string): Part[] {
  const parts: Part[] = [];
  let text = '';
  for (let i = 0; i < template.length;) {
    if (!template.startsWith('${', i)) {
      text += template[i++];
      continue;
    }
    const m = PLACEHOLDER.exec(template.slice(i));
    if (!m)
      throw new TemplateError(
        'a "${" must start a placeholder: ${claims.NAME} or ${claims./json/pointer} (no quotes, spaces or "}" inside)',
      );
    const problem = claimKeyProblem(m[1]);
    if (problem) throw new TemplateError(`placeholder ${m[0]}: ${problem}`);
    if (text) parts.push(text);
    text = '';
    parts.push({ key: m[1], path: m[1].startsWith('/') ? parseClaimPointer(m[1]) : [m[1]] });
    i += m[0].length;
  }
  if (text) parts.push(text);
  return parts;
}

class TemplateError extends Error {}

/** Checks an `availableResource` template: a full resource name whose service part holds no placeholder. */
function resourceProblem(template: string): string | undefined {
  const parts = parseTemplate(template);
  const head = typeof parts[0] === 'string' ? parts[0] : '';
  if (!/^\/\/[a-z0-9-]+(\.[a-z0-9-]+)*\.googleapis\.com\//.test(head))
    return 'must be a full resource name, "//SERVICE.googleapis.com/..." (no placeholder before the first "/" after the service)';
  return undefined;
}

/** Checks a CEL template: tokenizes, and every placeholder must lie inside a non-raw string literal. */
function expressionProblem(template: string): string | undefined {
  parseTemplate(template);
  let tokens;
  try {
    tokens = tokenizeCel(template);
  } catch (err) {
    if (!(err instanceof CelSyntaxError)) throw err;
    if (/\$\{claims\./.test(template) && err.message.startsWith('unexpected character "$"'))
      return 'a placeholder may appear only inside a CEL string literal';
    return `is not a CEL expression: ${err.message}`;
  }
  for (const m of template.matchAll(/\$\{claims\./g)) {
    const inside = tokens.find((t) => t.start <= m.index && m.index < t.end);
    if (!inside || inside.kind !== 'string' || inside.raw || m.index < inside.contentStart!)
      return `the placeholder at character ${m.index + 1} must be inside a quoted (not raw, not bytes) CEL string literal`;
  }
  return undefined;
}

/** Runs a template check, turning a template error into a zod issue. */
function check(problemOf: (template: string) => string | undefined) {
  return (template: string, ctx: z.core.$RefinementCtx<string>) => {
    let problem: string | undefined;
    try {
      problem = problemOf(template);
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      problem = err.message;
    }
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  };
}

const noPlaceholder = (what: string) =>
  z.string().check(
    z.maxLength(500),
    z.refine((s) => !s.includes('${'), `${what} takes no placeholders`),
  );

/** The policy's `accessBoundary` field (a rule's, appended to ruleSchema). */
export const accessBoundarySchema = z
  .array(
    z.strictObject({
      availableResource: z
        .string()
        .check(z.minLength(3), z.maxLength(MAX_RESOURCE_CHARS), z.superRefine(check(resourceProblem))),
      availablePermissions: z
        .array(
          z
            .string()
            .check(
              z.regex(
                /^inRole:(roles|projects\/[^/\s]+\/roles|organizations\/[0-9]+\/roles)\/[A-Za-z0-9_.]{1,100}$/,
                'must be "inRole:roles/ROLE" (or a custom role, "inRole:organizations/ID/roles/ROLE")',
              ),
            ),
        )
        .check(z.minLength(1), z.maxLength(MAX_PERMISSIONS)),
      availabilityCondition: z.optional(
        z.strictObject({
          expression: z
            .string()
            .check(
              z.minLength(1),
              z.maxLength(MAX_CONDITION_EXPRESSION_CHARS),
              z.superRefine(check(expressionProblem)),
            ),
          title: z.optional(noPlaceholder('title')),
          description: z.optional(noPlaceholder('description')),
        }),
      ),
    }),
  )
  .check(z.minLength(1), z.maxLength(MAX_ACCESS_BOUNDARY_RULES));

export type AccessBoundaryInput = z.infer<typeof accessBoundarySchema>;

/** A compiled boundary: renders with a caller's verified claims, or refuses with a typed error. */
export interface CompiledAccessBoundary {
  /** Whether any template holds a placeholder (a client caller has no claims to fill it). */
  readonly usesClaims: boolean;
  render(claims: Readonly<Record<string, unknown>>): AccessBoundary;
}

/** Compiles an already-validated `accessBoundary` (see {@link accessBoundarySchema}). */
export function compileAccessBoundary(input: AccessBoundaryInput): CompiledAccessBoundary {
  const rules = input.map((rule) => ({
    resource: parseTemplate(rule.availableResource),
    permissions: [...rule.availablePermissions],
    condition: rule.availabilityCondition && {
      expression: parseTemplate(rule.availabilityCondition.expression),
      title: rule.availabilityCondition.title,
      description: rule.availabilityCondition.description,
    },
  }));
  const usesClaims = rules.some(
    (r) =>
      r.resource.some((p) => typeof p !== 'string') ||
      r.condition?.expression.some((p) => typeof p !== 'string'),
  );
  return {
    usesClaims,
    render(claims) {
      const accessBoundaryRules = rules.map((r) => {
        const availableResource = fill(r.resource, claims, resourceValue);
        const out: AccessBoundary['accessBoundaryRules'][number] = {
          availableResource,
          availablePermissions: [...r.permissions],
        };
        if (r.condition) {
          const expression = fill(r.condition.expression, claims, escapeCelString);
          if (expression.length > MAX_CONDITION_EXPRESSION_CHARS)
            throw claimInvalid(
              `the rendered availabilityCondition is over ${MAX_CONDITION_EXPRESSION_CHARS} characters`,
            );
          out.availabilityCondition = {
            expression,
            ...(r.condition.title === undefined ? {} : { title: r.condition.title }),
            ...(r.condition.description === undefined ? {} : { description: r.condition.description }),
          };
        }
        return out;
      });
      return { accessBoundaryRules };
    },
  };
}

/** One pass over the parts: a value is inserted as `encode` makes it and never looked at again. */
function fill(
  parts: readonly Part[],
  claims: Readonly<Record<string, unknown>>,
  encode: (value: string, key: string) => string,
): string {
  let out = '';
  for (const part of parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    const value = resolve(claims, part.path);
    if (value === undefined)
      throw new PermissionDeniedError('The caller’s credential lacks a claim the access boundary needs.', {
        reason: 'ACCESS_BOUNDARY_CLAIM_MISSING',
        detail: `claim ${part.key} is missing`,
      });
    // Only strings: a number's text form (1e21, -0) or a list's would be a guess at what the author meant.
    if (typeof value !== 'string')
      throw claimInvalid(`claim ${part.key} is a ${kindOf(value)}, not a string`);
    if (value.length === 0 || value.length > MAX_PLACEHOLDER_VALUE_CHARS)
      throw claimInvalid(`claim ${part.key} is empty or over ${MAX_PLACEHOLDER_VALUE_CHARS} characters`);
    // In a `u` regex a surrogate range matches only an unpaired surrogate.
    if (/[\uD800-\uDFFF]/u.test(value)) throw claimInvalid(`claim ${part.key} is not well-formed Unicode`);
    out += encode(value, part.key);
  }
  return out;
}

function resourceValue(value: string, key: string): string {
  if (!RESOURCE_VALUE.test(value) || value === '.' || value === '..')
    throw claimInvalid(`claim ${key} holds characters a resource name may not take from a claim`);
  return value;
}

/** The claim value never goes into the error (only the policy's claim key, in the log-only detail). */
function claimInvalid(detail: string): PermissionDeniedError {
  return new PermissionDeniedError(
    'A claim of the caller’s credential cannot be used in the access boundary.',
    {
      reason: 'ACCESS_BOUNDARY_CLAIM_INVALID',
      detail,
    },
  );
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  return typeof value;
}

/** Own properties of plain objects only, as claim matching reads them. */
function resolve(claims: Readonly<Record<string, unknown>>, path: readonly string[]): unknown {
  let current: unknown = claims;
  for (const segment of path) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    if (!Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}
