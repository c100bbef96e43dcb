# A complete deployment: identities and least-privilege grants, managed secrets, the token
# function, the rotation functions with their triggers, the VPC-SC perimeter and audit sinks.

locals {
  labels = { app = "token-vending" }

  # Compute Engine (load balancer, Cloud Armor) only in public mode.
  apis = toset(concat([
    "apikeys.googleapis.com",
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "eventarc.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "sts.googleapis.com",
    ], var.token_exposure == "public" ? ["compute.googleapis.com"] : [],
    # The shared cache tier: Memorystore, Cloud KMS and the VPC connector.
    var.enable_shared_cache ? ["cloudkms.googleapis.com", "redis.googleapis.com", "vpcaccess.googleapis.com"] : [],
    # The user-consent broker: Firestore (the grants database) and Cloud KMS (its key).
  var.user_consent != null ? ["cloudkms.googleapis.com", "compute.googleapis.com", "firestore.googleapis.com", "iap.googleapis.com"] : []))
}

resource "google_project_service" "apis" {
  for_each = local.apis

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# ---------------------------------------------------------------------------------------------
# Build plumbing: source archives, image repository and the build identity's grants.
# ---------------------------------------------------------------------------------------------

resource "google_storage_bucket" "sources" {
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels

  lifecycle_rule {
    condition {
      age = 90
    }
    action {
      type = "Delete"
    }
  }
}

data "archive_file" "token" {
  type        = "zip"
  source_dir  = var.token_source_dir
  output_path = "${path.module}/.build/token.zip"
}

data "archive_file" "rotate" {
  type        = "zip"
  source_dir  = var.rotate_source_dir
  output_path = "${path.module}/.build/rotate.zip"
}

# Content-addressed names: a code change yields a new object and so a new function revision.
resource "google_storage_bucket_object" "token" {
  bucket = google_storage_bucket.sources.name
  name   = "token-${data.archive_file.token.output_sha256}.zip"
  source = data.archive_file.token.output_path
}

resource "google_storage_bucket_object" "rotate" {
  bucket = google_storage_bucket.sources.name
  name   = "rotate-${data.archive_file.rotate.output_sha256}.zip"
  source = data.archive_file.rotate.output_path
}

data "archive_file" "consent" {
  count = var.user_consent != null ? 1 : 0

  type        = "zip"
  source_dir  = var.consent_source_dir
  output_path = "${path.module}/.build/consent.zip"
}

resource "google_storage_bucket_object" "consent" {
  count = var.user_consent != null ? 1 : 0

  bucket = google_storage_bucket.sources.name
  name   = "consent-${data.archive_file.consent[0].output_sha256}.zip"
  source = data.archive_file.consent[0].output_path
}

resource "google_artifact_registry_repository" "functions" {
  project       = var.project_id
  location      = var.region
  repository_id = "${var.name_prefix}-functions"
  format        = "DOCKER"
  description   = "Images of the token vending functions."
  labels        = local.labels
}

resource "google_project_iam_member" "build_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${module.iam.build_service_account_email}"
}

resource "google_artifact_registry_repository_iam_member" "build_writer" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${module.iam.build_service_account_email}"
}

resource "google_storage_bucket_iam_member" "build_source_reader" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${module.iam.build_service_account_email}"
}

# ---------------------------------------------------------------------------------------------
# The service.
# ---------------------------------------------------------------------------------------------

module "secrets" {
  source = "../../modules/secrets"

  project_id          = var.project_id
  secret_id_prefix    = "${var.name_prefix}-"
  managed_credentials = var.managed_credentials
  kms_key_name        = var.kms_key_name
  labels              = local.labels

  depends_on = [google_project_service.apis]
}

# Optional (enable_shared_cache): the shared, encrypted token cache (docs/shared-cache.md).
module "shared_cache" {
  source = "../../modules/shared-cache"
  count  = var.enable_shared_cache ? 1 : 0

  project_id     = var.project_id
  region         = var.region
  name_prefix    = var.name_prefix
  network        = var.shared_cache_network
  connector_cidr = var.shared_cache_connector_cidr
  tier           = var.shared_cache_tier
  labels         = local.labels

  depends_on = [google_project_service.apis]
}

# Optional (user_consent): custody of users' refresh tokens for the user-consent broker
# (docs/user-consent.md): the grants database, its KMS key, the OAuth client's secret and the
# consent side's identity.
module "user_consent" {
  source = "../../modules/user-consent"
  count  = var.user_consent != null ? 1 : 0

  project_id          = var.project_id
  name_prefix         = var.name_prefix
  location            = coalesce(try(var.user_consent.location, null), var.region)
  kms_location        = coalesce(try(var.user_consent.kms_location, null), var.region)
  key_rotation_period = try(var.user_consent.key_rotation_period, "7776000s")
  oauth_client_id     = var.user_consent.oauth_client_id
  labels              = local.labels

  depends_on = [google_project_service.apis]
}

module "iam" {
  source = "../../modules/iam"

  project_id               = var.project_id
  name_prefix              = var.name_prefix
  key_secret_ids           = module.secrets.key_secret_ids
  policy_secret_id         = module.secrets.policy_secret_id
  managed_secret_ids       = module.secrets.managed_secret_ids
  sa_key_target_emails     = module.secrets.sa_key_target_emails
  keyless_service_accounts = var.keyless_service_accounts
  enable_api_key_rotation  = module.secrets.has_api_keys

  enable_shared_cache         = var.enable_shared_cache
  shared_cache_crypto_key_id  = var.enable_shared_cache ? module.shared_cache[0].crypto_key_id : null
  shared_cache_auth_secret_id = var.enable_shared_cache ? module.shared_cache[0].auth_secret_id : null

  enable_user_consent           = var.user_consent != null
  user_consent_crypto_key_id    = var.user_consent != null ? module.user_consent[0].crypto_key_id : null
  user_consent_database_name    = var.user_consent != null ? module.user_consent[0].database_name : null
  user_consent_client_secret_id = var.user_consent != null ? module.user_consent[0].client_secret_id : null

  depends_on = [google_project_service.apis]
}

module "token_vendor" {
  source = "../../modules/token-vendor"

  project_id               = var.project_id
  region                   = var.region
  function_name            = "${var.name_prefix}-token"
  service_account_email    = module.iam.token_service_account_email
  build_service_account_id = module.iam.build_service_account_id
  source_bucket            = google_storage_bucket.sources.name
  source_object            = google_storage_bucket_object.token.name
  docker_repository        = google_artifact_registry_repository.functions.id
  exposure                 = var.token_exposure
  domain                   = var.token_domain
  allowed_source_ranges    = var.token_allowed_source_ranges
  ingress_settings         = var.token_ingress_settings
  audience                 = var.token_audience
  policy_secret_version    = "${module.secrets.policy_secret_id}/versions/latest"
  oidc_issuers             = var.oidc_issuers
  token_uri_allowlist      = var.token_uri_allowlist
  # The consent identity calls POST /v1/users/{sub}:revokeGrant for users who revoke on its page.
  invoker_members = concat(var.token_invoker_members, var.user_consent != null ? ["serviceAccount:${module.user_consent[0].consent_service_account_email}"] : [])
  labels          = local.labels

  shared_cache_environment = var.enable_shared_cache ? module.shared_cache[0].environment : {}
  user_consent_environment = var.user_consent != null ? module.user_consent[0].environment : {}
  vpc_connector            = var.enable_shared_cache ? module.shared_cache[0].vpc_connector_id : null

  # Policy changes (a break-glass deny) apply at once on the instance the notice reaches.
  policy_topic_id                       = module.secrets.policy_topic_id
  policy_notifier_service_account_email = module.iam.policy_notifier_service_account_email

  depends_on = [
    google_project_service.apis,
    google_project_iam_member.build_log_writer,
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
    # The function starts reading the AUTH secret and using the key at once.
    module.iam,
  ]
}

# Optional (user_consent): the consent pages, behind IAP on their own load balancer.
module "consent_function" {
  source = "../../modules/consent-function"
  count  = var.user_consent != null ? 1 : 0

  project_id               = var.project_id
  project_number           = var.project_number
  region                   = var.region
  function_name            = "${var.name_prefix}-consent"
  service_account_email    = module.user_consent[0].consent_service_account_email
  build_service_account_id = module.iam.build_service_account_id
  source_bucket            = google_storage_bucket.sources.name
  source_object            = google_storage_bucket_object.consent[0].name
  docker_repository        = google_artifact_registry_repository.functions.id
  domain                   = var.user_consent.domain
  iap_members              = var.user_consent.iap_members
  scopes                   = var.user_consent.scopes
  return_to_origins        = var.user_consent.return_to_origins
  # Public mode: the load balancer's URL. Internal mode: the function's own URL, reached through
  # a VPC connector (the user's own, else the shared cache tier's); docs/user-consent.md.
  token_function_url = coalesce(module.token_vendor.public_url, module.token_vendor.url)
  vpc_connector      = try(coalesce(var.user_consent.vpc_connector, var.enable_shared_cache ? module.shared_cache[0].vpc_connector_id : null), null)
  grants_environment = module.user_consent[0].environment
  labels             = local.labels

  depends_on = [
    google_project_service.apis,
    google_project_iam_member.build_log_writer,
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
  ]
}

module "rotation" {
  source = "../../modules/rotation"

  project_id                    = var.project_id
  region                        = var.region
  name_prefix                   = var.name_prefix
  service_account_email         = module.iam.rotator_service_account_email
  invoker_service_account_email = module.iam.rotation_invoker_service_account_email
  build_service_account_id      = module.iam.build_service_account_id
  source_bucket                 = google_storage_bucket.sources.name
  source_object                 = google_storage_bucket_object.rotate.name
  docker_repository             = google_artifact_registry_repository.functions.id
  rotation_topic_id             = module.secrets.rotation_topic_id
  rotation_bindings             = module.secrets.rotation_bindings
  labels                        = local.labels

  depends_on = [
    google_project_service.apis,
    google_project_iam_member.build_log_writer,
    google_artifact_registry_repository_iam_member.build_writer,
    google_storage_bucket_iam_member.build_source_reader,
  ]
}

module "perimeter" {
  source = "../../modules/perimeter"

  project_number      = var.project_number
  access_policy_id    = var.access_policy_id
  organization_id     = var.organization_id
  perimeter_name      = replace("${var.name_prefix}_perimeter", "-", "_")
  dry_run             = var.perimeter_dry_run
  caller_identities   = var.perimeter_caller_identities
  allowed_ip_ranges   = var.perimeter_allowed_ip_ranges
  deployer_identities = var.deployer_identities
  function_identities = concat([
    "serviceAccount:${module.iam.token_service_account_email}",
    "serviceAccount:${module.iam.rotator_service_account_email}",
  ], var.user_consent != null ? ["serviceAccount:${module.user_consent[0].consent_service_account_email}"] : [])
  build_identities        = ["serviceAccount:${module.iam.build_service_account_email}"]
  sink_writer_identities  = module.audit.sink_writer_identities
  audit_reader_identities = var.audit_reader_identities
}

module "audit" {
  source = "../../modules/audit"

  project_id         = var.project_id
  name_prefix        = var.name_prefix
  token_service_name = module.token_vendor.function_name
  function_service_names = concat([
    module.token_vendor.function_name,
    module.rotation.rotate_function_name,
    module.rotation.rotate_on_event_function_name,
  ], var.user_consent != null ? [module.consent_function[0].function_name] : [])
  location              = var.audit_location
  lock_retention        = var.audit_lock_retention
  notification_channels = var.notification_channels

  depends_on = [google_project_service.apis]
}
