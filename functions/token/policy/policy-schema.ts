/**
 * The policy document (version 1), parsed strictly: unknown keys are rejected at every level,
 * exactly-one-of fields are enforced, and every string that becomes a pattern is checked.
 */
import * as z from '../../../shared/zod.js';
import { ClientSecretHashError, parseClientSecretHash } from '../oauth/client-secret-hash.js';
import { accessBoundarySchema } from './access-boundary.js';
import { limitsSchema } from '../limits/limits-schema.js';

const REHASH =
  'generate a new secret and its hash with `npm run -s hash-client-secret -- --generate`, give the client the secret, and put the hash under "secretHash"';

const email = z
  .string()
  .check(z.regex(/^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$/, 'must be a lower-case email address'));
const pattern = z.string().check(
  z.minLength(1),
  z.maxLength(512),
  z.refine((s) => !/[\s\u0000-\u001f\u007f]/.test(s), 'must not contain whitespace or control characters'),
);
const emailPattern = z
  .string()
  .check(z.regex(/^[a-z0-9._%+*-]+@[a-z0-9.*-]+$/, 'must be a lower-case email or email glob'));
const scopePattern = pattern.check(
  z.refine((s) => /^https:\/\/[^\s]+$/.test(s), 'must be an https scope URL (or glob)'),
);
const secretVersion = z
  .string()
  .check(
    z.regex(
      /^projects\/[^/]+\/secrets\/[^/]+\/versions\/[^/]+$/,
      'must be projects/P/secrets/S/versions/V (use an alias such as "current")',
    ),
  );

/** `ctx.addIssue` of classic zod's transforms, which zod/mini's transforms do not have: the same issue. */
function addIssue(ctx: z.core.ParsePayload, issue: { message: string; path?: PropertyKey[] }): void {
  ctx.issues.push({ code: 'custom', ...issue, input: ctx.value });
}

/** A target SA and how it is minted; `backend` defaults to `keyless` (no key anywhere). */
const serviceAccountSchema = z.pipe(
  // classic zod's `z.preprocess` is this pipe
  z.transform((value: unknown): unknown =>
    value && typeof value === 'object' && !Array.isArray(value) && !('backend' in value)
      ? { ...value, backend: 'keyless' }
      : value,
  ),
  z.discriminatedUnion('backend', [
    z.strictObject({ backend: z.literal('key'), keySecret: secretVersion }),
    z.strictObject({ backend: z.literal('keyless') }),
  ]),
);

/** Names that would land on Object.prototype when used as record keys: never allowed. */
const notPrototypeKey = (s: string) => !['__proto__', 'constructor', 'prototype'].includes(s);
const recordKey = (pattern: RegExp, what: string) =>
  z.string().check(z.regex(pattern, what), z.refine(notPrototypeKey, 'is a reserved name'));

/**
 * An OAuth client: its secret's scrypt hash (see `oauth/client-secret-hash.ts`), parsed and
 * bounds-checked here. The legacy unsalted `secretSha256` is refused with how to replace it.
 */
const clientSchema = z.pipe(
  z.strictObject({
    secretHash: z.optional(z.string()),
    secretSha256: z.optional(z.unknown()),
    description: z.optional(z.string().check(z.maxLength(200))),
  }),
  z.transform((client, ctx) => {
    if (client.secretSha256 !== undefined) {
      addIssue(ctx, {
        path: ['secretSha256'],
        message: `an unsalted SHA-256 hash is no longer accepted: ${REHASH}`,
      });
      return z.NEVER;
    }
    if (client.secretHash === undefined) {
      addIssue(ctx, { path: ['secretHash'], message: `is required (${REHASH})` });
      return z.NEVER;
    }
    try {
      return { secretHash: parseClientSecretHash(client.secretHash), description: client.description };
    } catch (err) {
      if (!(err instanceof ClientSecretHashError)) throw err;
      addIssue(ctx, { path: ['secretHash'], message: err.message });
      return z.NEVER;
    }
  }),
);

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
const claimValue = z.pipe(
  z.unknown(),
  z.transform((value, ctx): string | boolean | string[] => {
    const schema =
      typeof value === 'string'
        ? pattern
        : typeof value === 'boolean'
          ? z.boolean()
          : Array.isArray(value)
            ? z.array(pattern).check(z.minLength(1), z.maxLength(MAX_CLAIM_ALTERNATIVES))
            : undefined;
    if (!schema) {
      addIssue(ctx, {
        message: `must be a pattern string, a boolean, or a non-empty list of pattern strings (got ${value === null ? 'null' : typeof value})`,
      });
      return z.NEVER;
    }
    const parsed = z.safeParse(schema, value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) addIssue(ctx, { message: issue.message, path: issue.path });
      return z.NEVER;
    }
    return parsed.data;
  }),
);

const oidcCallerSchema = z
  .strictObject({
    issuer: z.string().check(z.minLength(1)),
    subject: z.optional(pattern),
    email: z.optional(emailPattern),
    claims: z.optional(
      z.record(z.string(), claimValue).check(
        z.superRefine((claims, ctx) => {
          for (const key of Object.keys(claims)) {
            const problem = claimKeyProblem(key);
            if (problem) ctx.addIssue({ code: 'custom', message: problem, path: [key] });
          }
        }),
      ),
    ),
    /** Credentials accepted from this caller; default ID tokens only. `access_token` (Google only) is what `Impersonated` sends. */
    credentials: z.optional(z.array(z.enum(['id_token', 'access_token'])).check(z.minLength(1))),
  })
  .check(
    z.refine((c) => (c.subject === undefined) !== (c.email === undefined), {
      error: 'set exactly one of "subject" or "email"',
    }),
  );

const clientCallerSchema = z.strictObject({
  client: recordKey(/^[A-Za-z0-9_.-]{1,100}$/, 'client ids are plain identifiers'),
});

/**
 * One of two schemas, chosen by `test`, so a mistake is reported in the branch meant (a
 * `z.union` of both would only say "Invalid input").
 */
function pick<A extends z.core.$ZodType, B extends z.core.$ZodType>(
  test: (value: unknown) => boolean,
  branches: { yes: A; no: B },
) {
  return z.pipe(
    z.unknown(),
    z.transform((value, ctx): z.output<A> | z.output<B> => {
      const parsed = z.safeParse<A | B>(test(value) ? branches.yes : branches.no, value);
      if (parsed.success) return parsed.data;
      for (const issue of parsed.error.issues) addIssue(ctx, { message: issue.message, path: issue.path });
      return z.NEVER;
    }),
  );
}

/** A rule's caller: an OAuth client, or an OIDC identity; one schema for every section of the policy. */
const callerSchema = pick((value) => typeof value === 'object' && value !== null && 'client' in value, {
  yes: clientCallerSchema,
  no: oidcCallerSchema,
});

const ruleSchema = z.strictObject({
  name: z
    .string()
    .check(z.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits and dashes')),
  description: z.optional(z.string().check(z.maxLength(500))),
  caller: callerSchema,
  serviceAccounts: z.array(emailPattern).check(z.minLength(1)),
  scopes: z.optional(z.array(scopePattern)),
  idTokenAudiences: z.optional(z.array(pattern)),
  maxLifetimeSeconds: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(3600)), 3600),
  /** Which minting backend the rule's service accounts use; mixing needs an explicit "any". */
  backend: z.optional(z.enum(['key', 'keyless', 'any'])),
  /** A Credential Access Boundary for the access tokens this rule grants (access-boundary.ts); lazy: that module imports this one. */
  accessBoundary: z.optional(z.lazy(() => accessBoundarySchema)),
  /** Quotas for the callers this rule admits, overriding the policy's `limits` field by field. */
  limits: z.optional(limitsSchema),
});

/**
 * A caller in the break-glass `deny` list: everything from an issuer, or narrowed by subject,
 * email and claims (all given must match), or an OAuth client. Matching leans toward denial: an
 * email matches whether or not the issuer verified it.
 */
const denyOidcCallerSchema = z.strictObject({
  issuer: z.string().check(z.minLength(1)),
  subject: z.optional(pattern),
  email: z.optional(emailPattern),
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
  callers: z._default(z.array(denyCallerSchema).check(z.maxLength(1000)), []),
  serviceAccounts: z._default(z.array(emailPattern).check(z.maxLength(1000)), []),
  tokenFingerprints: z._default(
    z
      .array(z.string().check(z.regex(TOKEN_FINGERPRINT, 'must be "sha256:" and 64 lower-case hex digits')))
      .check(z.maxLength(10_000)),
    [],
  ),
});

/**
 * Whose user tokens a rule covers: an email glob (matched against the grant's stored email, which
 * the consent flow took from a verified ID token) or `sub:<digits>` (one Google account, stable).
 */
const userPattern = z
  .string()
  .check(
    z.regex(
      /^(sub:[0-9]{1,255}|[a-z0-9._%+*-]+@[a-z0-9.*-]+)$/,
      'must be a lower-case email or email glob, or "sub:" and a numeric Google account id',
    ),
  );

/** The user-token quotas: per caller (as a rule's `limits`, same defaults) plus per user (all callers of the rule together). */
const userLimitsSchema = z.extend(limitsSchema, {
  perUser: z.optional(
    z.strictObject({
      requestsPerMinute: z.optional(
        z
          .number()
          .check(
            z.int(),
            z.minimum(1),
            z.maximum(1_000_000),
            z.describe(
              "Requests for one user's tokens per minute per instance, all callers of the rule together (default 600).",
            ),
          ),
      ),
      mintsPerMinute: z.optional(
        z
          .number()
          .check(
            z.int(),
            z.minimum(1),
            z.maximum(100_000),
            z.describe(
              'Refreshes at Google for one user per minute per instance, all callers of the rule together (default 10).',
            ),
          ),
      ),
    }),
  ),
});

/** Which callers may have which users' access tokens, for which scopes (each must also be consented by the user). */
const userTokenRuleSchema = z.strictObject({
  name: ruleSchema.shape.name,
  description: z.optional(z.string().check(z.maxLength(500))),
  caller: callerSchema,
  users: z.array(userPattern).check(z.minLength(1), z.maxLength(1000)),
  scopes: z.array(scopePattern).check(z.minLength(1)),
  limits: z.optional(userLimitsSchema),
});

/**
 * Who may revoke users' grants (`:revokeGrant`); `users` narrows whose (default: everyone's);
 * `reasons` which revocation reasons the entry may record (default `ADMIN` only: `USER` — "the user
 * revoked" — is for the consent function acting on the user's own request).
 */
const userGrantAdminSchema = z.strictObject({
  name: ruleSchema.shape.name,
  description: z.optional(z.string().check(z.maxLength(500))),
  caller: callerSchema,
  users: z.optional(z.array(userPattern).check(z.minLength(1), z.maxLength(1000))),
  reasons: z._default(z.array(z.enum(['USER', 'ADMIN'])).check(z.minLength(1), z.maxLength(2)), ['ADMIN']),
});

export const policySchema = z.strictObject({
  /** The JSON Schema an editor validates the file with (docs/policy.schema.json); ignored. */
  $schema: z.optional(z.string().check(z.maxLength(2048))),
  version: z.literal(1),
  serviceAccounts: z.record(email, serviceAccountSchema),
  clients: z._default(
    z.record(recordKey(/^[A-Za-z0-9_.-]{1,100}$/, 'client ids are plain identifiers'), clientSchema),
    {},
  ),
  rules: z.array(ruleSchema).check(z.maxLength(1000)),
  deny: z.optional(denySchema),
  /** Quotas for every caller (per caller, per instance); rules may override them. */
  limits: z.optional(limitsSchema),
  /** User-delegated access tokens (issue 19): who may have which users' tokens. */
  userTokenRules: z._default(z.array(userTokenRuleSchema).check(z.maxLength(1000)), []),
  /** Who may revoke users' grants. */
  userGrantAdmins: z._default(z.array(userGrantAdminSchema).check(z.maxLength(100)), []),
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
  userPattern,
  maxClaimAlternatives: MAX_CLAIM_ALTERNATIVES,
} as const;
export type PolicyRule = PolicyDocument['rules'][number];
export type ServiceAccountEntry = PolicyDocument['serviceAccounts'][string];
export type UserTokenRuleDocument = PolicyDocument['userTokenRules'][number];
export type UserGrantAdminDocument = PolicyDocument['userGrantAdmins'][number];
