output "rotate_function_name" {
  description = "Name of the scheduled rotation function (entry point rotate)."
  value       = google_cloudfunctions2_function.rotate.name
}

output "rotate_url" {
  description = "URL of the scheduled rotation function (internal only): the cloudfunctions.net address that Cloud Scheduler calls and that the function expects as its OIDC audience (TVS_ROTATE_AUDIENCE)."
  value       = local.rotate_url
}

output "rotate_on_event_function_name" {
  description = "Name of the event-driven rotation function (entry point rotateOnEvent)."
  value       = google_cloudfunctions2_function.rotate_on_event.name
}

output "scheduler_job_name" {
  description = "Name of the Cloud Scheduler sweep job."
  value       = google_cloud_scheduler_job.sweep.name
}
