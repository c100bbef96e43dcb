# The consent function (issue 19, docs/user-consent.md "Consent flow"): the browser-facing side of
# the user-consent broker. Users reach it only through the external Application Load Balancer of
# load-balancer.tf, whose backend service has Identity-Aware Proxy on: IAP signs in the user and
# adds `x-goog-iap-jwt-assertion`, which the function verifies (audience below). The function's
# own URL stays closed: ingress admits internal traffic and the load balancer only, and Cloud
# Run's invoker check stays on with run.invoker granted to IAP's service agent alone (IAP calls
# the service with its own ID token in X-Serverless-Authorization: Google's "Enabling IAP for
# Cloud Run", backend-service method, https://cloud.google.com/iap/docs/enabling-cloud-run).

locals {
  # IAP's signed-header audience for a backend service (Google's "Securing your app with signed
  # headers", https://cloud.google.com/iap/docs/signed-headers-howto):
  # /projects/PROJECT_NUMBER/global/backendServices/SERVICE_ID.
  iap_audience = "/projects/${var.project_number}/global/backendServices/${google_compute_backend_service.consent.generated_id}"

  iap_service_agent = "serviceAccount:service-${var.project_number}@gcp-sa-iap.iam.gserviceaccount.com"

  environment = merge(
    var.grants_environment,
    {
      GOOGLE_CLOUD_PROJECT          = var.project_id
      TVS_CONSENT_REDIRECT_URI      = "https://${var.domain}/v1/consent/callback"
      TVS_CONSENT_RETURN_TO_ORIGINS = join(",", distinct(concat(["https://${var.domain}"], var.return_to_origins)))
      TVS_CONSENT_SCOPES            = join(" ", var.scopes)
      TVS_IAP_AUDIENCE              = local.iap_audience
      TVS_TOKEN_FUNCTION_URL        = var.token_function_url
    },
  )
}

resource "google_cloudfunctions2_function" "consent" {
  project     = var.project_id
  location    = var.region
  name        = var.function_name
  description = "Token vending: users consent to delegated access (behind IAP)."
  labels      = var.labels

  build_config {
    runtime           = var.runtime
    entry_point       = "consent"
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
    service_account_email          = var.service_account_email
    ingress_settings               = "ALLOW_INTERNAL_AND_GCLB"
    all_traffic_on_latest_revision = true
    min_instance_count             = 0
    max_instance_count             = var.max_instances
    available_memory               = "256Mi"
    timeout_seconds                = 30
    environment_variables          = local.environment

    # Cloud Run counts a call from another Cloud Run service as internal only when it leaves
    # through a VPC (https://cloud.google.com/run/docs/securing/ingress): with the token function on internal ingress, the
    # revocation call needs this connector and all-traffic egress. Without one (token function
    # public, or no connector) the call goes over the internet to token_function_url.
    vpc_connector                 = var.vpc_connector
    vpc_connector_egress_settings = var.vpc_connector == null ? null : "ALL_TRAFFIC"
  }
}

# IAP's service agent is the only invoker: a request that did not pass IAP is refused by Cloud
# Run before the function sees it (and the function verifies IAP's signed header besides).
resource "google_cloud_run_v2_service_iam_member" "iap_invoker" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.consent.name
  role     = "roles/run.invoker"
  member   = local.iap_service_agent
}

# Who may open the consent pages at all (roles/iap.httpsResourceAccessor on the backend service):
# users and groups of your organization, never allUsers.
resource "google_iap_web_backend_service_iam_member" "users" {
  for_each = toset(var.iap_members)

  project             = var.project_id
  web_backend_service = google_compute_backend_service.consent.name
  role                = "roles/iap.httpsResourceAccessor"
  member              = each.value
}
