/**
 * The two deployment modes of the repository Terraform, judged by the exposure rules, and each
 * rule shown to fail on a plausible wrong configuration: a tampered in-memory copy of the HCL.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../functions/token/http/request-context.js';
import { localIn } from './lib/hcl-modes.js';
import { treeFromSources } from './lib/hcl-tree.js';
import { RULES } from './lib/policy-rules.js';

const ROOT = fileURLToPath(new URL('../../terraform', import.meta.url));
const MAIN = 'modules/token-vendor/main.tf';
const LB = 'modules/token-vendor/load-balancer.tf';
const VARS = 'modules/token-vendor/variables.tf';
const EXAMPLE = 'examples/complete/main.tf';
const ROTATION = 'modules/rotation/main.tf';
const CONSENT_MAIN = 'modules/consent-function/main.tf';
const CONSENT_LB = 'modules/consent-function/load-balancer.tf';

let sources: Record<string, string>;

beforeAll(async () => {
  sources = {};
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name === '.terraform' || entry.name === '.build') continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else sources[relative(ROOT, full).split(sep).join('/')] = entry.name.endsWith('.tf') ? await readFile(full, 'utf8') : '';
    }
  };
  await walk(ROOT);
});

/** The messages of `rule` on the repository HCL with `from` (which must occur) replaced in `file`. */
async function tampered(rule: string, file: string, from: string, to: string): Promise<string> {
  expect(sources[file]).toContain(from);
  const tree = await treeFromSources({ ...sources, [file]: sources[file].replace(from, to) });
  const violations = RULES[rule](tree);
  for (const v of violations) expect(v.rule).toBe(rule);
  return violations.map((v) => `${v.where}: ${v.message}`).join('\n');
}

describe('the deployment modes of the repository Terraform', () => {
  it.each(['exposure-variables', 'internal-mode', 'public-mode', 'only-token-exposed', 'no-public-principals', 'function-ingress-internal'])(
    'pass the %s rule untampered',
    async (rule) => {
      expect(RULES[rule](await treeFromSources(sources))).toEqual([]);
    },
  );

  it('accepts https://DOMAIN as audience in public mode only, next to the function URL or a given audience', async () => {
    const tree = await treeFromSources(sources);
    const dir = 'modules/token-vendor';
    const url = 'https://europe-west1-acme-tokens.cloudfunctions.net/tvs-token';
    expect(localIn(tree, dir, 'audience', 'internal')).toBe(url);
    expect(localIn(tree, dir, 'audience', 'public')).toBe(`${url},https://tokens.example.com`);
    expect(localIn(tree, dir, 'audience', 'public', { audience: 'https://a,https://tokens.example.com' })).toBe('https://a,https://tokens.example.com');
    expect(localIn(tree, dir, 'public_url', 'internal')).toBeNull();
    expect(sources[MAIN]).toMatch(/\n\s*TVS_AUDIENCE\s*=\s*local\.audience\n/);
  });

  it("refuses, at the edge, no more than the function's own body limit", () => {
    const max = /variable "max_request_bytes" \{[^]*?default\s*=\s*(\d+)[^]*?<= (\d+)/.exec(sources[VARS]);
    expect(Number(max?.[1])).toBe(MAX_BODY_BYTES);
    expect(Number(max?.[2])).toBeLessThanOrEqual(MAX_BODY_BYTES);
  });
});

describe('each mode rule fails on a tampered copy', () => {
  it.each([
    // exposure-variables
    ['exposure-variables', VARS, 'default     = "internal"', 'default     = "public"', 'default public is not internal'],
    ['exposure-variables', VARS, 'contains(["internal", "public"], var.exposure)', 'contains(["internal", "public", "open"], var.exposure)', 'must allow exactly internal and public'],
    ['exposure-variables', VARS, 'condition     = var.exposure != "public" || var.domain != null', 'condition     = var.domain == null || var.domain != ""', 'no validation refuses exposure = "public" without domain'],
    ['exposure-variables', EXAMPLE, 'exposure                 = var.token_exposure', 'exposure                 = "internal"', 'exposure is not var.token_exposure'],
    ['exposure-variables', EXAMPLE, 'domain                   = var.token_domain', '', 'domain is not var.token_domain'],
    ['exposure-variables', 'examples/complete/variables.tf', 'condition     = var.token_exposure != "public" || var.token_domain != null', 'condition     = true', 'without token_domain'],
    // internal-mode
    ['internal-mode', LB, 'lb_count = local.public ? 1 : 0', 'lb_count = 1', 'load balancer resource exists in internal mode'],
    ['internal-mode', MAIN, 'count = local.public ? 1 : 0', 'count = 1', 'grants to allUsers / allAuthenticatedUsers in internal mode'],
    [
      'internal-mode',
      ROTATION,
      'resource "google_cloud_run_v2_service_iam_member" "scheduler_invoker" {',
      'resource "google_cloud_run_v2_service" "bypass" {\n  name                 = "x"\n  location             = "l"\n  invoker_iam_disabled = true\n  template {\n    containers {\n      image = "i"\n    }\n  }\n}\nresource "google_cloud_run_v2_service_iam_member" "scheduler_invoker" {',
      'invoker_iam_disabled is true in internal mode',
    ],
    // public-mode
    ['public-mode', MAIN, 'ingress_settings = local.public ? "ALLOW_INTERNAL_AND_GCLB" : var.ingress_settings', 'ingress_settings = var.ingress_settings', 'in public mode, not ALLOW_INTERNAL_AND_GCLB'],
    ['public-mode', LB, '  security_policy       = google_compute_security_policy.token[0].self_link\n', '', 'no Cloud Armor security_policy attached'],
    ['public-mode', LB, 'rate_limit_options {', 'header_action {', 'no rate-limit rule'],
    ['public-mode', LB, 'enforce_on_key   = "IP"', 'enforce_on_key   = "ALL"', 'not per client IP'],
    ['public-mode', LB, 'exceed_action    = "deny(429)"', 'exceed_action    = "allow"', 'exceed_action is not a deny'],
    ['public-mode', LB, 'length(var.allowed_source_ranges) > 0 ? var.allowed_source_ranges : ["*"]', 'var.allowed_source_ranges', 'not every source ["*"]'],
    ['public-mode', LB, "int(request.headers['content-length']) >", "int(request.headers['content-length']) <", 'no request-size rule'],
    ['public-mode', LB, 'priority_max_size   = 100', 'priority_max_size   = 5000', 'must come before (lower priority number than) the rate-limit rule'],
    ['public-mode', LB, 'action      = "deny(413)"', 'action      = "allow"', "request-size rule's action"],
    ['public-mode', LB, 'priority_default    = 2147483647', 'priority_default    = 2147483646', 'the default rule (priority 2147483647) must deny'],
    ['public-mode', LB, 'description = "Default: refuse what no rule above allowed"\n    priority    = local.priority_default\n    action      = "deny(403)"', 'description = "Default: refuse what no rule above allowed"\n    priority    = local.priority_default\n    action      = "allow"', 'must deny'],
    ['public-mode', LB, 'network_endpoint_type = "SERVERLESS"', 'network_endpoint_type = "INTERNET_FQDN_PORT"', 'no serverless NEG pointing at google_cloudfunctions2_function.token'],
    ['public-mode', LB, 'load_balancing_scheme = "EXTERNAL_MANAGED"\n  protocol', 'load_balancing_scheme = "EXTERNAL"\n  protocol', 'is not EXTERNAL_MANAGED'],
    ['public-mode', LB, 'domains = [var.domain]', 'domains = ["tokens.other.example"]', 'no Google-managed certificate for the domain'],
    ['public-mode', LB, 'port_range            = "443"', 'port_range            = "8443"', 'no EXTERNAL_MANAGED forwarding rule on 443'],
    ['public-mode', LB, 'https_redirect         = true', 'https_redirect         = false', 'port 80 must only redirect to HTTPS'],
    ['public-mode', LB, 'url_map = google_compute_url_map.http_redirect[0].id', 'url_map = google_compute_url_map.token[0].id', 'port 80 must only redirect to HTTPS'],
    ['public-mode', MAIN, 'count = local.public ? 1 : 0', 'count = 0', '0 public invoker grants on the token function'],
    ['public-mode', MAIN, 'role     = "roles/run.invoker"\n  member   = "allUsers"', 'role     = "roles/run.developer"\n  member   = "allUsers"', 'public grant other than allUsers run.invoker'],
    ['public-mode', MAIN, 'local.public ? [local.public_url] : []', '[]', 'it must include https://DOMAIN'],
    // only-token-exposed
    ['only-token-exposed', ROTATION, 'ingress_settings                 = "ALLOW_INTERNAL_ONLY"', 'ingress_settings                 = "ALLOW_INTERNAL_AND_GCLB"', 'only the token function may be reached through a load balancer'],
    ['only-token-exposed', LB, 'function = google_cloudfunctions2_function.token.name', 'function = "tvs-rotate"', 'points at something other than the token function'],
    // the consent pages' load balancer is allowed only while IAP gates every backend of it
    ['internal-mode', CONSENT_LB, 'iap {\n    enabled = true\n  }', 'iap {\n    enabled = false\n  }', 'load balancer resource exists in internal mode'],
    ['only-token-exposed', CONSENT_LB, 'iap {\n    enabled = true\n  }', '', 'only the token function may be reached through a load balancer'],
    ['only-token-exposed', CONSENT_LB, 'function = google_cloudfunctions2_function.consent.name', 'function = "tvs-rotate"', 'points at something other than the token function'],
    ['internal-mode', CONSENT_MAIN, 'entry_point       = "consent"', 'entry_point       = "rotate"', 'load balancer resource exists in internal mode'],
    ['no-public-principals', CONSENT_MAIN, 'member   = local.iap_service_agent', 'member   = "allUsers"', 'grants to allUsers / allAuthenticatedUsers'],
    // no-public-principals: the one exception is exactly that
    ['no-public-principals', MAIN, 'count = local.public ? 1 : 0', 'count = 1', 'grants allUsers run.invoker in internal mode'],
    ['no-public-principals', MAIN, 'member   = "allUsers"', 'member   = "allAuthenticatedUsers"', 'grants to allUsers / allAuthenticatedUsers'],
    ['no-public-principals', MAIN, 'name     = google_cloudfunctions2_function.token.name\n  role     = "roles/run.invoker"\n  member   = "allUsers"', 'name     = "tvs-rotate"\n  role     = "roles/run.invoker"\n  member   = "allUsers"', 'grants to allUsers / allAuthenticatedUsers'],
    [
      'no-public-principals',
      MAIN,
      'resource "google_cloud_run_v2_service_iam_member" "public_invoker" {',
      'resource "google_cloud_run_v2_service_iam_member" "second" {\n  count    = local.public ? 1 : 0\n  name     = google_cloudfunctions2_function.token.name\n  role     = "roles/run.invoker"\n  member   = "allUsers"\n}\nresource "google_cloud_run_v2_service_iam_member" "public_invoker" {',
      'a second public invoker grant',
    ],
    ['no-public-principals', VARS, 'variable "exposure" {', 'variable "mode" {', 'outside a module with a deployment mode'],
    // function-ingress-internal evaluates the mode expression
    ['function-ingress-internal', MAIN, 'local.public ? "ALLOW_INTERNAL_AND_GCLB" : var.ingress_settings', 'local.public ? "ALLOW_ALL" : var.ingress_settings', 'is not internal-only'],
  ])('%s fails on %s (%#)', async (rule, file, from, to, message) => {
    const messages = await tampered(rule, file, from, to);
    expect(messages).not.toBe('');
    expect(messages).toContain(message);
  });
});
