output "access_policy_name" {
  description = "Access policy holding the perimeter (accessPolicies/ID)."
  value       = local.policy_name
}

output "perimeter_name" {
  description = "Full name of the service perimeter."
  value       = google_access_context_manager_service_perimeter.this.name
}

output "restricted_services" {
  description = "Services the perimeter restricts."
  value       = local.restricted_services
}

output "enforced" {
  description = "False while the perimeter is in dry-run mode."
  value       = !var.dry_run
}
