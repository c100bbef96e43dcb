/** Request bodies of the IAM-compatible API, parsed strictly (unknown fields are an error, as at Google). */
import { SERVICE_ACCOUNT_EMAIL } from '../../../shared/sts.js';
import * as z from '../../../shared/zod.js';
import { InvalidArgumentError } from '../../../shared/errors.js';
import { asciiLower } from '../policy/glob.js';

const PRINTABLE = /^[\x21-\x7e]+$/;
const DURATION = /^\d{1,9}(\.\d{1,9})?s$/;
const durationSeconds = (s: string): number => Math.ceil(Number(s.slice(0, -1)));

/** Printable ASCII, no spaces: a scope or audience with whitespace or control characters is malformed. */
const token = (max: number) =>
  z
    .string()
    .check(z.minLength(1), z.maxLength(max), z.regex(PRINTABLE, 'must be printable ASCII without spaces'));

/** Google's Duration JSON: seconds with an `s`, optional fraction ("3600s", "1.5s"). */
const duration = z.pipe(
  z.string().check(z.regex(DURATION, 'must be a duration such as "3600s"')),
  z.transform(durationSeconds),
);

const noDelegates = z.optional(
  z.array(z.string()).check(z.maxLength(0, 'delegation chains are not supported by this service')),
);

export const MAX_LIFETIME_SECONDS = 3600;

export const generateAccessTokenBody = z.strictObject({
  scope: z.array(token(512)).check(z.minLength(1, 'at least one scope is required'), z.maxLength(64)),
  lifetime: z.optional(
    duration.check(
      z.refine((s) => s >= 1, 'lifetime must be at least 1s'),
      z.refine((s) => s <= MAX_LIFETIME_SECONDS, `lifetime must be at most ${MAX_LIFETIME_SECONDS}s`),
    ),
  ),
  delegates: noDelegates,
});

export const generateIdTokenBody = z.strictObject({
  audience: token(2048),
  includeEmail: z.optional(z.boolean()),
  // Sent by google-auth-library's Impersonated.fetchIdToken; accepted (as Google does) and not used:
  // ID tokens minted through the jwt-bearer grant always carry the SA email as `email` and `azp`.
  useEmailAzp: z.optional(z.boolean()),
  organizationNumberIncluded: z.optional(z.boolean()),
  delegates: noDelegates,
});

export type GenerateAccessTokenBody = z.infer<typeof generateAccessTokenBody>;
export type GenerateIdTokenBody = z.infer<typeof generateIdTokenBody>;

/*
 * Compiled checks of the two bodies, for the cache-hit path (a zod pass was ~7 % of a hit's CPU).
 * Each answers exactly what its schema's successful parse answers, or `undefined` for ANY body the
 * schema refuses; `parseJsonBody` then runs the schema, so every error still comes from zod, with
 * its wording. test/unit/functions/token/http/request-schemas-compiled.test.ts proves the
 * equivalence by fuzzing both against each other.
 */

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: object, key: string): boolean => Object.hasOwn(o, key);
const isToken = (v: unknown, max: number): v is string =>
  typeof v === 'string' && v.length >= 1 && v.length <= max && PRINTABLE.test(v);
/** `noDelegates`: absent, or an empty array. */
const delegatesOk = (o: Record<string, unknown>): boolean =>
  !has(o, 'delegates') || (Array.isArray(o.delegates) && o.delegates.length === 0);
const optionalBoolean = (o: Record<string, unknown>, key: string): boolean =>
  !has(o, key) || typeof o[key] === 'boolean';

const ACCESS_TOKEN_FIELDS = new Set(['scope', 'lifetime', 'delegates']);
const ID_TOKEN_FIELDS = new Set([
  'audience',
  'includeEmail',
  'useEmailAzp',
  'organizationNumberIncluded',
  'delegates',
]);

export function compiledAccessTokenBody(json: unknown): GenerateAccessTokenBody | undefined {
  if (!isPlainObject(json)) return undefined;
  for (const key of Object.keys(json)) if (!ACCESS_TOKEN_FIELDS.has(key)) return undefined;
  const scope = json.scope;
  if (!Array.isArray(scope) || scope.length < 1 || scope.length > 64) return undefined;
  for (const s of scope) if (!isToken(s, 512)) return undefined;
  if (!delegatesOk(json)) return undefined;
  const body: GenerateAccessTokenBody = { scope: [...(scope as string[])] };
  if (has(json, 'lifetime')) {
    const lifetime = json.lifetime;
    if (typeof lifetime !== 'string' || !DURATION.test(lifetime)) return undefined;
    const seconds = durationSeconds(lifetime);
    if (!(seconds >= 1 && seconds <= MAX_LIFETIME_SECONDS)) return undefined;
    body.lifetime = seconds;
  }
  if (has(json, 'delegates')) body.delegates = [];
  return body;
}

export function compiledIdTokenBody(json: unknown): GenerateIdTokenBody | undefined {
  if (!isPlainObject(json)) return undefined;
  for (const key of Object.keys(json)) if (!ID_TOKEN_FIELDS.has(key)) return undefined;
  if (!isToken(json.audience, 2048)) return undefined;
  if (!optionalBoolean(json, 'includeEmail')) return undefined;
  if (!optionalBoolean(json, 'useEmailAzp')) return undefined;
  if (!optionalBoolean(json, 'organizationNumberIncluded')) return undefined;
  if (!delegatesOk(json)) return undefined;
  const body: GenerateIdTokenBody = { audience: json.audience };
  for (const key of ['includeEmail', 'useEmailAzp', 'organizationNumberIncluded'] as const)
    if (has(json, key)) body[key] = json[key] as boolean;
  if (has(json, 'delegates')) body.delegates = [];
  return body;
}

/** Validates and normalises the service account named in the path. */
export function parseServiceAccountEmail(raw: string): string {
  const email = asciiLower(raw);
  if (!SERVICE_ACCOUNT_EMAIL.test(email)) {
    throw new InvalidArgumentError('The service account must be given as an email address.', {
      reason: 'INVALID_SERVICE_ACCOUNT',
      metadata: { field: 'name' },
    });
  }
  return email;
}

/**
 * Parses a JSON body (already size-checked) against `schema`; errors name the field, never echo
 * values. `compiled`, when given, answers the bodies the schema accepts without a zod pass (see
 * above); whatever it declines goes through the schema.
 */
export function parseJsonBody<T extends z.core.$ZodType>(
  raw: Buffer | undefined,
  schema: T,
  compiled?: (json: unknown) => z.infer<T> | undefined,
): z.infer<T> {
  let json: unknown;
  try {
    json = JSON.parse((raw ?? Buffer.alloc(0)).toString('utf8'));
  } catch {
    throw new InvalidArgumentError('The request body is not valid JSON.', { reason: 'MALFORMED_JSON' });
  }
  const fast = compiled?.(json);
  if (fast !== undefined) return fast;
  const parsed = z.safeParse(schema, json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.map(String).join('.') || 'body';
    const message =
      issue.code === 'unrecognized_keys'
        ? `Unknown field(s): ${issue.keys.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`
        : `Invalid value at '${field}': ${issue.message}`;
    throw new InvalidArgumentError(message, { reason: 'INVALID_REQUEST_FIELD', metadata: { field } });
  }
  return parsed.data;
}
