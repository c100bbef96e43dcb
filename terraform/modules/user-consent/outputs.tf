output "database_name" {
  description = "The grants database (projects/P/databases/D); the token identity's Firestore grant in modules/iam is conditioned on this name."
  value       = local.database_name
}

output "database_id" {
  description = "The grants database's id (D), as the Firestore REST paths name it: projects/P/databases/D/documents/userGrants/…"
  value       = google_firestore_database.grants.name
}

output "crypto_key_id" {
  description = "The KMS key that wraps the grants' data keys (projects/P/locations/L/keyRings/R/cryptoKeys/K); the token identity gets decrypt on it in modules/iam."
  value       = google_kms_crypto_key.grants.id
}

output "client_secret_id" {
  description = "The secret (projects/P/secrets/S) the admin adds the OAuth client's secret to; the token identity gets access to it in modules/iam."
  value       = google_secret_manager_secret.oauth_client.id
}

output "consent_service_account_email" {
  description = "Runtime identity of the consent endpoints."
  value       = google_service_account.consent.email
}

output "environment" {
  description = "Environment both the token function and the consent function read for user grants (docs/user-consent.md): the OAuth client, its secret's latest version, the grants database and key."
  value = {
    TVS_USER_CONSENT_CLIENT_ID     = var.oauth_client_id
    TVS_USER_CONSENT_CLIENT_SECRET = "${google_secret_manager_secret.oauth_client.id}/versions/latest"
    TVS_USER_GRANTS_DATABASE       = google_firestore_database.grants.name
    TVS_USER_GRANTS_KMS_KEY        = google_kms_crypto_key.grants.id
  }
}
