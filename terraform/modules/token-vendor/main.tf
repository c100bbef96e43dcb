# The token function: Cloud Functions gen2, entry point `token`, its own runtime identity.
# internal exposure: internal ingress, invocable only by the listed principals.
# public exposure: reachable through the external load balancer of load-balancer.tf only, and
# Cloud Run's invoker check lifted for this one service (our authentication is the gate).

locals {
  public       = var.exposure == "public"
  function_url = "https://${var.region}-${var.project_id}.cloudfunctions.net/${var.function_name}"
  public_url   = local.public ? "https://${var.domain}" : null

  # TVS_AUDIENCE is comma-separated: in public mode callers' tokens name the public URL.
  audience = join(",", distinct(concat(split(",", coalesce(var.audience, local.function_url)), local.public ? [local.public_url] : [])))

  # Internal plus the load balancer in public mode, whatever ingress_settings says.
  ingress_settings = local.public ? "ALLOW_INTERNAL_AND_GCLB" : var.ingress_settings

  # Policy change notices are pushed only when there is a topic and an identity to push as.
  notifications = var.policy_topic_id != null && var.policy_notifier_service_account_email != null

  # Optional issuer fields are dropped rather than sent as null: the config schema is strict.
  oidc_issuers = [for i in var.oidc_issuers : { for k, v in i : k => v if v != null }]

  # Runtime options that bound the process's memory (V8 heap sizing, glibc malloc arenas): one
  # file, read here and by the bench that measures them (docs/performance.md, "5 Memory").
  runtime_environment = jsondecode(file("${path.module}/runtime-environment.json"))

  environment = merge(
    local.runtime_environment,
    # X-Forwarded-For: behind the external load balancer the client address is the entry before
    # its own. Before extra_environment_variables, so they can override it (e.g. 2 if a proxy adds one).
    { TVS_FORWARDED_FOR_TRUSTED_HOPS = local.public ? "1" : "0" },
    var.extra_environment_variables,
    {
      GOOGLE_CLOUD_PROJECT    = var.project_id
      TVS_AUDIENCE            = local.audience
      TVS_OIDC_ISSUERS        = jsonencode(local.oidc_issuers)
      TVS_TOKEN_URI_ALLOWLIST = join(",", var.token_uri_allowlist)
      TVS_AUDIT_LOG_NAME      = var.audit_log_name
      # Fail closed when the policy cannot be re-read for this long.
      TVS_POLICY_MAX_STALENESS_SECONDS = tostring(var.policy_max_staleness_seconds)
      # The longest any instance judges by a policy it read before a change (docs/policy.md).
      TVS_POLICY_TTL_SECONDS = tostring(var.policy_ttl_seconds)
    },
    local.notifications ? { TVS_POLICY_NOTIFIER = var.policy_notifier_service_account_email } : {},
    var.policy_secret_version == null ? {} : { TVS_POLICY_SECRET = var.policy_secret_version },
    var.policy_file == null ? {} : { TVS_POLICY_FILE = var.policy_file },
    # The shared cache tier (modules/shared-cache's `environment` output); empty = no tier.
    var.shared_cache_environment,
    # User-token vending (modules/user-consent's `environment`); empty = the routes are off.
    var.user_consent_environment,
  )
}

resource "google_cloudfunctions2_function" "token" {
  project     = var.project_id
  location    = var.region
  name        = var.function_name
  description = "Token vending: short-lived Google credentials by policy."
  labels      = var.labels

  build_config {
    runtime           = var.runtime
    entry_point       = "token"
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
    ingress_settings                 = local.ingress_settings
    all_traffic_on_latest_revision   = true
    min_instance_count               = var.min_instances
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = var.max_instance_request_concurrency
    available_memory                 = var.available_memory
    available_cpu                    = var.available_cpu
    timeout_seconds                  = var.timeout_seconds
    environment_variables            = local.environment

    # The shared cache tier's Redis is on a private IP: only private ranges go through the connector.
    vpc_connector                 = var.vpc_connector
    vpc_connector_egress_settings = var.vpc_connector == null ? null : "PRIVATE_RANGES_ONLY"
  }
}

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = toset(var.invoker_members)

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.token.name
  role     = "roles/run.invoker"
  member   = each.value
}

# Public mode only: the invoker check is lifted for this one service by granting run.invoker to
# allUsers on it (the function's own Cloud Run service; ingress still admits only the load
# balancer and internal traffic). Why this and not a Cloud Run service with invoker_iam_disabled:
# docs/deploy.md, "Choosing a mode".
resource "google_cloud_run_v2_service_iam_member" "public_invoker" {
  count = local.public ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.token.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# ---------------------------------------------------------------------------------------------
# Policy change notices: the policy secret's Secret Manager notifications, pushed by Pub/Sub to
# POST /v1/policy:notify with an OIDC token of the notifier SA (the function accepts no other
# caller there). A push reaches one instance; the others obey within TVS_POLICY_TTL_SECONDS.
# Pub/Sub counts as internal traffic for the function's ingress when in the same project or
# perimeter (Cloud Run ingress docs); the run.app URL is the push endpoint.
# ---------------------------------------------------------------------------------------------

resource "google_cloud_run_v2_service_iam_member" "policy_notifier" {
  count = local.notifications ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.token.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${var.policy_notifier_service_account_email}"
}

resource "google_pubsub_subscription" "policy_changes" {
  count = local.notifications ? 1 : 0

  project = var.project_id
  name    = "${var.function_name}-policy-changes"
  topic   = var.policy_topic_id
  labels  = var.labels

  ack_deadline_seconds       = 20
  message_retention_duration = "600s"

  push_config {
    push_endpoint = "${google_cloudfunctions2_function.token.service_config[0].uri}/v1/policy:notify"

    oidc_token {
      service_account_email = var.policy_notifier_service_account_email
      # One of TVS_AUDIENCE: the function verifies the push token like any caller's.
      audience = split(",", local.audience)[0]
    }
  }

  retry_policy {
    minimum_backoff = "1s"
    maximum_backoff = "10s"
  }

  # Never expire for inactivity: a policy may go unchanged for months.
  expiration_policy {
    ttl = ""
  }
}
