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

# ---------------------------------------------------------------------------------------------
# Operability (docs/operations.md, "Running it"): log-based metrics over what the functions
# already write (docs: the token function's audit entries, the rotator's rotation_health ops
# lines, Cloud Run's request log), the alerts an on-call engineer is paged by, the SLO burn
# alerts and a dashboard. Nothing here adds work to the request path.
# ---------------------------------------------------------------------------------------------

locals {
  token_fn    = "((${local.token_run}) OR (${local.token_cf}))"
  token_audit = "${local.token_fn} AND ${local.audit_entries}"
  # The rotator's per-secret summary line (shared/ops-log.ts, component "rotate", on stderr).
  rotation_health = "(${local.functions}) AND jsonPayload.event=\"rotation_health\""

  ops_filters = {
    # Every token decision (the denominator of the cache-hit SLO: cacheHit=true).
    token_decisions = local.token_audit
    # Requests that minted upstream (absent on cache hits and on refusals before minting).
    mint_latency      = "${local.token_audit} AND jsonPayload.mint.latencyMs:*"
    upstream_attempts = "${local.token_audit} AND jsonPayload.mint.attempts:*"
    # Errors caused by an upstream (token endpoint, IAM Credentials, Secret Manager, STS).
    upstream_errors = "${local.token_audit} AND jsonPayload.decision=\"error\" AND jsonPayload.upstream:*"
    # Cache hits: their latency, and those outside the SLO (>= 50 ms).
    cache_hit_latency = "${local.token_audit} AND jsonPayload.cacheHit=true AND jsonPayload.latencyMs:*"
    slow_cache_hits   = "${local.token_audit} AND jsonPayload.cacheHit=true AND jsonPayload.latencyMs>=${var.cache_hit_latency_slo_ms}"
    # Cloud Run's request log of the token service: all requests, and those answered 5xx.
    token_requests = "${local.token_run} AND ${local.request_log} AND httpRequest.status:*"
    token_5xx      = "${local.token_run} AND ${local.request_log} AND httpRequest.status>=500"
    # Rotation health. The writer decides overdue/stuck/too old (a log filter cannot compare two
    # fields): severity WARNING is "overdue by more than its grace" in the contract, and the
    # booleans overdue, stuck and credentialTooOld carry each condition on their own.
    rotation_run_failed = "${local.rotation_health} AND jsonPayload.outcome=\"failed\""
    rotation_overdue    = "${local.rotation_health} AND (jsonPayload.overdue=true OR severity=WARNING)"
    rotation_stuck      = "${local.rotation_health} AND jsonPayload.stuck=true"
    credential_too_old  = "${local.rotation_health} AND jsonPayload.credentialTooOld=true"
  }

  # Labels and extractors of the counters (key: label => extractor).
  ops_counter_labels = {
    token_decisions = {
      decision  = "EXTRACT(jsonPayload.decision)"
      reason    = "EXTRACT(jsonPayload.reason)"
      rule      = "EXTRACT(jsonPayload.rule)"
      cache_hit = "EXTRACT(jsonPayload.cacheHit)"
    }
    upstream_errors     = { upstream = "EXTRACT(jsonPayload.upstream)", reason = "EXTRACT(jsonPayload.reason)" }
    slow_cache_hits     = {}
    token_requests      = {}
    token_5xx           = { status = "EXTRACT(httpRequest.status)" }
    rotation_run_failed = { secret = "EXTRACT(jsonPayload.secret)", reason = "EXTRACT(jsonPayload.lastError.reason)" }
    rotation_overdue    = { secret = "EXTRACT(jsonPayload.secret)" }
    rotation_stuck      = { secret = "EXTRACT(jsonPayload.secret)", phase = "EXTRACT(jsonPayload.phase)" }
    credential_too_old  = { secret = "EXTRACT(jsonPayload.secret)" }
  }

  ops_counter_descriptions = {
    token_decisions     = "Token decisions by decision, reason, rule and cache hit."
    upstream_errors     = "Token requests that failed because of an upstream (token endpoint, IAM Credentials, Secret Manager, STS)."
    slow_cache_hits     = "Cache-hit token requests answered in ${var.cache_hit_latency_slo_ms} ms or more (the cache-hit latency SLO's bad events)."
    token_requests      = "Requests to the token service in Cloud Run's request log (the availability SLO's total)."
    token_5xx           = "Requests to the token service answered 5xx in Cloud Run's request log (the availability SLO's bad events)."
    rotation_run_failed = "rotation_health entries with outcome=failed, by secret."
    rotation_overdue    = "rotation_health entries of a secret overdue by more than its grace."
    rotation_stuck      = "rotation_health entries of a run stuck in a phase longer than the claim TTL."
    credential_too_old  = "rotation_health entries whose current credential is older than period plus grace."
  }

  # Distributions: value extractor, labels, buckets (ms: exponential 1 ms .. ~65 s; attempts: 1..10).
  ops_distributions = {
    mint_latency = {
      description = "Time spent minting upstream (incl. retries), by backend."
      value       = "EXTRACT(jsonPayload.mint.latencyMs)"
      unit        = "ms"
      labels      = { backend = "EXTRACT(jsonPayload.mint.backend)" }
      exponential = true
    }
    upstream_attempts = {
      description = "Upstream attempts per mint, by backend."
      value       = "EXTRACT(jsonPayload.mint.attempts)"
      unit        = "1"
      labels      = { backend = "EXTRACT(jsonPayload.mint.backend)" }
      exponential = false
    }
    cache_hit_latency = {
      description = "Latency of cache-hit token requests."
      value       = "EXTRACT(jsonPayload.latencyMs)"
      unit        = "ms"
      labels      = {}
      exponential = true
    }
  }

  # Multi-window burn-rate alerts (Google SRE workbook): page when both the long and the short
  # window burn the error budget at `factor` times the sustainable rate. Fast: 2 % of a 30-day
  # budget in 1 h; slow: 5 % in 6 h.
  burn_windows = {
    fast = { long = "3600s", short = "300s", factor = 14.4 }
    slow = { long = "21600s", short = "1800s", factor = 6 }
  }
  slos = {
    availability = {
      title  = "${var.availability_slo * 100} % of token requests non-5xx"
      budget = 1 - var.availability_slo
      bad    = "token_5xx"
      total  = "metric.type=\"logging.googleapis.com/user/${var.name_prefix}_token_requests\""
    }
    cache_hit_latency = {
      title  = "${var.cache_hit_latency_slo * 100} % of cache hits under ${var.cache_hit_latency_slo_ms} ms"
      budget = 1 - var.cache_hit_latency_slo
      bad    = "slow_cache_hits"
      total  = "metric.type=\"logging.googleapis.com/user/${var.name_prefix}_token_decisions\" AND metric.label.cache_hit=\"true\""
    }
  }
  burn_alerts = merge([for s, slo in local.slos : { for w, win in local.burn_windows : "${s}_${w}" => merge(slo, win, { slo = s, window = w }) }]...)

  # Count alerts on the counters above: threshold per alignment period, first thing to do.
  ops_alerts = {
    rotation_run_failed = {
      title     = "Token vending: rotation run failed for a secret"
      threshold = 0
      group_by  = ["metric.label.secret"]
      doc       = "A rotation run ended with outcome=failed for a secret (rotation_health, jsonPayload.lastError). The current credential stays in use. First: read the rotator's rotation_health and audit entries for the secret (docs/operations.md, Running it); a refusal reason (NOT_IN_BINDING, BINDING_MISMATCH, STATE_MISMATCH) is a possible attack (docs/security.md)."
    }
    rotation_overdue = {
      title     = "Token vending: secret overdue by more than its grace"
      threshold = 0
      group_by  = ["metric.label.secret"]
      doc       = "A managed secret's rotation is overdue by more than its grace period and no run has started it (rotation_health overdue: idle and dueInSeconds < -graceSeconds). First: check the rotate scheduler job ran and the rotate function's last rotation_health entry for the secret (outcome, lastError); force a rotation (docs/rotation.md)."
    }
    rotation_stuck = {
      title     = "Token vending: rotation stuck in a phase longer than the claim TTL"
      threshold = 0
      group_by  = ["metric.label.secret", "metric.label.phase"]
      doc       = "A rotation run has been in a non-idle phase longer than its claim TTL (rotation_health phaseAgeSeconds > claimTtlSeconds). First: look for the rotate function's error entries for the secret in that phase; the next run takes the claim over after its TTL (docs/rotation.md)."
    }
    credential_too_old = {
      title     = "Token vending: credential older than its period plus grace"
      threshold = 0
      group_by  = ["metric.label.secret"]
      doc       = "A managed secret's current credential is older than its rotation period plus grace (rotation_health credentialTooOld: credentialAgeSeconds > periodSeconds + graceSeconds, in any phase; fires alone when a started rotation has not promoted). First: read the secret's last rotation_health entries (outcome, lastError) and force a rotation (docs/rotation.md)."
    }
    upstream_errors = {
      title     = "Token vending: upstream errors"
      threshold = var.upstream_error_threshold
      group_by  = ["metric.label.upstream"]
      doc       = "Token requests are failing because an upstream (token endpoint, IAM Credentials, Secret Manager, STS: metric label upstream) answers errors. First: check Google Cloud status for that API and the function's audit entries with decision=error (jsonPayload.upstream, reason)."
    }
  }
}

resource "google_logging_metric" "ops_counter" {
  for_each = local.ops_counter_labels

  project     = var.project_id
  name        = "${var.name_prefix}_${each.key}"
  description = local.ops_counter_descriptions[each.key]
  filter      = local.ops_filters[each.key]

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    dynamic "labels" {
      for_each = each.value
      content {
        key        = labels.key
        value_type = "STRING"
      }
    }
  }

  label_extractors = each.value
}

resource "google_logging_metric" "ops_distribution" {
  for_each = local.ops_distributions

  project         = var.project_id
  name            = "${var.name_prefix}_${each.key}"
  description     = each.value.description
  filter          = local.ops_filters[each.key]
  value_extractor = each.value.value

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = each.value.unit

    dynamic "labels" {
      for_each = each.value.labels
      content {
        key        = labels.key
        value_type = "STRING"
      }
    }
  }

  label_extractors = each.value.labels

  bucket_options {
    dynamic "exponential_buckets" {
      for_each = each.value.exponential ? [1] : []
      content {
        num_finite_buckets = 32
        growth_factor      = 1.4142
        scale              = 1
      }
    }
    dynamic "linear_buckets" {
      for_each = each.value.exponential ? [] : [1]
      content {
        num_finite_buckets = 10
        width              = 1
        offset             = 0.5
      }
    }
  }
}

resource "google_monitoring_alert_policy" "ops" {
  for_each = local.ops_alerts

  project               = var.project_id
  display_name          = each.value.title
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "${each.key} above ${each.value.threshold} per ${var.alignment_period}"

    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.ops_counter[each.key].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.threshold
      duration        = "0s"

      aggregations {
        alignment_period     = var.alignment_period
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = each.value.group_by
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    content   = each.value.doc
    mime_type = "text/markdown"
  }
}

# SLO burn: ratio of bad to total events (two log-based counters) over a long and a short window,
# both above factor x budget (combiner AND): fires fast on a real burn, resets soon after it ends.
resource "google_monitoring_alert_policy" "slo_burn" {
  for_each = local.burn_alerts

  project               = var.project_id
  display_name          = "Token vending: SLO burn (${each.value.window}) - ${each.value.title}"
  combiner              = "AND"
  notification_channels = var.notification_channels

  dynamic "conditions" {
    for_each = [each.value.long, each.value.short]
    content {
      display_name = "Bad/total over ${conditions.value} above ${each.value.factor} x ${each.value.budget}"

      condition_threshold {
        filter             = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.ops_counter[each.value.bad].name}\""
        denominator_filter = each.value.total
        comparison         = "COMPARISON_GT"
        threshold_value    = each.value.factor * each.value.budget
        duration           = "0s"

        aggregations {
          alignment_period     = conditions.value
          per_series_aligner   = "ALIGN_SUM"
          cross_series_reducer = "REDUCE_SUM"
        }

        denominator_aggregations {
          alignment_period     = conditions.value
          per_series_aligner   = "ALIGN_SUM"
          cross_series_reducer = "REDUCE_SUM"
        }

        trigger {
          count = 1
        }
      }
    }
  }

  documentation {
    content   = "The SLO \"${each.value.title}\" is burning its error budget ${each.value.factor} times faster than sustainable over ${each.value.long} (and still over ${each.value.short}). ${each.value.slo == "availability" ? "First: open the dashboard's 5xx and upstream-error charts; 503s with reason POLICY_STALE mean the policy cannot be reloaded, 502/504 an upstream. See docs/operations.md, Running it." : "First: open the dashboard's cache-hit latency chart; check the token service's instances (CPU throttling, cold starts, max instances) in Cloud Run. See docs/operations.md, Running it."}"
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_dashboard" "ops" {
  project = var.project_id
  dashboard_json = templatefile("${path.module}/dashboard.json.tftpl", {
    title   = "Token vending (${var.name_prefix})"
    metrics = merge({ for k, m in google_logging_metric.ops_counter : k => m.name }, { for k, m in google_logging_metric.ops_distribution : k => m.name }, { policy_reload_failures = google_logging_metric.policy_reload_failures.name })
  })
}
