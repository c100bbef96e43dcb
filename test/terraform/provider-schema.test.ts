import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Body, TfTree } from './lib/hcl-tree.js';
import { blocks, loadTree, resources, treeFromSources } from './lib/hcl-tree.js';
import type { ProviderSchema } from './lib/provider-schema.js';
import { checkAgainstSchemas, loadProviderSchema, satisfies } from './lib/provider-schema.js';

const ROOT = fileURLToPath(new URL('../../terraform', import.meta.url));

/**
 * Providers the Terraform may use without a schema to check against, each with the reason.
 * Empty: google and archive, the only providers used, both ship cdktf assemblies. A provider
 * added later fails the check until it gets a schema or an entry here.
 */
const UNCHECKED: Readonly<Record<string, string>> = {};

let google: ProviderSchema;
let archive: ProviderSchema;
let tree: TfTree;

beforeAll(async () => {
  // The google assembly is ~100 MB: read once for the whole file.
  google = loadProviderSchema('@cdktf/provider-google');
  archive = loadProviderSchema('@cdktf/provider-archive');
  tree = await loadTree(ROOT);
});

const isBody = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Bodies of a top-level labelled section (`data`, `provider`), counted independently of the checker. */
const sectionBodies = (section: string): number =>
  tree.files
    .flatMap((f) => (isBody(f.json[section]) ? Object.values(f.json[section]) : []))
    .flatMap((byLabel) => (isBody(byLabel) ? Object.values(byLabel) : [byLabel]))
    .flatMap((list) => (Array.isArray(list) ? list.filter(isBody) : [])).length;

describe('the provider schemas', () => {
  it('are read from the cdktf assemblies of the google 6.x and archive providers', () => {
    expect(google.name).toBe('google');
    expect(google.version).toMatch(/^6\./);
    expect(google.resources.size).toBeGreaterThan(1000);
    expect(google.dataSources.size).toBeGreaterThan(300);
    expect(archive.name).toBe('archive');
    expect([...archive.dataSources.keys()]).toContain('archive_file');
  });

  it('meet every required_providers version constraint in terraform/, and cover every provider required', () => {
    const seen: string[] = [];
    for (const file of tree.files.filter((f) => f.path.endsWith('versions.tf'))) {
      const terraform = blocks(file.json, 'terraform')[0] ?? {};
      for (const [name, spec] of Object.entries(blocks(terraform, 'required_providers')[0] ?? {})) {
        seen.push(name);
        const schema = [google, archive].find((s) => s.name === name);
        if (!schema) {
          expect(UNCHECKED, `${file.path}: provider ${name}`).toHaveProperty(name);
          continue;
        }
        const version = isBody(spec) ? spec.version : undefined;
        expect(typeof version === 'string' && satisfies(schema.version, version), `${file.path}: ${name} ${JSON.stringify(version)}`).toBe(true);
      }
    }
    expect(new Set(seen)).toEqual(new Set(['google', 'archive']));
  });

  it('name arguments and blocks exactly as Terraform does, digits and renames included', () => {
    const run = google.resources.get('google_cloud_run_v2_service')!;
    expect(run.arguments.get('invoker_iam_disabled')).toEqual({ required: false, takesObjectList: false });
    expect(run.arguments.get('name')?.required).toBe(true);
    expect(run.blocks.get('template')).toMatchObject({ required: true, single: true });
    expect(run.blocks.get('template')!.schema.blocks.get('containers')).toMatchObject({ required: false, single: false });
    expect(run.blocks.get('template')!.schema.blocks.get('containers')!.schema.arguments.get('image')?.required).toBe(true);
    const fn = google.resources.get('google_cloudfunctions2_function')!;
    expect(fn.blocks.get('service_config')!.schema.arguments.has('ingress_settings')).toBe(true);
    expect(google.resources.get('google_compute_subnetwork')!.arguments.has('ipv6_access_type')).toBe(true);
    expect(google.resources.get('google_compute_health_check')!.blocks.has('http2_health_check')).toBe(true);
    expect(google.resources.get('google_storage_bucket_object')!.arguments.has('detect_md5hash')).toBe(true);
    const armor = google.resources.get('google_compute_security_policy')!.blocks.get('adaptive_protection_config')!;
    expect(armor.schema.blocks.has('layer_7_ddos_defense_config')).toBe(true);
    // cdktf renames the `build` block (it clashes with a construct member) to `buildAttribute`; Terraform keeps `build`.
    const trigger = google.resources.get('google_cloudbuild_trigger')!;
    expect(trigger.blocks.has('build')).toBe(true);
    expect(trigger.blocks.has('build_attribute')).toBe(false);
    expect(google.dataSources.get('google_project')!.arguments.has('project_id')).toBe(true);
    expect(google.provider.arguments.has('project')).toBe(true);
  });
});

describe('the Terraform in terraform/', () => {
  it('passes the provider-schema check in every resource, data and provider block', () => {
    const result = checkAgainstSchemas(tree, [google, archive], UNCHECKED);
    expect(result.violations).toEqual([]);
    expect(result.unchecked).toEqual([]);
    expect(result.checked).toHaveLength(resources(tree).length + sectionBodies('data') + sectionBodies('provider'));
    expect(result.checked.length).toBeGreaterThan(50);
  });

  it('checks the public-mode load balancer and Cloud Armor blocks too (count only decides whether they exist)', () => {
    const checked = checkAgainstSchemas(tree, [google, archive], UNCHECKED).checked;
    for (const address of [
      'google_compute_region_network_endpoint_group.token',
      'google_compute_security_policy.token',
      'google_compute_backend_service.token',
      'google_compute_managed_ssl_certificate.token',
      'google_compute_target_https_proxy.token',
      'google_compute_global_forwarding_rule.https',
      'google_compute_url_map.http_redirect',
      'google_cloud_run_v2_service_iam_member.public_invoker',
    ]) {
      expect(checked).toContain(`modules/token-vendor/${address.endsWith('public_invoker') ? 'main' : 'load-balancer'}.tf: ${address}`);
    }
  });
});

/** Checks in-memory Terraform and returns `where: message` lines. */
async function check(hcl: string, unchecked: Readonly<Record<string, string>> = {}): Promise<string[]> {
  const result = checkAgainstSchemas(await treeFromSources({ 'modules/x/main.tf': hcl }), [google, archive], unchecked);
  for (const v of result.violations) expect(v.rule).toBe('provider-schema');
  return result.violations.map((v) => `${v.where}: ${v.message}`);
}

const SECRET = (encryption: string) => `
resource "google_secret_manager_secret" "s" {
  secret_id = "s"
  replication {
    user_managed {
      replicas {
        location = "europe-west1"
        ${encryption}
      }
    }
  }
}`;

describe('the provider-schema check', () => {
  it('accepts valid blocks with every meta-argument, dynamic blocks and provider aliases', async () => {
    const hcl = `
provider "google" {
  project = "p"
  region  = "europe-west1"
}
provider "google" {
  alias   = "west"
  project = "p"
}
resource "google_storage_bucket" "b" {
  count      = 1
  provider   = google.west
  name       = "b"
  location   = "EU"
  depends_on = [google_project_service.run]
  labels     = { env = "x" }
  versioning {
    enabled = true
  }
  dynamic "lifecycle_rule" {
    for_each = var.rules
    iterator = rule
    content {
      action {
        type = "Delete"
      }
      condition {
        age = rule.value
      }
    }
  }
  timeouts {
    create = "5m"
  }
  lifecycle {
    prevent_destroy = true
    ignore_changes  = [labels]
    precondition {
      condition     = true
      error_message = "x"
    }
  }
  provisioner "local-exec" {
    command = "true"
  }
  connection {
    host = "h"
  }
}
resource "google_project_service" "run" {
  for_each = toset(["run.googleapis.com"])
  service  = each.value
}
data "google_project" "p" {
  lifecycle {
    postcondition {
      condition     = true
      error_message = "x"
    }
  }
}
data "archive_file" "zip" {
  type        = "zip"
  source_dir  = "src"
  output_path = "out.zip"
}
${SECRET('dynamic "customer_managed_encryption" {\n for_each = var.keys\n content {\n kms_key_name = customer_managed_encryption.value\n }\n }')}`;
    expect(await check(hcl)).toEqual([]);
  });

  it.each([
    [
      'a misspelled argument',
      'resource "google_storage_bucket" "b" {\n name = "b"\n location = "EU"\n locaton = "EU"\n}',
      ['modules/x/main.tf: google_storage_bucket.b: unsupported argument "locaton"'],
    ],
    [
      'a misspelled argument in a nested block',
      'resource "google_cloudfunctions2_function" "f" {\n name = "f"\n location = "l"\n service_config {\n ingres_settings = "ALLOW_ALL"\n }\n}',
      ['modules/x/main.tf: google_cloudfunctions2_function.f: unsupported argument "ingres_settings" in service_config'],
    ],
    [
      'a misspelled nested block',
      'resource "google_cloud_run_v2_service" "s" {\n name = "s"\n location = "l"\n template {\n containers {\n image = "i"\n resource {\n limits = { cpu = "1" }\n }\n }\n }\n}',
      ['modules/x/main.tf: google_cloud_run_v2_service.s: unsupported block type "resource" in template.containers'],
    ],
    [
      'a missing required argument',
      'resource "google_storage_bucket" "b" {\n name = "b"\n}',
      ['modules/x/main.tf: google_storage_bucket.b: missing required argument "location"'],
    ],
    [
      'a missing required argument in a nested block',
      'resource "google_cloud_run_v2_service" "s" {\n name = "s"\n location = "l"\n template {\n containers {\n args = []\n }\n }\n}',
      ['modules/x/main.tf: google_cloud_run_v2_service.s: missing required argument "image" in template.containers'],
    ],
    [
      'a missing required block',
      'resource "google_cloud_run_v2_service" "s" {\n name = "s"\n location = "l"\n}',
      ['modules/x/main.tf: google_cloud_run_v2_service.s: missing required block "template"'],
    ],
    [
      'an unknown resource type',
      'resource "google_storage_buckett" "b" {\n name = "b"\n}',
      ['modules/x/main.tf: google_storage_buckett.b: unknown resource type "google_storage_buckett" for provider google VERSION'],
    ],
    [
      'an unknown data source type',
      'data "google_projet" "p" {\n}',
      ['modules/x/main.tf: data.google_projet.p: unknown data source type "google_projet" for provider google VERSION'],
    ],
    [
      'an invalid name inside a dynamic block',
      SECRET('dynamic "customer_managed_encryption" {\n for_each = var.keys\n content {\n kms_key_nme = customer_managed_encryption.value\n }\n }'),
      [
        'modules/x/main.tf: google_secret_manager_secret.s: unsupported argument "kms_key_nme" in replication.user_managed.replicas.customer_managed_encryption',
        'modules/x/main.tf: google_secret_manager_secret.s: missing required argument "kms_key_name" in replication.user_managed.replicas.customer_managed_encryption',
      ],
    ],
    [
      'a dynamic block of an unknown block type',
      SECRET('dynamic "customer_encryption" {\n for_each = var.keys\n content {\n kms_key_name = "k"\n }\n }'),
      ['modules/x/main.tf: google_secret_manager_secret.s: unsupported dynamic block "customer_encryption" in replication.user_managed.replicas'],
    ],
    [
      'a misspelled argument of a dynamic block itself',
      SECRET('dynamic "customer_managed_encryption" {\n for_eech = var.keys\n content {\n kms_key_name = "k"\n }\n }'),
      [
        'modules/x/main.tf: google_secret_manager_secret.s: unsupported argument "for_eech" in dynamic "customer_managed_encryption" in replication.user_managed.replicas',
        'modules/x/main.tf: google_secret_manager_secret.s: missing required argument "for_each" in dynamic "customer_managed_encryption" in replication.user_managed.replicas',
      ],
    ],
    [
      'an argument written as a block',
      'resource "google_storage_bucket" "b" {\n name = "b"\n location = "EU"\n labels {\n env = "x"\n }\n}',
      ['modules/x/main.tf: google_storage_bucket.b: "labels" is an argument, not a block'],
    ],
    [
      'a block written as an argument',
      'resource "google_storage_bucket" "b" {\n name = "b"\n location = "EU"\n versioning = { enabled = true }\n}',
      ['modules/x/main.tf: google_storage_bucket.b: "versioning" is a block, not an argument'],
    ],
    [
      'a repeated single block',
      'resource "google_storage_bucket" "b" {\n name = "b"\n location = "EU"\n versioning {\n enabled = true\n }\n versioning {\n enabled = false\n }\n}',
      ['modules/x/main.tf: google_storage_bucket.b: too many "versioning" blocks (at most one)'],
    ],
    [
      'a lifecycle argument a data source does not take',
      'data "google_project" "p" {\n lifecycle {\n prevent_destroy = true\n }\n}',
      ['modules/x/main.tf: data.google_project.p: unsupported argument "prevent_destroy" in lifecycle'],
    ],
    [
      'a misspelled provider argument',
      'provider "google" {\n projct = "p"\n}',
      ['modules/x/main.tf: provider.google: unsupported argument "projct"'],
    ],
    [
      'a misspelled archive_file argument',
      'data "archive_file" "zip" {\n type = "zip"\n source_dirr = "src"\n output_path = "out.zip"\n}',
      ['modules/x/main.tf: data.archive_file.zip: unsupported argument "source_dirr"'],
    ],
    [
      'a resource on google-beta, whose schema is not installed',
      'resource "google_storage_bucket" "b" {\n provider = google-beta\n name = "b"\n location = "EU"\n}',
      ['modules/x/main.tf: google_storage_bucket.b: no schema for provider "google-beta" and not listed as unchecked'],
    ],
    [
      'a provider with no schema and no reason to leave it unchecked',
      'resource "random_id" "r" {\n byte_length = 4\n}',
      ['modules/x/main.tf: random_id.r: no schema for provider "random" and not listed as unchecked'],
    ],
  ])('reports %s with the file, the address and the bad name', async (_case, hcl, expected) => {
    expect(await check(hcl)).toEqual(expected.map((line) => line.replace('VERSION', google.version)));
  });

  it('lists, rather than skips, the blocks of a provider explicitly left unchecked', async () => {
    const tree = await treeFromSources({ 'modules/x/main.tf': 'resource "random_id" "r" {\n byte_lenght = 4\n}' });
    const result = checkAgainstSchemas(tree, [google, archive], { random: 'no cdktf assembly' });
    expect(result.violations).toEqual([]);
    expect(result.checked).toEqual([]);
    expect(result.unchecked).toEqual(['modules/x/main.tf: random_id.r (provider random: no cdktf assembly)']);
  });
});
