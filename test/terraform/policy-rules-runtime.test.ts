import { describe, expect, it } from 'vitest';
import { treeFromSources } from './lib/hcl-tree.js';
import { RULES } from './lib/policy-rules.js';

async function check(rule: string, hcl: string): Promise<string[]> {
  const violations = RULES[rule](await treeFromSources({ 'modules/x/main.tf': hcl }));
  for (const v of violations) expect(v.rule).toBe(rule);
  return violations.map((v) => `${v.where}: ${v.message}`);
}

/** Replaces `from` (which must occur) in `base`. */
function mutate(base: string, from: string, to: string): string {
  expect(base).toContain(from);
  return base.replace(from, to);
}

const INGRESS = `variable "ingress" {
  type        = string
  description = "i"
  default     = "ALLOW_INTERNAL_ONLY"
  validation {
    condition     = contains(["ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.ingress)
    error_message = "internal only"
  }
}
resource "google_cloudfunctions2_function" "f" {
  service_config {
    ingress_settings = var.ingress
  }
}
resource "google_cloudfunctions2_function" "g" {
  service_config {
    ingress_settings = "ALLOW_INTERNAL_ONLY"
  }
}`;

const RUNTIME = `variable "runtime" {
  type        = string
  description = "r"
  default     = "nodejs24"
  validation {
    condition     = contains(["nodejs22", "nodejs24"], var.runtime)
    error_message = "runtime must be nodejs22 or nodejs24."
  }
}
resource "google_cloudfunctions2_function" "f" {
  build_config {
    runtime = var.runtime
  }
}
resource "google_cloudfunctions2_function" "g" {
  build_config {
    runtime = "nodejs22"
  }
}`;

const SCHEDULER = `resource "google_cloud_scheduler_job" "j" {
  http_target {
    uri = "https://x"
    oidc_token {
      service_account_email = "t@p.iam.gserviceaccount.com"
      audience              = "https://x"
    }
  }
}`;

const SECRETS = `variable "creds" {
  type        = map(object({ grace = string }))
  description = "c"
  validation {
    condition     = alltrue([for c in values(var.creds) : try(tonumber(trimsuffix(c.grace, "s")), 0) > 3600])
    error_message = "grace must exceed 3600s"
  }
}
locals {
  agent = "serviceAccount:service-1@gcp-sa-secretmanager.iam.gserviceaccount.com"
}
resource "google_pubsub_topic" "rotation" {
  name = "rotation"
}
resource "google_pubsub_topic_iam_member" "publisher" {
  topic  = google_pubsub_topic.rotation.name
  role   = "roles/pubsub.publisher"
  member = local.agent
}
resource "google_secret_manager_secret" "managed" {
  labels = merge(var.labels, { "tvs-managed" = "true", "tvs-kind" = "sa-key" })
  rotation {
    rotation_period    = "2592000s"
    next_rotation_time = timeadd(plantimestamp(), "1h")
  }
  topics {
    name = google_pubsub_topic.rotation.id
  }
  version_destroy_ttl = "86400s"
  depends_on          = [google_pubsub_topic_iam_member.publisher]
}
resource "google_secret_manager_secret" "policy" {
  labels              = { "tvs-kind" = "policy" }
  version_destroy_ttl = "86400s"
}`;

const PERIMETER = `locals {
  services = ["secretmanager.googleapis.com", "iam.googleapis.com", "iamcredentials.googleapis.com", "sts.googleapis.com", "logging.googleapis.com", "cloudfunctions.googleapis.com", "run.googleapis.com", "cloudkms.googleapis.com", "firestore.googleapis.com", "storage.googleapis.com", "bigquery.googleapis.com", "artifactregistry.googleapis.com", "cloudbuild.googleapis.com", "apikeys.googleapis.com"]
  all      = concat(local.services, var.extra)
}
resource "google_access_context_manager_service_perimeter" "p" {
  use_explicit_dry_run_spec = var.dry_run
  dynamic "spec" {
    for_each = var.dry_run ? [1] : []
    content {
      restricted_services = local.all
    }
  }
  dynamic "status" {
    for_each = var.dry_run ? [] : [1]
    content {
      restricted_services = local.all
    }
  }
}`;

const AUDIT = `variable "services" {
  type        = list(string)
  description = "s"
  default     = ["secretmanager.googleapis.com", "iam.googleapis.com"]
}
resource "google_project_iam_audit_config" "a" {
  for_each = toset(var.services)
  service  = each.value
  audit_log_config {
    log_type = "ADMIN_READ"
  }
  audit_log_config {
    log_type = "DATA_READ"
  }
  audit_log_config {
    log_type = "DATA_WRITE"
  }
}
resource "google_storage_bucket" "archive" {
  uniform_bucket_level_access = true
  retention_policy {
    retention_period = 86400
    is_locked        = var.lock
  }
}
resource "google_logging_project_sink" "gcs" {
  destination            = "storage.googleapis.com/\${google_storage_bucket.archive.name}"
  unique_writer_identity = true
}
resource "google_storage_bucket_iam_member" "w" {
  bucket = google_storage_bucket.archive.name
  role   = "roles/storage.objectCreator"
  member = google_logging_project_sink.gcs.writer_identity
}
resource "google_logging_metric" "denied" {
  filter = "x"
}
resource "google_monitoring_alert_policy" "a" {
  conditions {
    condition_threshold {
      filter = "metric.type=\\"logging.googleapis.com/user/\${google_logging_metric.denied.name}\\""
    }
  }
}`;

describe.each([
  ['function-ingress-internal', INGRESS],
  ['scheduler-uses-oidc', SCHEDULER],
  ['managed-secrets-rotate', SECRETS],
  ['grace-exceeds-token-lifetime', SECRETS],
  ['perimeter-covers-services', PERIMETER],
  ['audit-logging', AUDIT],
])('%s', (rule, good) => {
  it('accepts the compliant snippet', async () => {
    expect(await check(rule, good)).toEqual([]);
  });
});

describe('runtime rules fail on bad snippets', () => {
  it.each([
    ['function-ingress-internal', INGRESS, '"ALLOW_INTERNAL_ONLY"\n  }\n}', '"ALLOW_ALL"\n  }\n}', 'ALLOW_ALL is not internal-only'],
    ['function-ingress-internal', INGRESS, 'ingress_settings = "ALLOW_INTERNAL_ONLY"', 'timeout_seconds = 60', '(unset, defaults to ALLOW_ALL)'],
    ['function-ingress-internal', INGRESS, 'default     = "ALLOW_INTERNAL_ONLY"', 'default     = "ALLOW_ALL"', '${var.ingress} is not internal-only'],
    ['function-ingress-internal', INGRESS, '"ALLOW_INTERNAL_AND_GCLB"]', '"ALLOW_ALL"]', '${var.ingress} is not internal-only'],
    ['functions-supported-runtime', RUNTIME, 'default     = "nodejs24"', 'default     = "nodejs20"', 'default nodejs20 is not nodejs24'],
    ['functions-supported-runtime', RUNTIME, 'default     = "nodejs24"', 'default     = "nodejs22"', 'default nodejs22 is not nodejs24'],
    ['functions-supported-runtime', RUNTIME, '["nodejs22", "nodejs24"]', '["nodejs20", "nodejs22", "nodejs24"]', 'validation allows nodejs20'],
    ['functions-supported-runtime', RUNTIME, 'validation {', 'not_validation {', 'no validation listing the allowed runtimes'],
    ['functions-supported-runtime', RUNTIME, 'runtime = "nodejs22"', 'runtime = "nodejs20"', 'runtime nodejs20 is not one of nodejs22, nodejs24'],
    ['functions-supported-runtime', RUNTIME, 'runtime = var.runtime', 'runtime = var.node', 'runtime variable is not declared'],
    ['scheduler-uses-oidc', SCHEDULER, 'oidc_token {', 'oauth_token {', 'without oidc_token'],
    ['scheduler-uses-oidc', SCHEDULER, '      audience              = "https://x"\n', '', 'without oidc_token'],
    ['managed-secrets-rotate', SECRETS, 'rotation {', 'not_rotation {', 'no rotation { rotation_period, next_rotation_time }'],
    ['managed-secrets-rotate', SECRETS, '    next_rotation_time = timeadd(plantimestamp(), "1h")\n', '', 'no rotation {'],
    ['managed-secrets-rotate', SECRETS, 'topics {', 'not_topics {', 'no topics'],
    ['managed-secrets-rotate', SECRETS, '  version_destroy_ttl = "86400s"\n  depends_on', '  depends_on', 'no version_destroy_ttl'],
    ['managed-secrets-rotate', SECRETS, 'role   = "roles/pubsub.publisher"', 'role   = "roles/pubsub.subscriber"', 'no roles/pubsub.publisher for the Secret Manager agent'],
    ['managed-secrets-rotate', SECRETS, 'gcp-sa-secretmanager', 'gcp-sa-pubsub', 'no roles/pubsub.publisher for the Secret Manager agent'],
    ['managed-secrets-rotate', SECRETS, 'depends_on          = [google_pubsub_topic_iam_member.publisher]', '', 'must depend_on'],
    ['managed-secrets-rotate', SECRETS, '{ "tvs-kind" = "policy" }', '{ "team" = "x" }', 'neither managed'],
    ['grace-exceeds-token-lifetime', SECRETS, '> 3600])', '> 1800])', 'no validation that grace > 3600s'],
    ['grace-exceeds-token-lifetime', SECRETS, 'validation {', 'not_validation {', 'no validation that grace > 3600s'],
    ['perimeter-covers-services', PERIMETER, '"sts.googleapis.com", ', '', 'does not restrict sts.googleapis.com'],
    ['perimeter-covers-services', PERIMETER, '"iamcredentials.googleapis.com", ', '', 'does not restrict iamcredentials.googleapis.com'],
    ['perimeter-covers-services', PERIMETER, '"cloudkms.googleapis.com", ', '', 'does not restrict cloudkms.googleapis.com'],
    ['perimeter-covers-services', PERIMETER, '"firestore.googleapis.com", ', '', 'does not restrict firestore.googleapis.com'],
    ['perimeter-covers-services', PERIMETER, '"storage.googleapis.com", ', '', 'does not restrict storage.googleapis.com'],
    ['perimeter-covers-services', PERIMETER, '"bigquery.googleapis.com", ', '', 'does not restrict bigquery.googleapis.com'],
    ['perimeter-covers-services', PERIMETER, '"artifactregistry.googleapis.com", ', '', 'does not restrict artifactregistry.googleapis.com'],
    ['perimeter-covers-services', PERIMETER, '"cloudbuild.googleapis.com", ', '', 'does not restrict cloudbuild.googleapis.com'],
    ['perimeter-covers-services', PERIMETER, ', "apikeys.googleapis.com"', '', 'does not restrict apikeys.googleapis.com'],
    ['perimeter-covers-services', PERIMETER, 'dynamic "spec"', 'dynamic "other"', 'no spec block'],
    ['perimeter-covers-services', PERIMETER, 'use_explicit_dry_run_spec = var.dry_run', '', 'no use_explicit_dry_run_spec'],
    ['perimeter-covers-services', PERIMETER, 'resource "google_access_context_manager_service_perimeter"', 'resource "google_other"', 'no service perimeter'],
    ['audit-logging', AUDIT, '"iam.googleapis.com"]', '"run.googleapis.com"]', 'for iam.googleapis.com'],
    ['audit-logging', AUDIT, '"DATA_READ"', '"DATA_WRITE"', 'for secretmanager.googleapis.com'],
    ['audit-logging', AUDIT, 'unique_writer_identity = true', 'unique_writer_identity = false', 'unique_writer_identity must be true'],
    ['audit-logging', AUDIT, 'member = google_logging_project_sink.gcs.writer_identity', 'member = "user:a@b.c"', 'writer_identity is granted nothing'],
    ['audit-logging', AUDIT, 'is_locked        = var.lock', 'is_locked        = false', 'without a (lockable) retention policy'],
    ['audit-logging', AUDIT, 'uniform_bucket_level_access = true', 'uniform_bucket_level_access = false', 'without uniform bucket-level access'],
    ['audit-logging', AUDIT, 'google_logging_metric.denied.name', 'var.metric', 'no alert policy on a log-based metric'],
  ])('%s fails (%#)', async (rule, good, from, to, message) => {
    expect((await check(rule, mutate(good, from, to))).join('\n')).toContain(message);
  });
});
