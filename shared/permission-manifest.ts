/**
 * The single declaration of every Google API method the functions call and the IAM permission
 * each needs. The adapters in `shared/gcp/` import it and stay true to it;
 * `test/terraform/permission-manifest.test.ts` checks that Terraform grants each function's
 * runtime identity exactly these permissions, at these scopes, and nothing more. Adding a call
 * here without its grant, or a grant in Terraform without its call here, fails that test.
 */

/**
 * Where a permission is granted: the whole project, one Secret Manager secret, one service
 * account, one Cloud KMS key, or one Firestore database. API Keys has no per-key IAM, so its
 * permissions are project scoped. Firestore has no IAM below the project: `database` is a
 * project grant with an IAM condition on the database's name, and nothing narrower (collection,
 * document) exists.
 */
export type Scope = 'project' | 'secret' | 'serviceAccount' | 'cryptoKey' | 'database';

/** One Google API method a function calls, and what IAM must allow for it. */
export interface GoogleCall {
  /** Service host, e.g. `secretmanager.googleapis.com`. */
  readonly api: string;
  /** RPC / REST method name, e.g. `AccessSecretVersion`. */
  readonly method: string;
  /** The IAM permission the method checks. */
  readonly permission: string;
  /** The narrowest resource the permission can be granted on for this use. */
  readonly on: Scope;
  /** Which resources of that scope, in words (documentation for reviewers). */
  readonly which: string;
}

/** The functions, named after the runtime identity they run as. */
export type FunctionName = 'token' | 'rotate';

const SM = 'secretmanager.googleapis.com';
const MANAGED = 'each managed secret (label tvs-managed=true)';

/** Calls made with the token function's runtime identity. */
const TOKEN_CALLS: readonly GoogleCall[] = [
  {
    api: SM,
    method: 'AccessSecretVersion',
    permission: 'secretmanager.versions.access',
    on: 'secret',
    which:
      'each SA-key secret, the policy secret, the shared cache AUTH secret (when the tier is on) and the OAuth client secret (when the user-consent broker is on)',
  },
  {
    api: 'iamcredentials.googleapis.com',
    method: 'GenerateAccessToken',
    permission: 'iam.serviceAccounts.getAccessToken',
    on: 'serviceAccount',
    which: 'each keyless target service account',
  },
  {
    api: 'iamcredentials.googleapis.com',
    method: 'GenerateIdToken',
    permission: 'iam.serviceAccounts.getOpenIdToken',
    on: 'serviceAccount',
    which: 'each keyless target service account',
  },
  // The user-consent broker (issue 19; modules/user-consent, when enabled): the token function reads
  // a user's sealed grant from the grants database over Firestore REST, records a revocation on
  // Google's invalid_grant (PATCH), unwraps the grant's data key with the grants key (the Decrypt
  // entry below) and reads the OAuth client's secret (AccessSecretVersion above) to refresh.
  {
    api: 'firestore.googleapis.com',
    method: 'projects.databases.documents.get',
    permission: 'datastore.entities.get',
    on: 'database',
    which: 'the user-grants database only (when the broker is on)',
  },
  {
    api: 'firestore.googleapis.com',
    method: 'projects.databases.documents.patch',
    permission: 'datastore.entities.update',
    on: 'database',
    which: 'the user-grants database only (when the broker is on): the revocation tombstone',
  },
  // The shared cache tier (shared/crypto/kms-client.ts): wraps and unwraps its data keys.
  {
    api: 'cloudkms.googleapis.com',
    method: 'Encrypt',
    permission: 'cloudkms.cryptoKeyVersions.useToEncrypt',
    on: 'cryptoKey',
    which: 'the shared cache key only (when the tier is on)',
  },
  {
    api: 'cloudkms.googleapis.com',
    method: 'Decrypt',
    permission: 'cloudkms.cryptoKeyVersions.useToDecrypt',
    on: 'cryptoKey',
    which:
      'the shared cache key (when the tier is on) and the user-grants key (when the user-consent broker is on)',
  },
];

const saKeys = (method: string, verb: string): GoogleCall => ({
  api: 'iam.googleapis.com',
  method: `projects.serviceAccounts.keys.${method}`,
  permission: `iam.serviceAccountKeys.${verb}`,
  on: 'serviceAccount',
  which: 'each SA-key target service account',
});

const apiKeys = (method: string, permission: string): GoogleCall => ({
  api: 'apikeys.googleapis.com',
  method,
  permission,
  on: 'project',
  which: 'the project (API Keys has no per-key IAM)',
});

const secret = (method: string, permission: string): GoogleCall => ({
  api: SM,
  method,
  permission,
  on: 'secret',
  which: MANAGED,
});

/**
 * Calls made with the rotator's runtime identity (both `rotate` and `rotateOnEvent`): exactly the
 * ones `functions/rotate` makes. Rollback by hand (docs/rotation.md) uses an operator's identity.
 */
const ROTATE_CALLS: readonly GoogleCall[] = [
  {
    api: SM,
    method: 'ListSecrets',
    permission: 'secretmanager.secrets.list',
    on: 'project',
    which: 'the project (finds managed secrets by label)',
  },
  secret('GetSecret', 'secretmanager.secrets.get'),
  secret('UpdateSecret', 'secretmanager.secrets.update'),
  secret('AddSecretVersion', 'secretmanager.versions.add'),
  secret('AccessSecretVersion', 'secretmanager.versions.access'),
  secret('ListSecretVersions', 'secretmanager.versions.list'),
  secret('DisableSecretVersion', 'secretmanager.versions.disable'),
  secret('DestroySecretVersion', 'secretmanager.versions.destroy'),
  saKeys('create', 'create'),
  saKeys('list', 'list'),
  saKeys('disable', 'disable'),
  saKeys('delete', 'delete'),
  apiKeys('CreateKey', 'apikeys.keys.create'),
  apiKeys('GetKey', 'apikeys.keys.get'),
  apiKeys('GetKeyString', 'apikeys.keys.getKeyString'),
  apiKeys('DeleteKey', 'apikeys.keys.delete'),
  // API Keys writes are long-running operations, polled through Service Usage.
  {
    api: 'apikeys.googleapis.com',
    method: 'GetOperation',
    permission: 'serviceusage.operations.get',
    on: 'project',
    which: 'the project',
  },
];

/** Every Google call each function makes that IAM checks. */
export const PERMISSION_MANIFEST: Readonly<Record<FunctionName, readonly GoogleCall[]>> = {
  token: TOKEN_CALLS,
  rotate: ROTATE_CALLS,
};

/** Calls the functions make that need no IAM permission, and why (kept here so nobody adds a grant for them). */
export const CALLS_WITHOUT_IAM: readonly {
  readonly api: string;
  readonly method: string;
  readonly why: string;
}[] = [
  {
    api: 'oauth2.googleapis.com',
    method: 'token (jwt-bearer grant)',
    why: 'authenticated by the signed assertion itself',
  },
  {
    api: 'metadata.google.internal',
    method: 'instance/service-accounts/default/token',
    why: "the runtime's own access token for IAM Credentials calls (keyless backend); the metadata server needs no IAM",
  },
  {
    api: 'logging.googleapis.com',
    method: 'audit entries',
    why: 'written as structured JSON to stdout (LogSync) and collected by the platform',
  },
  {
    api: 'generativelanguage.googleapis.com',
    method: 'generateContent (new API key check)',
    why: 'authenticated by the API key under test',
  },
];

/** The permissions `calls` need, grouped by scope, each list sorted and without duplicates. */
export function permissionsByScope(calls: readonly GoogleCall[]): Record<Scope, string[]> {
  const byScope: Record<Scope, Set<string>> = {
    project: new Set(),
    secret: new Set(),
    serviceAccount: new Set(),
    cryptoKey: new Set(),
    database: new Set(),
  };
  for (const call of calls) byScope[call.on].add(call.permission);
  return {
    project: [...byScope.project].sort(),
    secret: [...byScope.secret].sort(),
    serviceAccount: [...byScope.serviceAccount].sort(),
    cryptoKey: [...byScope.cryptoKey].sort(),
    database: [...byScope.database].sort(),
  };
}
