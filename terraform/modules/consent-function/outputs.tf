output "function_name" {
  description = "The consent function's name (its Cloud Run service)."
  value       = google_cloudfunctions2_function.consent.name
}

output "ip_address" {
  description = "The load balancer's address: point var.domain's A record at it."
  value       = google_compute_global_address.consent.address
}

output "consent_url" {
  description = "Where users consent and review their grants."
  value       = "https://${var.domain}/v1/consent"
}

output "redirect_uri" {
  description = "The one authorized redirect URI to register on the OAuth client."
  value       = "https://${var.domain}/v1/consent/callback"
}

output "iap_audience" {
  description = "IAP's signed-header audience the function verifies (TVS_IAP_AUDIENCE)."
  value       = local.iap_audience
}
