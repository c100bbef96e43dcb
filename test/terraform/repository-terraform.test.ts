import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TfTree } from './lib/hcl-tree.js';
import { blocks, loadTree, resources, text } from './lib/hcl-tree.js';
import { RULES } from './lib/policy-rules.js';

const ROOT = fileURLToPath(new URL('../../terraform', import.meta.url));

describe('the repository Terraform', () => {
  let tree: TfTree;
  beforeAll(async () => {
    tree = await loadTree(ROOT);
  });

  it('holds the six modules and the complete example, and the deploy README at its root', () => {
    expect(tree.dirs.get('.')?.has('README.md')).toBe(true);
    expect([...tree.dirs.keys()].filter((d) => d !== '.').sort()).toEqual([
      'examples/complete',
      'modules/audit',
      'modules/iam',
      'modules/perimeter',
      'modules/rotation',
      'modules/secrets',
      'modules/token-vendor',
    ]);
  });

  it.each(Object.keys(RULES))('passes the %s rule', (name) => {
    expect(RULES[name](tree)).toEqual([]);
  });

  it('deploys the three entry points the code exports, as gen2 functions', () => {
    const entryPoints = resources(tree, 'google_cloudfunctions2_function')
      .map((r) => text(blocks(r.body, 'build_config')[0]?.entry_point))
      .sort();
    expect(entryPoints).toEqual(['rotate', 'rotateOnEvent', 'token']);
  });

  it('passes the token function every environment variable its config requires', () => {
    const fn = resources(tree, 'google_cloudfunctions2_function').find((r) => r.name === 'token')!;
    const env = text(blocks(fn.body, 'service_config')[0]?.environment_variables);
    expect(env).toBe('${local.environment}');
    const localsText = JSON.stringify(fn.file.json.locals);
    for (const name of ['TVS_AUDIENCE', 'TVS_POLICY_SECRET', 'TVS_POLICY_FILE', 'TVS_OIDC_ISSUERS', 'TVS_TOKEN_URI_ALLOWLIST', 'TVS_AUDIT_LOG_NAME', 'TVS_POLICY_MAX_STALENESS_SECONDS', 'GOOGLE_CLOUD_PROJECT']) {
      expect(localsText).toContain(name);
    }
  });

  it('lets the build identity and the audit sinks through the perimeter in the complete example', () => {
    const example = tree.files.find((f) => f.path === 'examples/complete/main.tf')!;
    const perimeter = ((example.json.module as Record<string, unknown[]>).perimeter[0]) as Record<string, unknown>;
    expect(text(perimeter.build_identities as never)).toContain('module.iam.build_service_account_email');
    expect(perimeter.sink_writer_identities).toBe('${module.audit.sink_writer_identities}');
  });

  it('declares the keyless_service_accounts variable and grants keyless minting per service account only', () => {
    const grant = resources(tree, 'google_service_account_iam_member').find((r) => r.name === 'token_keyless')!;
    expect(text(grant.body.for_each)).toBe('${var.keyless_service_accounts}');
    expect(resources(tree, 'google_project_iam_member').map((r) => text(r.body.role)).join(' ')).not.toMatch(/keyless/i);
  });
});

describe('what the secrets module writes is what the rotation function reads', () => {
  // Google: 1-63 chars, alphanumeric at both ends, only - _ . inside (no '/').
  const ANNOTATION_KEY = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

  it('uses annotation keys Secret Manager accepts and the rotator reads', async () => {
    const { CONFIG_ANNOTATIONS } = await import('../../functions/rotate/state.js');
    const tree = await loadTree(ROOT);
    const secret = resources(tree, 'google_secret_manager_secret').find((r) => r.name === 'managed');
    expect(secret).toBeDefined();
    const annotations = (secret!.body.annotations ?? {}) as Record<string, unknown>;
    const keys = Object.keys(annotations).sort();
    expect(keys.every((k) => ANNOTATION_KEY.test(k))).toBe(true);
    expect(keys).toEqual(Object.values(CONFIG_ANNOTATIONS).sort());
  });
});
