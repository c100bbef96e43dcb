import { describe, expect, it } from 'vitest';
import { treeFromSources } from './lib/hcl-tree.js';
import { RULES } from './lib/policy-rules.js';

async function check(hcl: string): Promise<string[]> {
  const violations = RULES['perimeter-rules'](await treeFromSources({ 'modules/x/main.tf': hcl }));
  for (const v of violations) expect(v.rule).toBe('perimeter-rules');
  return violations.map((v) => `${v.where}: ${v.message}`);
}

const RULES_BODY = `
      dynamic "ingress_policies" {
        for_each = [1]
        content {
          ingress_from {
            identities = var.deployer_identities
          }
          ingress_to {
            resources = ["*"]
            operations {
              service_name = "*"
            }
          }
        }
      }
      dynamic "ingress_policies" {
        for_each = [1]
        content {
          ingress_from {
            identities = var.build_identities
          }
          ingress_to {
            resources = ["projects/\${var.project_number}"]
            operations {
              service_name = "storage.googleapis.com"
            }
            operations {
              service_name = "artifactregistry.googleapis.com"
            }
            operations {
              service_name = "logging.googleapis.com"
            }
          }
        }
      }
      dynamic "ingress_policies" {
        for_each = [1]
        content {
          ingress_from {
            identities = var.sink_writer_identities
          }
          ingress_to {
            resources = ["projects/\${var.project_number}"]
            operations {
              service_name = "storage.googleapis.com"
            }
            operations {
              service_name = "bigquery.googleapis.com"
            }
          }
        }
      }`;

const PERIMETER = `resource "google_access_context_manager_service_perimeter" "p" {
  dynamic "spec" {
    for_each = var.dry_run ? [1] : []
    content {${RULES_BODY}
    }
  }
  dynamic "status" {
    for_each = var.dry_run ? [] : [1]
    content {${RULES_BODY}
    }
  }
}`;

/** Replaces the first `from` (which must occur) in the compliant perimeter. */
function mutate(from: string, to: string): string {
  expect(PERIMETER).toContain(from);
  return PERIMETER.replace(from, to);
}

describe('perimeter-rules', () => {
  it('accepts ingress for the build and the sink writers, scoped to the project, and * for deployers only', async () => {
    expect(await check(PERIMETER)).toEqual([]);
  });

  it.each([
    ['no rule for the build', 'identities = var.build_identities', 'identities = var.other', 'spec: no ingress rule for the build identities'],
    ['a build rule without Artifact Registry', 'service_name = "artifactregistry.googleapis.com"', 'service_name = "run.googleapis.com"', 'the build identities does not allow artifactregistry.googleapis.com'],
    ['no rule for the sink writers', 'identities = var.sink_writer_identities', 'identities = var.other', 'spec: no ingress rule for the sink writer identities'],
    ['a sink rule without BigQuery', 'service_name = "bigquery.googleapis.com"', 'service_name = "pubsub.googleapis.com"', 'the sink writer identities does not allow bigquery.googleapis.com'],
    ['a sink rule open to every resource', 'identities = var.sink_writer_identities\n          }\n          ingress_to {\n            resources = ["projects/${var.project_number}"]', 'identities = var.sink_writer_identities\n          }\n          ingress_to {\n            resources = ["*"]', 'must name this project'],
    ['a wildcard service for someone else', 'service_name = "logging.googleapis.com"', 'service_name = "*"', 'allows every service or resource; only var.deployer_identities may'],
    ['a status that differs from the spec', 'content {' + RULES_BODY + '\n    }\n  }\n}', 'content {' + RULES_BODY.replace('"logging.googleapis.com"', '"pubsub.googleapis.com"') + '\n    }\n  }\n}', 'the dry-run spec and the enforced status differ'],
  ])('fails on %s', async (_what, from, to, message) => {
    expect((await check(mutate(from, to))).join('\n')).toContain(message);
  });
});
