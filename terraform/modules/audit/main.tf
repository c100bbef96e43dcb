# Audit: Data Access logs for Secret Manager and IAM, sinks of the functions' entries and the
# Cloud Audit Logs to a retention-locked bucket and/or BigQuery, an alert on denial spikes, one on
# policy reload failures and one on failed or refused rotations.

locals {
  audited_services = ["secretmanager.googleapis.com", "iam.googleapis.com", "iamcredentials.googleapis.com", "sts.googleapis.com", "apikeys.googleapis.com"]

  # What the platform stores (GOOGLE-FACTS, "Facts of the running platform"): a JSON line a
  # function writes on stdout/stderr is kept under the platform's log name
  # (run.googleapis.com/stdout|stderr; cloudfunctions.googleapis.com/cloud-functions), a logName
  # field in the line stays inside jsonPayload, and no line can choose its log name. So nothing
  # below names a custom log: entries are selected by resource, service name, labels and
  # jsonPayload fields. Gen2 functions are Cloud Run services (cloud_run_revision, service_name);
  # the cloud_function resource (function_name) is matched as well.
  run_services = join(" OR ", [for n in var.function_service_names : "resource.labels.service_name=\"${n}\""])
  cf_functions = join(" OR ", [for n in var.function_service_names : "resource.labels.function_name=\"${n}\""])
  functions    = "(resource.type=\"cloud_run_revision\" AND (${local.run_services})) OR (resource.type=\"cloud_function\" AND (${local.cf_functions}))"
  token_run    = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${var.token_service_name}\""
  token_cf     = "resource.type=\"cloud_function\" AND resource.labels.function_name=\"${var.token_service_name}\""

  # Entries of shared/audit-log.ts (token and rotation decisions): its logging.googleapis.com/labels
  # become the entry's labels; the fields of the AuditEntry are jsonPayload.*.
  audit_entries = "labels.component=\"token-vending\" AND jsonPayload.decision:*"
  # Cloud Run's own request log: one entry per request, with httpRequest.status, including the
  # requests its IAM invoker check refused before the function ran.
  request_log = "logName:\"/logs/run.googleapis.com%2Frequests\""

  cloud_audit = "logName:\"cloudaudit.googleapis.com\" AND protoPayload.serviceName=(${join(" OR ", [for s in local.audited_services : "\"${s}\""])})"

  # Archive: the functions' audit entries and request logs, and the Cloud Audit Logs of the
  # credential services. Operational lines (stderr) stay in the _Default bucket.
  sink_filter = "((${local.functions}) AND ((${local.audit_entries}) OR ${local.request_log})) OR (${local.cloud_audit})"

  # Each refusal counted once. The function audits every refusal it answers (the OAuth endpoint
  # answers 400); 401/403 answers are counted from the request log instead, which also holds the
  # refusals of Cloud Run's IAM check that never reach the function. Where there is no Cloud Run
  # request log (cloud_function resource), every audited refusal counts. Last, failed calls to
  # the credential APIs (PERMISSION_DENIED = 7, UNAUTHENTICATED = 16).
  denied_filter = join(" OR ", [
    "((${local.token_run}) AND ${local.audit_entries} AND jsonPayload.decision=\"denied\" AND NOT jsonPayload.httpStatus=(401 OR 403))",
    "((${local.token_run}) AND ${local.request_log} AND httpRequest.status=(401 OR 403))",
    "((${local.token_cf}) AND ${local.audit_entries} AND jsonPayload.decision=\"denied\")",
    "(logName:\"cloudaudit.googleapis.com\" AND protoPayload.serviceName=(\"iamcredentials.googleapis.com\" OR \"sts.googleapis.com\" OR \"secretmanager.googleapis.com\") AND protoPayload.status.code=(7 OR 16))",
  ])

  # The token function's ops-log line (shared/ops-log.ts, on stderr) for each failed policy reload.
  policy_reload_failed_filter = "((${local.token_run}) OR (${local.token_cf})) AND jsonPayload.event=\"policy_reload_failed\""

  # The rotator's audit entry for each failed rotation step or refused secret (rotation-audit.ts:
  # decision "error", the secret in jsonPayload.rotation.secret), e.g. NOT_IN_BINDING,
  # BINDING_MISMATCH, STATE_MISMATCH, API_KEY_ID_CONFLICT, VERIFY_FAILED.
  rotation_failed_filter = "(${local.functions}) AND ${local.audit_entries} AND jsonPayload.decision=\"error\" AND jsonPayload.rotation.secret:*"
}

resource "google_project_iam_audit_config" "data_access" {
  for_each = toset(var.data_access_services)

  project = var.project_id
  service = each.value

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

# ---------------------------------------------------------------------------------------------
# GCS archive with a (locked) retention policy.
# ---------------------------------------------------------------------------------------------

resource "google_storage_bucket" "archive" {
  count = var.enable_gcs_sink ? 1 : 0

  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-audit"
  location                    = var.location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.bucket_force_destroy

  retention_policy {
    retention_period = var.retention_days * 86400
    is_locked        = var.lock_retention
  }

  lifecycle_rule {
    condition {
      age = var.retention_days + 1
    }
    action {
      type = "Delete"
    }
  }

  dynamic "encryption" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      default_kms_key_name = encryption.value
    }
  }
}

resource "google_logging_project_sink" "gcs" {
  count = var.enable_gcs_sink ? 1 : 0

  project                = var.project_id
  name                   = "${var.name_prefix}-audit-to-gcs"
  destination            = "storage.googleapis.com/${google_storage_bucket.archive[0].name}"
  filter                 = local.sink_filter
  unique_writer_identity = true
}

resource "google_storage_bucket_iam_member" "gcs_sink_writer" {
  count = var.enable_gcs_sink ? 1 : 0

  bucket = google_storage_bucket.archive[0].name
  role   = "roles/storage.objectCreator"
  member = google_logging_project_sink.gcs[0].writer_identity
}

# ---------------------------------------------------------------------------------------------
# BigQuery dataset for querying.
# ---------------------------------------------------------------------------------------------

resource "google_bigquery_dataset" "audit" {
  count = var.enable_bigquery_sink ? 1 : 0

  project                         = var.project_id
  dataset_id                      = replace("${var.name_prefix}_audit", "-", "_")
  location                        = var.location
  description                     = "Token vending audit entries and Cloud Audit Logs."
  default_partition_expiration_ms = var.retention_days * 86400 * 1000
  delete_contents_on_destroy      = false

  dynamic "default_encryption_configuration" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      kms_key_name = default_encryption_configuration.value
    }
  }
}

resource "google_logging_project_sink" "bigquery" {
  count = var.enable_bigquery_sink ? 1 : 0

  project                = var.project_id
  name                   = "${var.name_prefix}-audit-to-bigquery"
  destination            = "bigquery.googleapis.com/projects/${var.project_id}/datasets/${google_bigquery_dataset.audit[0].dataset_id}"
  filter                 = local.sink_filter
  unique_writer_identity = true

  bigquery_options {
    use_partitioned_tables = true
  }
}

resource "google_bigquery_dataset_iam_member" "bigquery_sink_writer" {
  count = var.enable_bigquery_sink ? 1 : 0

  project    = var.project_id
  dataset_id = google_bigquery_dataset.audit[0].dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = google_logging_project_sink.bigquery[0].writer_identity
}

# ---------------------------------------------------------------------------------------------
# Denied / failed authentications: metric and alert.
# ---------------------------------------------------------------------------------------------

resource "google_logging_metric" "denied" {
  project     = var.project_id
  name        = "${var.name_prefix}_denied_authentications"
  description = "Token requests denied by policy or failed authentication, and denied calls to the credential APIs."
  filter      = local.denied_filter

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

resource "google_monitoring_alert_policy" "denied_spike" {
  project               = var.project_id
  display_name          = "Token vending: spike of denied or failed authentications"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "Denials above ${var.denied_threshold} per ${var.alignment_period}"

    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.denied.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.denied_threshold
      duration        = "0s"

      aggregations {
        alignment_period     = var.alignment_period
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    content   = "Many token requests were denied or callers failed to authenticate. Check the audit sink (jsonPayload.reason, caller) for a misconfigured workload or a probing attempt."
    mime_type = "text/markdown"
  }
}

# ---------------------------------------------------------------------------------------------
# Policy reload failures: metric and alert. A reload that fails keeps the last good policy until
# its maximum staleness, then the function refuses every request: act before that.
# ---------------------------------------------------------------------------------------------

resource "google_logging_metric" "policy_reload_failures" {
  project     = var.project_id
  name        = "${var.name_prefix}_policy_reload_failures"
  description = "Failed reloads of the token function's policy (malformed or unreadable policy secret)."
  filter      = local.policy_reload_failed_filter

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

resource "google_monitoring_alert_policy" "policy_reload_failed" {
  project               = var.project_id
  display_name          = "Token vending: policy reload failed"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "Policy reload failures above ${var.policy_reload_failure_threshold} per ${var.alignment_period}"

    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.policy_reload_failures.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.policy_reload_failure_threshold
      duration        = "0s"

      aggregations {
        alignment_period     = var.alignment_period
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    content   = "The token function could not reload its policy and is serving the last good one. It refuses every request (503) once that policy is older than TVS_POLICY_MAX_STALENESS_SECONDS. Read the function's stderr entries with jsonPayload.event=\"policy_reload_failed\" (jsonPayload.error) and fix the policy secret or the function's access to it."
    mime_type = "text/markdown"
  }
}

# ---------------------------------------------------------------------------------------------
# Failed rotations: metric (by secret and reason) and alert. A refused secret (not in the binding,
# metadata or state disagreeing with it) is a possible attack on the rotator: alert on the first.
# ---------------------------------------------------------------------------------------------

resource "google_logging_metric" "rotation_failures" {
  project     = var.project_id
  name        = "${var.name_prefix}_rotation_failures"
  description = "Failed rotation steps and secrets the rotator refused (audit entries with decision=error)."
  filter      = local.rotation_failed_filter

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "secret"
      value_type  = "STRING"
      description = "Secret id the rotation failed for."
    }
    labels {
      key         = "reason"
      value_type  = "STRING"
      description = "Stable reason (e.g. BINDING_MISMATCH, VERIFY_FAILED)."
    }
  }

  label_extractors = {
    secret = "EXTRACT(jsonPayload.rotation.secret)"
    reason = "EXTRACT(jsonPayload.reason)"
  }
}

resource "google_monitoring_alert_policy" "rotation_failed" {
  project               = var.project_id
  display_name          = "Token vending: rotation failed or refused"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "Rotation failures above ${var.rotation_failure_threshold} per ${var.alignment_period}"

    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.rotation_failures.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.rotation_failure_threshold
      duration        = "0s"

      aggregations {
        alignment_period     = var.alignment_period
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.secret", "metric.label.reason"]
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    content   = "A rotation step failed or the rotator refused a secret. Reasons NOT_IN_BINDING, BINDING_MISMATCH, STATE_MISMATCH and API_KEY_ID_CONFLICT mean someone changed a managed secret's metadata or pre-created an API key id: investigate before anything else (docs/security.md). Otherwise see docs/rotation.md; the current credential stays in use until a rotation succeeds."
    mime_type = "text/markdown"
  }
}
