output "function_name" {
  description = "Name of the token function."
  value       = google_cloudfunctions2_function.token.name
}

output "url" {
  description = "URL of the token function (reachable from internal networks only)."
  value       = google_cloudfunctions2_function.token.url
}

output "audience" {
  description = "Audience callers must request for their ID tokens (TVS_AUDIENCE)."
  value       = local.audience
}
