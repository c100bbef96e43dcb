output "function_name" {
  description = "Name of the token function."
  value       = google_cloudfunctions2_function.token.name
}

output "url" {
  description = "URL of the token function (cloudfunctions.net; reachable from internal networks only, in both modes)."
  value       = google_cloudfunctions2_function.token.url
}

output "audience" {
  description = "Audience callers must request for their ID tokens (TVS_AUDIENCE)."
  value       = local.audience
}

output "public_url" {
  description = "Public mode: https://DOMAIN, the URL callers outside Google Cloud use (serviceUrl and token audience). null in internal mode."
  value       = local.public_url
}

output "load_balancer_ip" {
  description = "Public mode: the load balancer's global IPv4 address; point DOMAIN's A record at it so the managed certificate can be issued. null in internal mode."
  value       = one(google_compute_global_address.token[*].address)
}

output "security_policy" {
  description = "Public mode: name of the Cloud Armor policy in front of the function. null in internal mode."
  value       = one(google_compute_security_policy.token[*].name)
}
