/**
 * The policy document (version 1), parsed strictly: unknown keys are rejected at every level,
 * exactly-one-of fields are enforced, and every string that becomes a pattern is checked.
 */
import { z } from 'zod';
import { ClientSecretHashError, parseClientSecretHash } from '../oauth/client-secret-hash.js';
import { accessBoundarySchema } from './access-boundary.js';
import { limitsSchema } from '../limits/limits-schema.js';

const REHASH =
  'generate a new secret and its hash with `npm run -s hash-client-secret -- --generate`, give the client the secret, and put the hash under "secretHash"';

const email = z
  .string()
  .regex(/^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$/, 'must be a lower-case email address');
const pattern = z
  .string()
  .min(1)
  .max(512)
  .refine((s) => !/[\s\u0000-\u001f\u007f]/.test(s), 'must not contain whitespace or control characters');
const emailPattern = z
  .string()
  .regex(/^[a-z0-9._%+*-]+@[a-z0-9.*-]+$/, 'must be a lower-case email or email glob');
const scopePattern = pattern.refine(
  (s) => /^https:\/\/[^\s]+$/.test(s),
  'must be an https scope URL (or glob)',
);
const secretVersion = z
  .string()
  .regex(
    /^projects\/[^/]+\/secrets\/[^/]+\/versions\/[^/]+$/,
    'must be projects/P/secrets/S/versions/V (use an alias such as "current")',
  );

/** A target SA and how it is minted; `backend` defaults to `keyless` (no key anywhere). */
const serviceAccountSchema = z.preprocess(
  (value) =>
    value && typeof value === 'object' && !Array.isArray(value) && !('backend' in value)
      ? { ...value, backend: 'keyless' }
      : value,
  z.discriminatedUnion('backend', [
    z.strictObject({ backend: z.literal('key'), keySecret: secretVersion }),
    z.strictObject({ backend: z.literal('keyless') }),
  ]),
);

/** Names that would land on Object.prototype when used as record keys: never allowed. */
const notPrototypeKey = (s: string) => !['__proto__', 'constructor', 'prototype'].includes(s);
const recordKey = (pattern: RegExp, what: string) =>
  z.string().regex(pattern, what).refine(notPrototypeKey, 'is a reserved name');

/**
 * An OAuth client: its secret's scrypt hash (see `oauth/client-secret-hash.ts`), parsed and
 * bounds-checked here. The legacy unsalted `secretSha256` is refused with how to replace it.
 */
const clientSchema = z
  .strictObject({
    secretHash: z.string().optional(),
    secretSha256: z.unknown().optional(),
    description: z.string().max(200).optional(),
  })
  .transform((client, ctx) => {
    if (client.secretSha256 !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['secretSha256'],
        message: `an unsalted SHA-256 hash is no longer accepted: ${REHASH}`,
      });
      return z.NEVER;
    }
    if (client.secretHash === undefined) {
      ctx.addIssue({ code: 'custom', path: ['secretHash'], message: `is required (${REHASH})` });
      return z.NEVER;
    }
    try {
      return { secretHash: parseClientSecretHash(client.secretHash), description: client.description };
    } catch (err) {
      if (!(err instanceof ClientSecretHashError)) throw err;
      ctx.addIssue({ code: 'custom', path: ['secretHash'], message: err.message });
      return z.NEVER;
    }
  });

/** How deep a claim pointer may reach, and how many alternatives a claim may list. */
export const MAX_POINTER_DEPTH = 8;
export const MAX_CLAIM_ALTERNATIVES = 64;

/**
 * A claim key: a top-level claim name, or (leading `/`) an RFC 6901 JSON pointer into the
 * token's payload, e.g. `/kubernetes.io/namespace`. Segments are non-empty, `~` only as `~0`/`~1`,
 * and none may be a prototype name once decoded.
 */
export function claimKeyProblem(key: string): string | undefined {
  if (!key.startsWith('/')) {
    if (!/^[A-Za-z0-9_.:-]{1,100}$/.test(key))
      return 'claim names are plain identifiers (or a JSON pointer: "/a/b")';
    return notPrototypeKey(key) ? undefined : 'is a reserved name';
  }
  if (
    key.length > 200 ||
    key.split('/').length - 1 > MAX_POINTER_DEPTH ||
    !/^(\/([^\s\u0000-\u001f\u007f~/]|~[01])+)+$/u.test(key)
  )
    return `a claim pointer is "/" then at most ${MAX_POINTER_DEPTH} non-empty segments ("~1" for "/", "~0" for "~"), at most 200 characters, no whitespace`;
  if (!parseClaimPointer(key).every(notPrototypeKey))
    return 'is a reserved name (a pointer segment is __proto__, constructor or prototype)';
  return undefined;
}

/** Decodes a JSON pointer (already validated) into its segments. */
export function parseClaimPointer(key: string): string[] {
  return key
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * A claim's expected value: a pattern (the claim is that string, or a list holding one), a JSON
 * boolean (exactly that boolean: the string "true" is not `true`), or a non-empty list of
 * patterns (any of them). Numbers, objects and null are refused.
 */
const claimValue = z.unknown().transform((value, ctx): string | boolean | string[] => {
  const schema =
    typeof value === 'string'
      ? pattern
      : typeof value === 'boolean'
        ? z.boolean()
        : Array.isArray(value)
          ? z.array(pattern).min(1).max(MAX_CLAIM_ALTERNATIVES)
          : undefined;
  if (!schema) {
    ctx.addIssue({
      code: 'custom',
      message: `must be a pattern string, a boolean, or a non-empty list of pattern strings (got ${value === null ? 'null' : typeof value})`,
    });
    return z.NEVER;
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    return z.NEVER;
  }
  return parsed.data;
});

const oidcCallerSchema = z
  .strictObject({
    issuer: z.string().min(1),
    subject: pattern.optional(),
    email: emailPattern.optional(),
    claims: z
      .record(z.string(), claimValue)
      .superRefine((claims, ctx) => {
        for (const key of Object.keys(claims)) {
          const problem = claimKeyProblem(key);
          if (problem) ctx.addIssue({ code: 'custom', message: problem, path: [key] });
        }
      })
      .optional(),
    /** Credentials accepted from this caller; default ID tokens only. `access_token` (Google only) is what `Impersonated` sends. */
    credentials: z
      .array(z.enum(['id_token', 'access_token']))
      .min(1)
      .optional(),
  })
  .refine((c) => (c.subject === undefined) !== (c.email === undefined), {
    message: 'set exactly one of "subject" or "email"',
  });

const clientCallerSchema = z.strictObject({
  client: recordKey(/^[A-Za-z0-9_.-]{1,100}$/, 'client ids are plain identifiers'),
});

/**
 * One of two schemas, chosen by `test`, so a mistake is reported in the branch meant (a
 * `z.union` of both would only say "Invalid input").
 */
function pick<A extends z.ZodType, B extends z.ZodType>(
  test: (value: unknown) => boolean,
  branches: { yes: A; no: B },
) {
  return z.unknown().transform((value, ctx): z.output<A> | z.output<B> => {
    const parsed = (test(value) ? branches.yes : branches.no).safeParse(value);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues)
      ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    return z.NEVER;
  });
}

const ruleSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits and dashes'),
  description: z.string().max(500).optional(),
  caller: pick((value) => typeof value === 'object' && value !== null && 'client' in value, {
    yes: clientCallerSchema,
    no: oidcCallerSchema,
  }),
  serviceAccounts: z.array(emailPattern).min(1),
  scopes: z.array(scopePattern).optional(),
  idTokenAudiences: z.array(pattern).optional(),
  maxLifetimeSeconds: z.number().int().min(1).max(3600).default(3600),
  /** Which minting backend the rule's service accounts use; mixing needs an explicit "any". */
  backend: z.enum(['key', 'keyless', 'any']).optional(),
  /** A Credential Access Boundary for the access tokens this rule grants (access-boundary.ts); lazy: that module imports this one. */
  accessBoundary: z.lazy(() => accessBoundarySchema).optional(),
  /** Quotas for the callers this rule admits, overriding the policy's `limits` field by field. */
  limits: limitsSchema.optional(),
});

/**
 * A caller in the break-glass `deny` list: everything from an issuer, or narrowed by subject,
 * email and claims (all given must match), or an OAuth client. Matching leans toward denial: an
 * email matches whether or not the issuer verified it.
 */
const denyOidcCallerSchema = z.strictObject({
  issuer: z.string().min(1),
  subject: pattern.optional(),
  email: emailPattern.optional(),
  claims: oidcCallerSchema.shape.claims,
});
const denyCallerSchema = pick((value) => typeof value === 'object' && value !== null && 'client' in value, {
  yes: clientCallerSchema,
  no: denyOidcCallerSchema,
});

/** A token's fingerprint as audit entries record it (`tokenFingerprint`). */
export const TOKEN_FINGERPRINT = /^sha256:[0-9a-f]{64}$/;

/**
 * Break-glass: checked before any rule and before the token cache. A denied caller, service
 * account or issued token gets nothing, whatever the rules say.
 */
const denySchema = z.strictObject({
  callers: z.array(denyCallerSchema).max(1000).default([]),
  serviceAccounts: z.array(emailPattern).max(1000).default([]),
  tokenFingerprints: z
    .array(z.string().regex(TOKEN_FINGERPRINT, 'must be "sha256:" and 64 lower-case hex digits'))
    .max(10_000)
    .default([]),
});

export const policySchema = z.strictObject({
  /** The JSON Schema an editor validates the file with (docs/policy.schema.json); ignored. */
  $schema: z.string().max(2048).optional(),
  version: z.literal(1),
  serviceAccounts: z.record(email, serviceAccountSchema),
  clients: z
    .record(recordKey(/^[A-Za-z0-9_.-]{1,100}$/, 'client ids are plain identifiers'), clientSchema)
    .default({}),
  rules: z.array(ruleSchema).max(1000),
  deny: denySchema.optional(),
  /** Quotas for every caller (per caller, per instance); rules may override them. */
  limits: limitsSchema.optional(),
});

export type PolicyDocument = z.infer<typeof policySchema>;

/**
 * The parts of {@link policySchema} that zod cannot describe in JSON Schema by itself (a
 * preprocess default, and value-dependent branches chosen in a transform), for
 * scripts/policy-json-schema.ts. The parser is the schema above; these are only its description.
 */
export const policySchemaParts = {
  serviceAccount: serviceAccountSchema,
  claimValue,
  caller: ruleSchema.shape.caller,
  oidcCaller: oidcCallerSchema,
  clientCaller: clientCallerSchema,
  denyCaller: denyCallerSchema,
  denyOidcCaller: denyOidcCallerSchema,
  pattern,
  scope: scopePattern,
  maxClaimAlternatives: MAX_CLAIM_ALTERNATIVES,
} as const;
export type PolicyRule = PolicyDocument['rules'][number];
export type ServiceAccountEntry = PolicyDocument['serviceAccounts'][string];
