output "crypto_key_id" {
  description = "The KMS key that wraps the cache's data keys (projects/P/locations/L/keyRings/R/cryptoKeys/K); grant the token identity use of it (modules/iam)."
  value       = google_kms_crypto_key.cache.id
}

output "auth_secret_id" {
  description = "The secret (projects/P/secrets/S) that holds the instance's AUTH string; grant the token identity access to it (modules/iam)."
  value       = google_secret_manager_secret.auth.id
}

output "vpc_connector_id" {
  description = "The Serverless VPC Access connector the token function must use (service_config.vpc_connector)."
  value       = google_vpc_access_connector.egress.id
}

output "instance_name" {
  description = "The Memorystore instance (for `gcloud redis instances get-auth-string`)."
  value       = google_redis_instance.cache.name
}

output "environment" {
  description = "The token function's TVS_SHARED_CACHE_* variables (docs/configuration.md)."
  value = {
    # In-transit encryption: TLS on the instance's port (6378), trusting only its server CA.
    TVS_SHARED_CACHE_URL         = "rediss://${google_redis_instance.cache.host}:${google_redis_instance.cache.port}"
    TVS_SHARED_CACHE_KMS_KEY     = google_kms_crypto_key.cache.id
    TVS_SHARED_CACHE_AUTH_SECRET = "${google_secret_manager_secret.auth.id}/versions/latest"
    TVS_SHARED_CACHE_CA          = join("", [for c in google_redis_instance.cache.server_ca_certs : c.cert])
  }
}
