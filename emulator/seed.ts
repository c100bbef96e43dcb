import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { RestrictionsSchema } from './state/api-key-model.js';
import { CLIENT_ID } from './state/oauth-clients.js';
import { USER_SUB } from './state/oauth-users.js';

/** The seed the emulator starts with when none is given. */
export const DEFAULT_SEED_PATH = fileURLToPath(new URL('./seed/demo.json', import.meta.url));

const SA_EMAIL = /^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com$/;
const email = z
  .string()
  .regex(SA_EMAIL, 'must be a service-account email (name@project.iam.gserviceaccount.com)');
const stringMap = z.record(z.string(), z.string());

const VersionSeed = z.union([
  z.strictObject({ data: z.string() }),
  z.strictObject({ dataBase64: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64') }),
  z.strictObject({ serviceAccountKey: email }),
  /** The key string of a seeded API key (by id). */
  z.strictObject({ apiKeyString: z.string() }),
  /** The client secret of a seeded OAuth client (by client id). */
  z.strictObject({ oauthClientSecret: z.string() }),
]);

const SecretSeed = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, 'must be 1-255 letters, digits, - or _'),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
  versions: z.array(VersionSeed).default([]),
  versionAliases: z.record(z.string(), z.number().int().positive()).optional(),
});

const ServiceAccountSeed = z.strictObject({
  email,
  displayName: z.string().optional(),
  disabled: z.boolean().optional(),
  /** User-managed keys to create at start (their private halves are discarded, as at Google). */
  userManagedKeys: z.number().int().min(0).max(10).optional(),
});

/** An IAM binding on one service account: a predefined role, or a permission list (a custom role). */
const IamBindingSeed = z.strictObject({
  serviceAccount: email,
  member: z.string().regex(/^serviceAccount:.+@.+$/, 'must be serviceAccount:<email>'),
  role: z.union([
    z.string().regex(/^roles\/[A-Za-z.]+$/, 'must be a predefined role (roles/...)'),
    z.array(z.string().regex(/^iam\.[A-Za-z.]+$/)).min(1),
  ]),
});

/** An API Keys v2 key created at start (its key string is generated, never stored in the seed). */
const ApiKeySeed = z.strictObject({
  id: z.string().regex(/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must match [a-z]([a-z0-9-]{0,61}[a-z0-9])?'),
  displayName: z.string().max(63).optional(),
  restrictions: RestrictionsSchema.optional(),
});

/** An OAuth client (type web) registered at start; its secret is generated, never stored in the seed. */
const OAuthClientSeed = z.strictObject({
  clientId: z.string().regex(CLIENT_ID, 'must look like <number>-<id>.apps.googleusercontent.com'),
  displayName: z.string().optional(),
  redirectUris: z.array(z.url()).min(1),
});

/** A Google account that can sign in and consent at the emulated authorization endpoint. */
const OAuthUserSeed = z.strictObject({
  email: z.email(),
  sub: z.string().regex(USER_SUB, 'must be 1-21 digits').optional(),
  emailVerified: z.boolean().optional(),
  name: z.string().optional(),
});

export const SeedSchema = z
  .strictObject({
    projectId: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'must be a GCP project id'),
    projectNumber: z.string().regex(/^[1-9][0-9]{0,18}$/, 'must be a numeric project number'),
    serviceAccounts: z.array(ServiceAccountSeed).default([]),
    metadata: z.strictObject({ defaultServiceAccount: email.optional() }).optional(),
    secrets: z.array(SecretSeed).default([]),
    /** API Keys v2 keys (Gemini API keys) created at start. */
    apiKeys: z.array(ApiKeySeed).optional(),
    /** IAM bindings on service accounts (checked by the IAM Credentials endpoints). */
    iamBindings: z.array(IamBindingSeed).default([]),
    /** SAs listed in the org policy `iam.allowServiceAccountCredentialLifetimeExtension` (tokens up to 12 h). */
    lifetimeExtension: z.array(email).default([]),
    /** OAuth clients for the user-consent flow. */
    oauthClients: z.array(OAuthClientSeed).optional(),
    /** Users who can consent; the first is the account the emulated browser is signed in with. */
    oauthUsers: z.array(OAuthUserSeed).optional(),
  })
  .superRefine((seed, ctx) => {
    const emails = new Set<string>();
    seed.serviceAccounts.forEach((sa, i) => {
      if (emails.has(sa.email))
        ctx.addIssue({
          code: 'custom',
          path: ['serviceAccounts', i, 'email'],
          message: `duplicate service account ${sa.email}`,
        });
      emails.add(sa.email);
    });
    const defaultSa = seed.metadata?.defaultServiceAccount;
    if (defaultSa !== undefined && !emails.has(defaultSa)) {
      ctx.addIssue({
        code: 'custom',
        path: ['metadata', 'defaultServiceAccount'],
        message: `${defaultSa} is not in serviceAccounts`,
      });
    }
    seed.iamBindings.forEach((binding, i) => {
      if (!emails.has(binding.serviceAccount))
        ctx.addIssue({
          code: 'custom',
          path: ['iamBindings', i, 'serviceAccount'],
          message: `${binding.serviceAccount} is not in serviceAccounts`,
        });
    });
    const apiKeyIds = new Set<string>();
    (seed.apiKeys ?? []).forEach((key, i) => {
      if (apiKeyIds.has(key.id))
        ctx.addIssue({ code: 'custom', path: ['apiKeys', i, 'id'], message: `duplicate API key ${key.id}` });
      apiKeyIds.add(key.id);
    });
    const clientIds = new Set<string>();
    (seed.oauthClients ?? []).forEach((client, i) => {
      if (clientIds.has(client.clientId))
        ctx.addIssue({
          code: 'custom',
          path: ['oauthClients', i, 'clientId'],
          message: `duplicate OAuth client ${client.clientId}`,
        });
      clientIds.add(client.clientId);
    });
    const userKeys = new Set<string>();
    (seed.oauthUsers ?? []).forEach((user, i) => {
      for (const [field, key] of [
        ['email', user.email.toLowerCase()],
        ['sub', user.sub],
      ] as const) {
        if (key === undefined) continue;
        if (userKeys.has(key))
          ctx.addIssue({ code: 'custom', path: ['oauthUsers', i, field], message: `duplicate user ${key}` });
        userKeys.add(key);
      }
    });
    const ids = new Set<string>();
    seed.secrets.forEach((secret, i) => {
      if (ids.has(secret.id))
        ctx.addIssue({
          code: 'custom',
          path: ['secrets', i, 'id'],
          message: `duplicate secret ${secret.id}`,
        });
      ids.add(secret.id);
      secret.versions.forEach((version, j) => {
        if ('serviceAccountKey' in version && !emails.has(version.serviceAccountKey)) {
          ctx.addIssue({
            code: 'custom',
            path: ['secrets', i, 'versions', j, 'serviceAccountKey'],
            message: `${version.serviceAccountKey} is not in serviceAccounts`,
          });
        }
        if ('oauthClientSecret' in version && !clientIds.has(version.oauthClientSecret)) {
          ctx.addIssue({
            code: 'custom',
            path: ['secrets', i, 'versions', j, 'oauthClientSecret'],
            message: `${version.oauthClientSecret} is not in oauthClients`,
          });
        }
        if ('apiKeyString' in version && !apiKeyIds.has(version.apiKeyString)) {
          ctx.addIssue({
            code: 'custom',
            path: ['secrets', i, 'versions', j, 'apiKeyString'],
            message: `${version.apiKeyString} is not in apiKeys`,
          });
        }
      });
      for (const [alias, version] of Object.entries(secret.versionAliases ?? {})) {
        if (version > secret.versions.length) {
          ctx.addIssue({
            code: 'custom',
            path: ['secrets', i, 'versionAliases', alias],
            message: `version ${version} does not exist`,
          });
        }
      }
    });
  });

/** A validated seed. */
export type Seed = z.output<typeof SeedSchema>;
/** What a seed file may contain (defaults not yet applied). */
export type SeedInput = z.input<typeof SeedSchema>;
export type SecretVersionSeed = z.output<typeof VersionSeed>;

/** A seed that failed validation; the message lists every problem with its JSON path. */
export class SeedError extends Error {
  override readonly name = 'SeedError';
}

/** Validates a seed object, throwing {@link SeedError} with a readable list of problems. */
export function parseSeed(input: unknown, source = 'seed'): Seed {
  const parsed = SeedSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map(
    (issue) => `  - ${issue.path.join('.') || '(root)'}: ${issue.message}`,
  );
  throw new SeedError(`invalid emulator seed (${source}):\n${problems.join('\n')}`);
}

/** Loads a seed: an object is validated as is; a string is a path to a JSON file. Default: the demo seed. */
export async function loadSeed(seed: SeedInput | string = DEFAULT_SEED_PATH): Promise<Seed> {
  if (typeof seed !== 'string') return parseSeed(seed);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(seed, 'utf8')) as unknown;
  } catch (error) {
    throw new SeedError(
      `cannot read emulator seed ${seed}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  return parseSeed(json, seed);
}
