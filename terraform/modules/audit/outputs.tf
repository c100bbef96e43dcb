output "archive_bucket" {
  description = "Name of the retention-locked archive bucket, or null."
  value       = var.enable_gcs_sink ? google_storage_bucket.archive[0].name : null
}

output "bigquery_dataset_id" {
  description = "Id of the audit dataset, or null."
  value       = var.enable_bigquery_sink ? google_bigquery_dataset.audit[0].dataset_id : null
}

output "sink_writer_identities" {
  description = "Writer identities of the sinks (granted on their destinations)."
  value = concat(
    [for s in google_logging_project_sink.gcs : s.writer_identity],
    [for s in google_logging_project_sink.bigquery : s.writer_identity],
  )
}

output "denied_metric_name" {
  description = "Log-based metric counting denied or failed authentications."
  value       = google_logging_metric.denied.name
}

output "alert_policy_name" {
  description = "Alert policy on denial spikes."
  value       = google_monitoring_alert_policy.denied_spike.name
}

output "policy_reload_failures_metric_name" {
  description = "Log-based metric counting failed policy reloads of the token function."
  value       = google_logging_metric.policy_reload_failures.name
}

output "policy_reload_alert_policy_name" {
  description = "Alert policy on policy reload failures."
  value       = google_monitoring_alert_policy.policy_reload_failed.name
}

output "rotation_failures_metric_name" {
  description = "Log-based metric counting failed rotation steps and refused secrets, labelled by secret and reason."
  value       = google_logging_metric.rotation_failures.name
}

output "rotation_alert_policy_name" {
  description = "Alert policy on failed or refused rotations."
  value       = google_monitoring_alert_policy.rotation_failed.name
}

output "ops_metric_names" {
  description = "Log-based metrics of the operability set (counters and distributions), by key."
  value       = merge({ for k, m in google_logging_metric.ops_counter : k => m.name }, { for k, m in google_logging_metric.ops_distribution : k => m.name })
}

output "ops_alert_policy_names" {
  description = "Alert policies on rotation health, upstream errors and SLO burn, by key."
  value       = merge({ for k, a in google_monitoring_alert_policy.ops : k => a.name }, { for k, a in google_monitoring_alert_policy.slo_burn : "slo_burn_${k}" => a.name })
}

output "dashboard_id" {
  description = "Id of the Cloud Monitoring dashboard."
  value       = google_monitoring_dashboard.ops.id
}
