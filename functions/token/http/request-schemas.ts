/** Request bodies of the IAM-compatible API, parsed strictly (unknown fields are an error, as at Google). */
import { SERVICE_ACCOUNT_EMAIL } from '../../../shared/sts.js';
import { z } from 'zod';
import { InvalidArgumentError } from '../../../shared/errors.js';
import { asciiLower } from '../policy/glob.js';

/** Printable ASCII, no spaces: a scope or audience with whitespace or control characters is malformed. */
const token = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

/** Google's Duration JSON: seconds with an `s`, optional fraction ("3600s", "1.5s"). */
const duration = z
  .string()
  .regex(/^\d{1,9}(\.\d{1,9})?s$/, 'must be a duration such as "3600s"')
  .transform((s) => Math.ceil(Number(s.slice(0, -1))));

const noDelegates = z
  .array(z.string())
  .max(0, 'delegation chains are not supported by this service')
  .optional();

export const MAX_LIFETIME_SECONDS = 3600;

export const generateAccessTokenBody = z.strictObject({
  scope: z.array(token(512)).min(1, 'at least one scope is required').max(64),
  lifetime: duration
    .refine((s) => s >= 1, 'lifetime must be at least 1s')
    .refine((s) => s <= MAX_LIFETIME_SECONDS, `lifetime must be at most ${MAX_LIFETIME_SECONDS}s`)
    .optional(),
  delegates: noDelegates,
});

export const generateIdTokenBody = z.strictObject({
  audience: token(2048),
  includeEmail: z.boolean().optional(),
  // Sent by google-auth-library's Impersonated.fetchIdToken; accepted (as Google does) and not used:
  // ID tokens minted through the jwt-bearer grant always carry the SA email as `email` and `azp`.
  useEmailAzp: z.boolean().optional(),
  organizationNumberIncluded: z.boolean().optional(),
  delegates: noDelegates,
});

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

/** Parses a JSON body (already size-checked) against `schema`; errors name the field, never echo values. */
export function parseJsonBody<T extends z.ZodType>(raw: Buffer | undefined, schema: T): z.infer<T> {
  let json: unknown;
  try {
    json = JSON.parse((raw ?? Buffer.alloc(0)).toString('utf8'));
  } catch {
    throw new InvalidArgumentError('The request body is not valid JSON.', { reason: 'MALFORMED_JSON' });
  }
  const parsed = schema.safeParse(json);
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
