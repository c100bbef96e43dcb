# Rotation: `rotate` (HTTP) swept on a schedule by Cloud Scheduler with an OIDC token, and
# `rotateOnEvent` (CloudEvent) fed by Secret Manager's rotation notices on Pub/Sub with retries.
# Both run as the rotator identity; both accept traffic from internal sources only (Cloud
# Scheduler and Eventarc count as internal for the same project / perimeter).

locals {
  # The rotate function's deterministic URL (a Cloud Run function answers on it as well as on its
  # run.app URL, whose hash is known only after creation). Scheduler targets it and uses it as the
  # OIDC audience; the function verifies that audience itself, so it must know it at deploy time.
  rotate_url = "https://${var.region}-${var.project_id}.cloudfunctions.net/${var.name_prefix}-rotate"

  environment = merge(var.extra_environment_variables, {
    GOOGLE_CLOUD_PROJECT = var.project_id
    # Defence in depth behind Cloud Run's invoker check: rotate verifies the caller's ID token
    # again and accepts only the Scheduler's identity.
    TVS_ROTATE_INVOKERS = var.invoker_service_account_email
    TVS_ROTATE_AUDIENCE = local.rotate_url
    # Which secret rotates which credential: deploy-time configuration, never the secrets' metadata.
    TVS_ROTATION_BINDINGS = jsonencode(var.rotation_bindings)
  })
}

resource "google_cloudfunctions2_function" "rotate" {
  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-rotate"
  description = "Token vending: rotate due SA keys and API keys (scheduled sweep)."
  labels      = var.labels

  build_config {
    runtime           = var.runtime
    entry_point       = "rotate"
    service_account   = var.build_service_account_id
    docker_repository = var.docker_repository

    source {
      storage_source {
        bucket = var.source_bucket
        object = var.source_object
      }
    }
  }

  service_config {
    service_account_email            = var.service_account_email
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    min_instance_count               = 0
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = 1
    available_memory                 = var.available_memory
    timeout_seconds                  = var.timeout_seconds
    environment_variables            = local.environment
  }
}

resource "google_cloudfunctions2_function" "rotate_on_event" {
  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-rotate-on-event"
  description = "Token vending: rotate a secret when Secret Manager announces SECRET_ROTATE."
  labels      = var.labels

  build_config {
    runtime           = var.runtime
    entry_point       = "rotateOnEvent"
    service_account   = var.build_service_account_id
    docker_repository = var.docker_repository

    source {
      storage_source {
        bucket = var.source_bucket
        object = var.source_object
      }
    }
  }

  service_config {
    service_account_email            = var.service_account_email
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    min_instance_count               = 0
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = 1
    available_memory                 = var.available_memory
    timeout_seconds                  = var.timeout_seconds
    environment_variables            = local.environment
  }

  event_trigger {
    trigger_region        = var.region
    event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
    pubsub_topic          = var.rotation_topic_id
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = var.invoker_service_account_email
  }
}

resource "google_cloud_run_v2_service_iam_member" "scheduler_invoker" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.rotate.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${var.invoker_service_account_email}"
}

resource "google_cloud_run_v2_service_iam_member" "event_invoker" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.rotate_on_event.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${var.invoker_service_account_email}"
}

resource "google_cloud_scheduler_job" "sweep" {
  project          = var.project_id
  region           = var.region
  name             = "${var.name_prefix}-rotation-sweep"
  description      = "Token vending: rotate every due managed secret (backstop for missed rotation notices)."
  schedule         = var.schedule
  time_zone        = var.time_zone
  attempt_deadline = "${var.timeout_seconds + 30}s"

  retry_config {
    retry_count          = 2
    min_backoff_duration = "60s"
    max_backoff_duration = "600s"
  }

  http_target {
    http_method = "POST"
    uri         = local.rotate_url
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode("{}")

    oidc_token {
      service_account_email = var.invoker_service_account_email
      audience              = local.rotate_url
    }
  }

  depends_on = [google_cloud_run_v2_service_iam_member.scheduler_invoker]
}
