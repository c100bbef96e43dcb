/**
 * The shared cache tier's Terraform: Memorystore with AUTH and TLS, a rotating KMS key, the token
 * identity's least-privilege grants on THAT key and secret only (custom role, in modules/iam),
 * the function's VPC egress and TVS_SHARED_CACHE_* variables, all off by default.
 */
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TfTree } from './lib/hcl-tree.js';
import { blocks, loadTree, resources, strings, text, variables } from './lib/hcl-tree.js';

const ROOT = fileURLToPath(new URL('../../terraform', import.meta.url));

describe('the shared cache tier in Terraform', () => {
  let tree: TfTree;
  beforeAll(async () => {
    tree = await loadTree(ROOT);
  });
  const one = (type: string, name?: string) => {
    const found = resources(tree, type).filter((r) => name === undefined || r.name === name);
    expect(found, `${type}.${name ?? '*'}`).toHaveLength(1);
    return found[0];
  };

  it('runs Memorystore with AUTH and in-transit encryption with server authentication', () => {
    const redis = one('google_redis_instance');
    expect(redis.file.dir).toBe('modules/shared-cache');
    expect(redis.body.auth_enabled).toBe(true);
    expect(redis.body.transit_encryption_mode).toBe('SERVER_AUTHENTICATION');
    expect(text(redis.body.redis_configs)).toContain('volatile-ttl');
  });

  it('wraps data keys with a software KMS key that rotates', () => {
    const key = resources(tree, 'google_kms_crypto_key').find((r) => r.name === 'cache')!;
    expect(key.file.dir).toBe('modules/shared-cache');
    expect(key.body.purpose).toBe('ENCRYPT_DECRYPT');
    expect(text(key.body.rotation_period)).toBe('${var.key_rotation_period}');
    expect(text(blocks(key.body, 'version_template')[0]?.algorithm)).toBe('GOOGLE_SYMMETRIC_ENCRYPTION');
    const rotation = variables(tree, 'modules/shared-cache').get('key_rotation_period')!;
    expect(text(rotation.default)).toBe('7776000s');
  });

  it('grants the token identity encrypt/decrypt on that key only, through a custom role in modules/iam', () => {
    const grant = one('google_kms_crypto_key_iam_member', 'token_cache_key');
    expect(grant.file.dir).toBe('modules/iam');
    // The only other KMS grants: the Secret Manager agent's on the optional CMEK key, and the
    // user-consent broker's on the user-grants key (test/terraform/user-consent.test.ts), never on this key.
    expect(
      resources(tree, 'google_kms_crypto_key_iam_member')
        .filter((r) => r.name !== 'token_cache_key')
        .map((r) => `${r.name}: ${text(r.body.member)} on ${text(r.body.crypto_key_id)}`)
        .sort(),
    ).toEqual([
      'consent_key: ${google_service_account.consent.member} on ${google_kms_crypto_key.grants.id}',
      'secret_manager_cmek: ${local.secret_manager_agent} on ${var.kms_key_name}',
      'token_grant_key: ${google_service_account.token.member} on ${var.user_consent_crypto_key_id}',
    ]);
    expect(text(grant.body.member)).toBe('${google_service_account.token.member}');
    expect(text(grant.body.crypto_key_id)).toBe('${var.shared_cache_crypto_key_id}');
    expect(text(grant.body.role)).toBe('${google_project_iam_custom_role.token_cache_key_user[0].name}');
    const role = one('google_project_iam_custom_role', 'token_cache_key_user');
    expect(strings(role.body.permissions).sort()).toEqual([
      'cloudkms.cryptoKeyVersions.useToDecrypt',
      'cloudkms.cryptoKeyVersions.useToEncrypt',
    ]);
    // No KMS grant anywhere else: not on the key ring, not on the project.
    expect(resources(tree, /^google_kms_key_ring_iam_/)).toEqual([]);
    const secret = one('google_secret_manager_secret_iam_member', 'token_cache_auth_secret');
    expect(text(secret.body.secret_id)).toBe('${var.shared_cache_auth_secret_id}');
  });

  it('creates the AUTH secret without a version (nothing secret in a Terraform resource)', () => {
    const secret = one('google_secret_manager_secret', 'auth');
    expect(text(secret.body.labels)).toContain('"tvs-kind" = "shared-cache-auth"');
    expect(resources(tree, 'google_secret_manager_secret_version')).toEqual([]);
  });

  it('gives the function private-range egress through the connector and the tier’s variables, off by default', () => {
    const fn = resources(tree, 'google_cloudfunctions2_function').find((r) => r.name === 'token')!;
    const config = blocks(fn.body, 'service_config')[0];
    expect(text(config.vpc_connector)).toBe('${var.vpc_connector}');
    expect(text(config.vpc_connector_egress_settings)).toBe('${var.vpc_connector == null ? null : "PRIVATE_RANGES_ONLY"}');
    const example = variables(tree, 'examples/complete').get('enable_shared_cache')!;
    expect(example.default).toBe(false);
    const env = text(tree.files.find((f) => f.path.endsWith('shared-cache/outputs.tf'))!.json.output);
    expect(env).toContain('rediss://${google_redis_instance.cache.host}:${google_redis_instance.cache.port}');
    expect(env).toContain('TVS_SHARED_CACHE_CA');
  });
});
