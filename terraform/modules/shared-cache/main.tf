# The shared, encrypted token cache tier (docs/shared-cache.md): Memorystore for Redis with AUTH
# and in-transit encryption, the Cloud KMS key that wraps the cache's data keys, the secret that
# holds the instance's AUTH string, and the Serverless VPC Access connector the token function
# reaches the instance through. The token identity's grants on the key and the secret live in
# modules/iam, like every grant to a runtime identity.

resource "google_kms_key_ring" "cache" {
  project  = var.project_id
  name     = "${var.name_prefix}-shared-cache"
  location = var.region
}

# Wraps data keys only (one per hour for the whole fleet): never a token.
resource "google_kms_crypto_key" "cache" {
  name            = "token-cache"
  key_ring        = google_kms_key_ring.cache.id
  purpose         = "ENCRYPT_DECRYPT"
  rotation_period = var.key_rotation_period
  labels          = var.labels

  version_template {
    algorithm        = "GOOGLE_SYMMETRIC_ENCRYPTION"
    protection_level = "SOFTWARE"
  }

  # A destroyed key makes every cached entry unreadable (harmless: they are minted again), but
  # key rings cannot be deleted and a re-created key gets a new name: keep it.
  lifecycle {
    prevent_destroy = true
  }
}

resource "google_redis_instance" "cache" {
  project        = var.project_id
  region         = var.region
  name           = "${var.name_prefix}-token-cache"
  display_name   = "Token vending: shared token cache"
  tier           = var.tier
  memory_size_gb = var.memory_size_gb
  redis_version  = var.redis_version
  labels         = var.labels

  authorized_network = var.network
  connect_mode       = var.connect_mode

  # Clients must AUTH with the instance's AUTH string and speak TLS, trusting the instance's own CA.
  auth_enabled            = true
  transit_encryption_mode = "SERVER_AUTHENTICATION"

  redis_configs = {
    # Every key the tier writes has a TTL: under memory pressure, drop the soonest to expire.
    "maxmemory-policy" = "volatile-ttl"
  }
}

# The AUTH string's home. Terraform creates the secret, never a version: a version would put the
# string into this configuration's state a second time (the policy tests forbid secret versions
# here). docs/shared-cache.md gives the one command that copies it in after the first apply.
resource "google_secret_manager_secret" "auth" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-shared-cache-auth"
  labels    = merge(var.labels, { "tvs-kind" = "shared-cache-auth" })

  version_destroy_ttl = "86400s"

  replication {
    auto {}
  }
}

# The function reaches the instance's private IP through this connector; only private ranges
# go through it (Google APIs keep their usual path).
resource "google_vpc_access_connector" "egress" {
  project       = var.project_id
  region        = var.region
  name          = "${var.name_prefix}-cache"
  network       = var.network
  ip_cidr_range = var.connector_cidr
  machine_type  = "e2-micro"
  min_instances = 2
  max_instances = var.connector_max_instances
}
