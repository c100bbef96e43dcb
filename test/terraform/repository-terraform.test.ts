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

  it('holds the nine modules and the complete example, and the deploy README at its root', () => {
    expect(tree.dirs.get('.')?.has('README.md')).toBe(true);
    expect([...tree.dirs.keys()].filter((d) => d !== '.').sort()).toEqual([
      'examples/complete',
      'modules/audit',
      'modules/consent-function',
      'modules/iam',
      'modules/perimeter',
      'modules/rotation',
      'modules/secrets',
      'modules/shared-cache',
      'modules/token-vendor',
      'modules/user-consent',
    ]);
  });

  it.each(Object.keys(RULES))('passes the %s rule', (name) => {
    expect(RULES[name](tree)).toEqual([]);
  });

  it('deploys the four entry points the code exports, as gen2 functions', () => {
    const entryPoints = resources(tree, 'google_cloudfunctions2_function')
      .map((r) => text(blocks(r.body, 'build_config')[0]?.entry_point))
      .sort();
    expect(entryPoints).toEqual(['consent', 'rotate', 'rotateOnEvent', 'token']);
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

describe('what Terraform deploys is what the rotation function reads', () => {
  let tree: TfTree;
  beforeAll(async () => {
    tree = await loadTree(ROOT);
  });

  it('writes no rotation instructions on the secrets: their metadata is not trusted', () => {
    const secret = resources(tree, 'google_secret_manager_secret').find((r) => r.name === 'managed');
    expect(secret).toBeDefined();
    expect(Object.keys((secret!.body.annotations ?? {}) as Record<string, unknown>).filter((k) => k.startsWith('tvs.'))).toEqual([]);
  });

  it('renders the binding from the map that creates the secrets into TVS_ROTATION_BINDINGS, which the rotator accepts', async () => {
    const { loadRotateConfig } = await import('../../shared/rotate-config.js');
    const outputs = tree.files.find((f) => f.path === 'modules/secrets/outputs.tf')!.json.output as Record<string, Array<{ value: string }>>;
    const expr = outputs.rotation_bindings[0].value;
    expect(expr).toMatch(/for name, c in var\.managed_credentials : "\$\{var\.secret_id_prefix\}\$\{name\}" =>/);
    // Evaluate the for expression's object the way Terraform would, for one credential of each kind.
    const fields = Object.fromEntries([...expr.matchAll(/^\s*(\w+)\s*=\s*c\.(\w+)\s*$/gm)].map((m) => [m[1], m[2]]));
    expect(Object.keys(fields).sort()).toEqual(['grace', 'kind', 'period', 'target']);
    const credentials: Record<string, Record<string, string>> = {
      gemini: { kind: 'sa-key', target: 'gemini-caller@acme-tokens.iam.gserviceaccount.com', rotation_period: '2592000s', grace: '7200s' },
      studio: { kind: 'api-key', target: 'projects/acme-tokens/locations/global/keys/studio', rotation_period: '2592000s', grace: '7200s' },
    };
    const rendered = Object.fromEntries(Object.entries(credentials).map(([name, c]) => [`tvs-${name}`, Object.fromEntries(Object.entries(fields).map(([k, attr]) => [k, c[attr]]))]));
    const config = loadRotateConfig({
      GOOGLE_CLOUD_PROJECT: 'acme-tokens',
      TVS_ROTATE_INVOKERS: 'tvs-rotation-trigger@acme-tokens.iam.gserviceaccount.com',
      TVS_ROTATE_AUDIENCE: 'https://us-central1-acme-tokens.cloudfunctions.net/tvs-rotate',
      TVS_ROTATION_BINDINGS: JSON.stringify(rendered),
    });
    expect(config.bindings.get('tvs-gemini')).toEqual({ kind: 'sa-key', target: credentials.gemini.target, periodMs: 2_592_000_000, graceMs: 7_200_000 });
    expect(config.bindings.get('tvs-studio')?.kind).toBe('api-key');

    const rotation = tree.files.find((f) => f.path === 'modules/rotation/main.tf')!;
    expect(JSON.stringify(rotation.json.locals)).toContain('TVS_ROTATION_BINDINGS = jsonencode(var.rotation_bindings)');
    for (const fn of resources(tree, 'google_cloudfunctions2_function').filter((r) => r.file.dir === 'modules/rotation')) {
      expect(text(blocks(fn.body, 'service_config')[0]?.environment_variables)).toBe('${local.environment}');
    }
    const variables = tree.files.find((f) => f.path === 'modules/rotation/variables.tf')!.json.variable as Record<string, Array<{ type: string }>>;
    expect(variables.rotation_bindings[0].type.replace(/\s+/g, '')).toBe('${map(object({kind=stringtarget=stringperiod=stringgrace=string}))}');
    const example = JSON.stringify(tree.files.find((f) => f.path === 'examples/complete/main.tf')!.json.module);
    expect(example).toContain('"rotation_bindings":"${module.secrets.rotation_bindings}"');
  });
});
