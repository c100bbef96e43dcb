# Audit: Data Access logs for Secret Manager and IAM, sinks of the functions' entries and the
# Cloud Audit Logs to a retention-locked bucket and/or BigQuery, and an alert on denial spikes.

locals {
  audited_services = ["secretmanager.googleapis.com", "iam.googleapis.com", "iamcredentials.googleapis.com", "sts.googleapis.com", "apikeys.googleapis.com"]

  functions_filter = join(" OR ", [for n in var.function_service_names : "resource.labels.service_name=\"${n}\""])

  sink_filter = join(" OR ", [
    "(resource.type=\"cloud_run_revision\" AND (${local.functions_filter}))",
    "(logName:\"cloudaudit.googleapis.com\" AND protoPayload.serviceName=(${join(" OR ", [for s in local.audited_services : "\"${s}\""])}))",
  ])

  # Token-function denials (its audit entries and 401/403 responses) and failed calls to the
  # credential APIs (PERMISSION_DENIED = 7, UNAUTHENTICATED = 16).
  denied_filter = join(" OR ", [
    "(logName:\"/logs/${var.audit_log_name}\" AND jsonPayload.decision=\"denied\")",
    "(resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${var.token_service_name}\" AND httpRequest.status=(401 OR 403))",
    "(logName:\"cloudaudit.googleapis.com\" AND protoPayload.serviceName=(\"iamcredentials.googleapis.com\" OR \"sts.googleapis.com\" OR \"secretmanager.googleapis.com\") AND protoPayload.status.code=(7 OR 16))",
  ])
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
