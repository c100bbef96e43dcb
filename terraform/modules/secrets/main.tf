# Secrets the rotator manages, the policy secret and the rotation topic. Terraform creates the
# secret containers and their rotation settings only: no secret_data, no key resource, so no
# key material ever lands in Terraform state. The rotator adds the versions.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  # The Secret Manager service agent publishes rotation notices and, with CMEK, uses the key.
  secret_manager_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-secretmanager.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "rotation" {
  project = var.project_id
  name    = "${var.secret_id_prefix}rotation"
  labels  = var.labels

  # Notices are only useful while a rotation can still act on them.
  message_retention_duration = "86400s"
}

resource "google_pubsub_topic_iam_member" "secret_manager_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.rotation.name
  role    = "roles/pubsub.publisher"
  member  = local.secret_manager_agent
}

# The policy secret's own notices (a new version, an alias moved): pushed to the token function so
# that a policy change, a break-glass deny above all, applies at once (docs/policy.md).
resource "google_pubsub_topic" "policy_changes" {
  count = var.create_policy_secret ? 1 : 0

  project = var.project_id
  name    = "${var.secret_id_prefix}policy-changes"
  labels  = var.labels

  # A notice older than the policy TTL is moot: every instance has re-read by then.
  message_retention_duration = "600s"
}

resource "google_pubsub_topic_iam_member" "secret_manager_policy_publisher" {
  count = var.create_policy_secret ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.policy_changes[0].name
  role    = "roles/pubsub.publisher"
  member  = local.secret_manager_agent
}

resource "google_kms_crypto_key_iam_member" "secret_manager_cmek" {
  count = var.kms_key_name == null ? 0 : 1

  crypto_key_id = var.kms_key_name
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = local.secret_manager_agent
}

resource "google_secret_manager_secret" "managed" {
  for_each = var.managed_credentials

  project   = var.project_id
  secret_id = "${var.secret_id_prefix}${each.key}"

  # The rotator finds its secrets by these labels. What each one rotates is NOT written on the
  # secret (anyone with secrets.update could rewrite it): the rotation_bindings output carries it
  # into the rotation functions' environment. The rotator keeps only its state in annotations.
  labels = merge(var.labels, {
    "tvs-managed" = "true"
    "tvs-kind"    = each.value.kind
  })

  replication {
    auto {
      dynamic "customer_managed_encryption" {
        for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
        content {
          kms_key_name = customer_managed_encryption.value
        }
      }
    }
  }

  rotation {
    rotation_period    = each.value.rotation_period
    next_rotation_time = timeadd(plantimestamp(), var.first_rotation_delay)
  }

  topics {
    name = google_pubsub_topic.rotation.id
  }

  version_destroy_ttl = var.version_destroy_ttl

  # Secret Manager checks it may publish to the topic when the secret is created.
  depends_on = [
    google_pubsub_topic_iam_member.secret_manager_publisher,
    google_kms_crypto_key_iam_member.secret_manager_cmek,
  ]

  lifecycle {
    # Secret Manager advances next_rotation_time itself; the rotator owns the version aliases.
    ignore_changes = [rotation[0].next_rotation_time, version_aliases]
  }
}

resource "google_secret_manager_secret" "policy" {
  count = var.create_policy_secret ? 1 : 0

  project   = var.project_id
  secret_id = "${var.secret_id_prefix}policy"

  labels = merge(var.labels, {
    "tvs-kind" = "policy"
  })

  replication {
    auto {
      dynamic "customer_managed_encryption" {
        for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
        content {
          kms_key_name = customer_managed_encryption.value
        }
      }
    }
  }

  topics {
    name = google_pubsub_topic.policy_changes[0].id
  }

  version_destroy_ttl = var.version_destroy_ttl

  depends_on = [
    google_pubsub_topic_iam_member.secret_manager_policy_publisher,
    google_kms_crypto_key_iam_member.secret_manager_cmek,
  ]
}
