/**
 * The user-consent broker's custody Terraform (modules/user-consent, the token identity's grants
 * in modules/iam): a Firestore database with point-in-time recovery and delete protection, a
 * rotating KMS key, the OAuth client's secret without a version, and least privilege split
 * between the two identities — the consent side seals (KMS encrypt) and writes grants, the token
 * function unseals (KMS decrypt), reads grants and records revocations; neither holds both KMS
 * permissions on the grants key, nothing KMS or Firestore is granted project wide, and all of it
 * is off unless the example's `user_consent` is set. Each check also runs on a tampered copy.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Body, TfResource, TfTree } from './lib/hcl-tree.js';
import { blocks, loadTree, resolveStringList, resources, strings, text, treeFromSources, variables, where } from './lib/hcl-tree.js';
import { customRolePermissions } from './lib/rules-iam.js';

const ROOT = fileURLToPath(new URL('../../terraform', import.meta.url));
const MODULE = 'modules/user-consent';

/** Who may do what with the user-grants key, the grants database and the client secret. */
const EXPECTED = {
  key: {
    consent: ['cloudkms.cryptoKeyVersions.useToEncrypt'],
    token: ['cloudkms.cryptoKeyVersions.useToDecrypt'],
  },
  database: {
    consent: ['datastore.entities.create', 'datastore.entities.get', 'datastore.entities.update'],
    token: ['datastore.entities.get', 'datastore.entities.update'],
  },
  secret: {
    consent: ['secretmanager.versions.access'],
    token: ['secretmanager.versions.access'],
  },
} as const;

/** {@link EXPECTED} in the shape {@link consentGrants} returns. */
const EXPECTED_GRANTED = JSON.parse(JSON.stringify(EXPECTED)) as Record<keyof typeof EXPECTED, Record<'consent' | 'token', string[]>>;

type Who = 'consent' | 'token';
const whoIs = (member: string): Who | undefined =>
  /google_service_account\.consent\b/.test(member) ? 'consent' : /google_service_account\.token\b/.test(member) ? 'token' : undefined;

/** The grants on the user-grants key, database and secret, by identity, with every problem found. */
function consentGrants(tree: TfTree): { granted: Record<keyof typeof EXPECTED, Record<Who, string[]>>; problems: string[] } {
  const granted = { key: { consent: [], token: [] }, database: { consent: [], token: [] }, secret: { consent: [], token: [] } } as Record<
    keyof typeof EXPECTED,
    Record<Who, string[]>
  >;
  const problems: string[] = [];
  const add = (what: keyof typeof EXPECTED, r: TfResource, who: Who) => {
    const permissions = customRolePermissions(tree, r);
    if (!permissions) problems.push(`${where(r)}: ${who} holds ${text(r.body.role)}, not a custom role`);
    else granted[what][who].push(...permissions);
  };
  for (const r of resources(tree, /_iam_(member|binding|policy)$/)) {
    const who = whoIs(text(r.body.member));
    if (!who) continue;
    const onGrantsKey = r.type === 'google_kms_crypto_key_iam_member' && /google_kms_crypto_key\.grants\.id|var\.user_consent_crypto_key_id/.test(text(r.body.crypto_key_id));
    const onClientSecret = r.type === 'google_secret_manager_secret_iam_member' && /google_secret_manager_secret\.oauth_client\.id|var\.user_consent_client_secret_id/.test(text(r.body.secret_id));
    const condition = blocks(r.body, 'condition')[0];
    const onGrantsDatabase =
      r.type === 'google_project_iam_member' &&
      blocks(r.body, 'condition').length === 1 &&
      /^resource\.name == "\$\{(local\.database_name|var\.user_consent_database_name)\}"$/.test(text(condition?.expression));
    if (onGrantsKey) add('key', r, who);
    else if (onClientSecret) add('secret', r, who);
    else if (onGrantsDatabase) add('database', r, who);
    else if (who === 'consent') problems.push(`${where(r)}: the consent identity is granted something other than the grants key, database or secret`);
    else if (r.type === 'google_project_iam_member' && (customRolePermissions(tree, r) ?? [text(r.body.role)]).some((p) => /^(datastore|cloudkms)\.|roles\/(datastore|cloudkms)\./.test(p))) {
      problems.push(`${where(r)}: Firestore or KMS permissions for the token identity beyond the grants database`);
    }
  }
  for (const what of Object.keys(granted) as (keyof typeof EXPECTED)[]) for (const who of ['consent', 'token'] as const) granted[what][who].sort();
  return { granted, problems };
}

/** The real tree with one file replaced by an edited copy (the edit must change it). */
async function tampered(path: string, edit: (text: string) => string): Promise<TfTree> {
  const tree = await loadTree(ROOT);
  const original = await readFile(`${ROOT}/${path}`, 'utf8');
  const edited = edit(original);
  expect(edited).not.toBe(original);
  const replaced = await treeFromSources({ [path]: edited });
  return { files: tree.files.map((f) => (f.path === path ? replaced.files[0] : f)), dirs: tree.dirs };
}

describe('the user-consent custody Terraform', () => {
  let tree: TfTree;
  beforeAll(async () => {
    tree = await loadTree(ROOT);
  });
  const one = (type: string, name: string): TfResource => {
    const found = resources(tree, type).filter((r) => r.name === name && r.file.dir === MODULE);
    expect(found, `${type}.${name}`).toHaveLength(1);
    return found[0];
  };

  it('keeps grants in a named Firestore Native database with point-in-time recovery and delete protection', () => {
    const db = one('google_firestore_database', 'grants');
    expect(db.body.type).toBe('FIRESTORE_NATIVE');
    expect(text(db.body.name)).toBe('${var.name_prefix}-user-grants');
    expect(db.body.point_in_time_recovery_enablement).toBe('POINT_IN_TIME_RECOVERY_ENABLED');
    expect(db.body.delete_protection_state).toBe('DELETE_PROTECTION_ENABLED');
    expect(db.body.deletion_policy).toBe('ABANDON');
    expect(blocks(db.body, 'lifecycle')[0]?.prevent_destroy).toBe(true);
  });

  it('wraps data keys with a software ENCRYPT_DECRYPT key that rotates every 90 days by default and is never destroyed', () => {
    const key = one('google_kms_crypto_key', 'grants');
    expect(key.body.purpose).toBe('ENCRYPT_DECRYPT');
    expect(text(key.body.rotation_period)).toBe('${var.key_rotation_period}');
    expect(text(variables(tree, MODULE).get('key_rotation_period')?.default)).toBe('7776000s');
    expect(blocks(key.body, 'version_template')[0]).toMatchObject({ algorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION', protection_level: 'SOFTWARE' });
    expect(blocks(key.body, 'lifecycle')[0]?.prevent_destroy).toBe(true);
    expect(text(key.body.key_ring)).toBe('${google_kms_key_ring.grants.id}');
  });

  it('creates the OAuth client secret without a version, with a destroy TTL', () => {
    const secret = one('google_secret_manager_secret', 'oauth_client');
    expect(text(secret.body.labels)).toContain('"tvs-kind" = "oauth-client-secret"');
    expect(text(secret.body.version_destroy_ttl)).not.toBe('');
    expect(resources(tree, /^google_secret_manager(_regional)?_secret_version$/)).toEqual([]);
  });

  it('splits the key: the consent side may only encrypt, the token identity may only decrypt; Firestore and the secret as designed', () => {
    const { granted, problems } = consentGrants(tree);
    expect(problems).toEqual([]);
    expect(granted).toEqual(EXPECTED_GRANTED);
  });

  it('binds KMS on the grants key and Firestore on the grants database only: no key-ring, project-wide, predefined or admin grant', () => {
    expect(resources(tree, /^google_kms_key_ring_iam_/)).toEqual([]);
    for (const r of resources(tree, /^google_(project|folder|organization)_iam_(member|binding|policy)$/)) {
      const role = text(r.body.role);
      expect(role, where(r)).not.toMatch(/^roles\/(cloudkms|datastore|firebase)/);
      const permissions = customRolePermissions(tree, r) ?? [];
      if (permissions.some((p) => /^(datastore|cloudkms)\./.test(p))) {
        expect(blocks(r.body, 'condition'), `${where(r)} must be conditioned on the grants database`).toHaveLength(1);
      }
    }
    // No identity may list, delete, export or import grants, or manage the database.
    const firestore = resources(tree, 'google_project_iam_custom_role').flatMap((r) => strings(r.body.permissions)).filter((p) => p.startsWith('datastore.'));
    expect([...new Set(firestore)].sort()).toEqual(['datastore.entities.create', 'datastore.entities.get', 'datastore.entities.update']);
  });

  it('is off by default: the example creates nothing and the iam module grants nothing unless user_consent is set', () => {
    const example = variables(tree, 'examples/complete').get('user_consent')!;
    expect(example.default).toBeNull();
    const call = (tree.files.find((f) => f.path === 'examples/complete/main.tf')!.json.module as Record<string, Body[]>).user_consent[0];
    expect(call.source).toBe('../../modules/user-consent');
    expect(text(call.count)).toBe('${var.user_consent != null ? 1 : 0}');
    const iamCall = (tree.files.find((f) => f.path === 'examples/complete/main.tf')!.json.module as Record<string, Body[]>).iam[0];
    expect(text(iamCall.enable_user_consent)).toBe('${var.user_consent != null}');
    expect(variables(tree, 'modules/iam').get('enable_user_consent')?.default).toBe(false);
    for (const name of ['token_grant_key_decrypter', 'token_grant_reader', 'token_grant_key', 'token_grants', 'token_oauth_client_secret']) {
      const r = resources(tree).find((x) => x.name === name && x.file.dir === 'modules/iam')!;
      expect(text(r.body.count), name).toBe('${var.enable_user_consent ? 1 : 0}');
    }
    const apis = tree.files.find((f) => f.path === 'examples/complete/main.tf')!;
    expect(text((apis.json.locals as Body[])[0].apis)).toContain(
      'var.user_consent != null ? ["cloudkms.googleapis.com", "compute.googleapis.com", "firestore.googleapis.com", "iap.googleapis.com"] : []',
    );
    const modules = apis.json.module as Record<string, Body[]>;
    expect(text(modules.consent_function[0].count)).toBe('${var.user_consent != null ? 1 : 0}');
    expect(text(modules.token_vendor[0].user_consent_environment)).toBe('${var.user_consent != null ? module.user_consent[0].environment : {}}');
    expect(variables(tree, 'modules/token-vendor').get('user_consent_environment')?.default).toEqual({});
  });

  it('puts the consent function behind IAP only: IAP on every backend, IAP\'s agent the only invoker, members never public', () => {
    const dir = 'modules/consent-function';
    const here = (type: string) => resources(tree, type).filter((r) => r.file.dir === dir);
    const [fn] = here('google_cloudfunctions2_function');
    expect(text(blocks(fn.body, 'build_config')[0].entry_point)).toBe('consent');
    expect(text(blocks(fn.body, 'service_config')[0].ingress_settings)).toBe('ALLOW_INTERNAL_AND_GCLB');
    const backends = here('google_compute_backend_service');
    expect(backends.length).toBe(1);
    expect(blocks(backends[0].body, 'iap')[0]?.enabled).toBe(true);
    const invokers = here('google_cloud_run_v2_service_iam_member');
    expect(invokers.map((r) => [text(r.body.role), text(r.body.member)])).toEqual([['roles/run.invoker', '${local.iap_service_agent}']]);
    const env = JSON.stringify(fn.file.json.locals);
    expect(env).toContain('serviceAccount:service-${var.project_number}@gcp-sa-iap.iam.gserviceaccount.com');
    for (const name of ['TVS_CONSENT_REDIRECT_URI', 'TVS_CONSENT_RETURN_TO_ORIGINS', 'TVS_CONSENT_SCOPES', 'TVS_IAP_AUDIENCE', 'TVS_TOKEN_FUNCTION_URL', 'GOOGLE_CLOUD_PROJECT'])
      expect(env).toContain(name);
    expect(env).toContain('/global/backendServices/${google_compute_backend_service.consent.generated_id}');
    expect(env).toContain('var.grants_environment');
    // The grants' variables both functions require (shared/user-grants/user-grants-config.ts) come from the custody module.
    const output = JSON.stringify(tree.files.find((f) => f.path === 'modules/user-consent/outputs.tf')!.json.output);
    for (const name of ['TVS_USER_CONSENT_CLIENT_ID', 'TVS_USER_CONSENT_CLIENT_SECRET', 'TVS_USER_GRANTS_DATABASE', 'TVS_USER_GRANTS_KMS_KEY'])
      expect(output).toContain(name);
    const members = variables(tree, dir).get('iap_members')!;
    expect(JSON.stringify(members)).toContain('allAuthenticatedUsers');
  });

  it('puts Firestore and Cloud KMS inside the perimeter', () => {
    const perimeter = resources(tree, 'google_access_context_manager_service_perimeter')[0];
    for (const mode of ['spec', 'status']) {
      const services = resolveStringList(tree, perimeter.file.dir, blocks(perimeter.body, mode)[0]?.restricted_services);
      expect(services).toEqual(expect.arrayContaining(['firestore.googleapis.com', 'cloudkms.googleapis.com']));
    }
  });

  it.each([
    ['the consent role also decrypts', `${MODULE}/main.tf`, (t: string) => t.replace('permissions = ["cloudkms.cryptoKeyVersions.useToEncrypt"]', 'permissions = ["cloudkms.cryptoKeyVersions.useToEncrypt", "cloudkms.cryptoKeyVersions.useToDecrypt"]')],
    ['the token role also encrypts', 'modules/iam/main.tf', (t: string) => t.replace('permissions = ["cloudkms.cryptoKeyVersions.useToDecrypt"]', 'permissions = ["cloudkms.cryptoKeyVersions.useToDecrypt", "cloudkms.cryptoKeyVersions.useToEncrypt"]')],
    ['the token role may delete grants', 'modules/iam/main.tf', (t: string) => t.replace('"datastore.entities.update",\n  ]', '"datastore.entities.update",\n    "datastore.entities.delete",\n  ]')],
    ['the consent grant loses its database condition', `${MODULE}/main.tf`, (t: string) => t.replace('expression  = "resource.name == \\"${local.database_name}\\""', 'expression  = "true"')],
    ['the consent side holds roles/datastore.user', `${MODULE}/main.tf`, (t: string) => t.replace('role    = google_project_iam_custom_role.consent_grant_writer.name', 'role    = "roles/datastore.user"')],
  ])('refuses a tampered copy where %s', async (_case, path, edit) => {
    const { granted, problems } = consentGrants(await tampered(path, edit));
    // Either a refused shape is reported or the grants differ from the design: the split check fails.
    expect(problems.length > 0 || JSON.stringify(granted) !== JSON.stringify(EXPECTED_GRANTED)).toBe(true);
  });
});
