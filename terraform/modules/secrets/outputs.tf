output "managed_secret_ids" {
  description = "Every managed secret (projects/P/secrets/S), keyed by credential name: the rotator's per-secret grants."
  value       = { for name, secret in google_secret_manager_secret.managed : name => secret.id }
}

output "rotation_bindings" {
  description = "The rotation binding (secret id => {kind, target, period, grace}) for the rotation module's rotation_bindings: the rotator's only source of what each secret rotates."
  value = {
    for name, c in var.managed_credentials : "${var.secret_id_prefix}${name}" => {
      kind   = c.kind
      target = c.target
      period = c.rotation_period
      grace  = c.grace
    }
  }
}

output "key_secret_ids" {
  description = "The SA-key secrets, keyed by credential name: the token function's per-secret grants."
  value       = { for name, secret in google_secret_manager_secret.managed : name => secret.id if var.managed_credentials[name].kind == "sa-key" }
}

output "sa_key_target_emails" {
  description = "Service accounts whose keys the rotator manages."
  value       = toset([for c in values(var.managed_credentials) : c.target if c.kind == "sa-key"])
}

output "has_api_keys" {
  description = "Whether any managed credential is an API key (the rotator then needs the API Keys role)."
  value       = anytrue([for c in values(var.managed_credentials) : c.kind == "api-key"])
}

output "policy_secret_id" {
  description = "The policy secret (projects/P/secrets/S), or null when not created."
  value       = var.create_policy_secret ? google_secret_manager_secret.policy[0].id : null
}

output "policy_topic_id" {
  description = "Pub/Sub topic (projects/P/topics/T) receiving the policy secret's notices, or null when the policy secret is not created."
  value       = var.create_policy_secret ? google_pubsub_topic.policy_changes[0].id : null
}

output "rotation_topic_id" {
  description = "Pub/Sub topic (projects/P/topics/T) receiving Secret Manager rotation notices."
  value       = google_pubsub_topic.rotation.id
}
