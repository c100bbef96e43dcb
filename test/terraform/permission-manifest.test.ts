import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GoogleCall } from '../../shared/permission-manifest.js';
import { CALLS_WITHOUT_IAM, PERMISSION_MANIFEST, permissionsByScope } from '../../shared/permission-manifest.js';
import { compareManifest, grantsToRuntimeIdentities } from './lib/grants.js';
import type { TfTree } from './lib/hcl-tree.js';
import { loadTree, treeFromSources } from './lib/hcl-tree.js';

const ROOT = fileURLToPath(new URL('../../terraform', import.meta.url));
const IAM_MAIN = `${ROOT}/modules/iam/main.tf`;
/** The iam module's variables: their validations tell which grants are confined to one Firestore database. */
const IAM_VARIABLES = `${ROOT}/modules/iam/variables.tf`;

/** The iam module with its main.tf edited. */
async function withIamMain(edit: (text: string) => string): Promise<TfTree> {
  const original = await readFile(IAM_MAIN, 'utf8');
  const edited = edit(original);
  expect(edited).not.toBe(original);
  return treeFromSources({ 'modules/iam/main.tf': edited, 'modules/iam/variables.tf': await readFile(IAM_VARIABLES, 'utf8') });
}

describe('the permission manifest', () => {
  let tree: TfTree;
  beforeAll(async () => {
    tree = await loadTree(ROOT);
  });

  it('matches what Terraform grants each runtime identity, permission for permission', () => {
    expect(compareManifest(PERMISSION_MANIFEST, tree)).toEqual([]);
  });

  it('is granted to the token identity as per-secret access and per-SA keyless minting, nothing at project level', () => {
    const { granted } = grantsToRuntimeIdentities(tree);
    expect([...granted.token.project]).toEqual([]);
    expect([...granted.token.secret]).toEqual(['secretmanager.versions.access']);
    expect([...granted.token.serviceAccount].sort()).toEqual(['iam.serviceAccounts.getAccessToken', 'iam.serviceAccounts.getOpenIdToken']);
  });

  it('gives the token identity Firestore get/update on the user-grants database only, and KMS decrypt but never encrypt there', () => {
    const { granted } = grantsToRuntimeIdentities(tree);
    expect([...granted.token.database].sort()).toEqual(['datastore.entities.get', 'datastore.entities.update']);
    // Decrypt and encrypt come from the shared cache's key; the user-grants key adds decrypt only (user-consent.test.ts).
    expect([...granted.token.cryptoKey].sort()).toEqual(['cloudkms.cryptoKeyVersions.useToDecrypt', 'cloudkms.cryptoKeyVersions.useToEncrypt']);
  });

  it('counts a Firestore grant without its database condition as project wide, and fails', async () => {
    const bad = await withIamMain((t) => t.replace(/(resource "google_project_iam_member" "token_grants" \{[^]*?)\n  condition \{[^]*?\n  \}\n/, '$1\n'));
    expect(compareManifest(PERMISSION_MANIFEST, bad).sort()).toEqual([
      'token: datastore.entities.get is granted on project but no call in the manifest needs it',
      'token: datastore.entities.get on database is needed by projects.databases.documents.get but not granted',
      'token: datastore.entities.update is granted on project but no call in the manifest needs it',
      'token: datastore.entities.update on database is needed by projects.databases.documents.patch but not granted',
    ]);
  });

  it('counts a Firestore grant conditioned on something other than one database as project wide', async () => {
    const bad = await withIamMain((t) => t.replace('expression  = "resource.name == \\"${var.user_consent_database_name}\\""', 'expression  = "resource.name.startsWith(\\"projects/\\")"'));
    expect(compareManifest(PERMISSION_MANIFEST, bad)).toContain('token: datastore.entities.get is granted on project but no call in the manifest needs it');
  });

  it('keeps the rotator at project level to ListSecrets, API Keys and their operations', () => {
    expect(permissionsByScope(PERMISSION_MANIFEST.rotate).project).toEqual([
      'apikeys.keys.create',
      'apikeys.keys.delete',
      'apikeys.keys.get',
      'apikeys.keys.getKeyString',
      'secretmanager.secrets.list',
      'serviceusage.operations.get',
    ]);
  });

  it('declares no permission for the calls that need none', () => {
    const all = [...PERMISSION_MANIFEST.token, ...PERMISSION_MANIFEST.rotate];
    for (const free of CALLS_WITHOUT_IAM) expect(all.some((c) => c.api === free.api)).toBe(false);
    expect(all.some((c) => c.permission.startsWith('logging.'))).toBe(false);
  });

  it('fails when the code declares a call whose permission Terraform does not grant', () => {
    const extra: GoogleCall = { api: 'secretmanager.googleapis.com', method: 'DeleteSecret', permission: 'secretmanager.secrets.delete', on: 'secret', which: 'x' };
    const problems = compareManifest({ ...PERMISSION_MANIFEST, rotate: [...PERMISSION_MANIFEST.rotate, extra] }, tree);
    expect(problems).toEqual(['rotate: secretmanager.secrets.delete on secret is needed by DeleteSecret but not granted']);
  });

  it('fails when a call is declared at a scope Terraform does not grant it at', () => {
    const moved = PERMISSION_MANIFEST.token.map((c) => (c.method === 'AccessSecretVersion' ? { ...c, on: 'project' as const } : c));
    const problems = compareManifest({ ...PERMISSION_MANIFEST, token: moved }, tree);
    expect(problems).toContain('token: secretmanager.versions.access on project is needed by AccessSecretVersion but not granted');
    expect(problems).toContain('token: secretmanager.versions.access is granted on secret but no call in the manifest needs it');
  });

  it('fails when Terraform grants a permission no declared call needs', async () => {
    const bad = await withIamMain((t) => t.replace('"secretmanager.secrets.update",', '"secretmanager.secrets.update",\n    "secretmanager.secrets.delete",'));
    expect(compareManifest(PERMISSION_MANIFEST, bad)).toEqual(['rotate: secretmanager.secrets.delete is granted on secret but no call in the manifest needs it']);
  });

  it('fails when a declared call is removed from the manifest but still granted', () => {
    const without = PERMISSION_MANIFEST.rotate.filter((c) => c.method !== 'GetKeyString');
    expect(compareManifest({ ...PERMISSION_MANIFEST, rotate: without }, tree)).toEqual([
      'rotate: apikeys.keys.getKeyString is granted on project but no call in the manifest needs it',
    ]);
  });

  it('fails when a runtime identity holds a predefined role', async () => {
    const bad = await withIamMain((t) => `${t}
resource "google_project_iam_member" "token_viewer" {
  project = var.project_id
  role    = "roles/secretmanager.viewer"
  member  = google_service_account.token.member
}`);
    expect(compareManifest(PERMISSION_MANIFEST, bad)).toEqual([
      'modules/iam/main.tf: google_project_iam_member.token_viewer: the token identity holds roles/secretmanager.viewer; runtime identities hold custom roles only',
    ]);
  });

  it('fails when a runtime identity is granted something outside the iam module', async () => {
    const bad = await treeFromSources({
      'modules/iam/main.tf': await readFile(IAM_MAIN, 'utf8'),
      'modules/iam/variables.tf': await readFile(IAM_VARIABLES, 'utf8'),
      'modules/other/main.tf': 'resource "google_pubsub_topic_iam_member" "m" {\n role = "roles/pubsub.publisher"\n member = "serviceAccount:${var.rotator_service_account_email}"\n}',
    });
    expect(compareManifest(PERMISSION_MANIFEST, bad)).toEqual([
      'modules/other/main.tf: google_pubsub_topic_iam_member.m: grants to the rotate identity outside modules/iam',
    ]);
  });

  it('fails when a secret permission is granted at project level instead of per secret', async () => {
    const bad = await withIamMain((t) =>
      t.replace('resource "google_secret_manager_secret_iam_member" "token_key_secrets" {\n  for_each = var.key_secret_ids\n\n  project   = var.project_id\n  secret_id = each.value\n', 'resource "google_project_iam_member" "token_key_secrets" {\n  project   = var.project_id\n'),
    );
    expect(compareManifest(PERMISSION_MANIFEST, bad)).toContain('token: secretmanager.versions.access is granted on project but no call in the manifest needs it');
  });
});
