# Identities of the token vending service and every grant its runtime identities hold.
# The grants to the two runtime identities (token, rotator) live in this file only, as custom
# roles listing exactly the permissions of shared/permission-manifest.ts, bound at the
# narrowest resource that IAM supports. test/terraform checks both directions.

# ---------------------------------------------------------------------------------------------
# Service accounts: one per role, never the default compute or App Engine account.
# ---------------------------------------------------------------------------------------------

resource "google_service_account" "token" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-token"
  display_name = "Token vending: token function runtime"
  description  = "Runtime identity of the token function. Reads key secrets and the policy secret; mints for keyless SAs."
}

resource "google_service_account" "rotator" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-rotator"
  display_name = "Token vending: rotation function runtime"
  description  = "Runtime identity of the rotation functions. Rotates SA keys and API keys held in managed secrets."
}

resource "google_service_account" "rotation_invoker" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-rotation-trigger"
  display_name = "Token vending: rotation trigger"
  description  = "Identity Cloud Scheduler (OIDC) and the Pub/Sub event trigger use to invoke the rotation functions."
}

resource "google_service_account" "policy_notifier" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-policy-notifier"
  display_name = "Token vending: policy change notifier"
  description  = "Identity of the Pub/Sub push that tells the token function its policy secret changed (OIDC only; no grants but run.invoker on the token function)."
}

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-build"
  display_name = "Token vending: function build"
  description  = "Cloud Build identity that builds the functions' containers, instead of the default compute account."
}

# ---------------------------------------------------------------------------------------------
# Custom roles: exactly the permissions the code's Google calls need.
# ---------------------------------------------------------------------------------------------

resource "google_project_iam_custom_role" "token_secret_accessor" {
  project     = var.project_id
  role_id     = "${var.role_id_prefix}TokenSecretAccessor"
  title       = "Token vending: read key and policy secrets"
  description = "AccessSecretVersion on the SA-key secrets and the policy secret."
  permissions = ["secretmanager.versions.access"]
}

resource "google_project_iam_custom_role" "token_keyless_minter" {
  project     = var.project_id
  role_id     = "${var.role_id_prefix}TokenKeylessMinter"
  title       = "Token vending: mint for keyless service accounts"
  description = "generateAccessToken and generateIdToken, granted on each keyless target SA only."
  permissions = [
    "iam.serviceAccounts.getAccessToken",
    "iam.serviceAccounts.getOpenIdToken",
  ]
}

resource "google_project_iam_custom_role" "token_cache_key_user" {
  count = var.enable_shared_cache ? 1 : 0

  project     = var.project_id
  role_id     = "${var.role_id_prefix}TokenCacheKeyUser"
  title       = "Token vending: wrap and unwrap the shared cache's data keys"
  description = "Encrypt and decrypt with the shared cache's KMS key, granted on that key only (roles/cloudkms.cryptoKeyEncrypterDecrypter minus its location and project reads)."
  permissions = [
    "cloudkms.cryptoKeyVersions.useToDecrypt",
    "cloudkms.cryptoKeyVersions.useToEncrypt",
  ]
}

resource "google_project_iam_custom_role" "token_grant_key_decrypter" {
  count = var.enable_user_consent ? 1 : 0

  project     = var.project_id
  role_id     = "${var.role_id_prefix}TokenGrantKeyDecrypter"
  title       = "Token vending: unwrap user-grant data keys"
  description = "Decrypt with the user-grants KMS key, granted on that key only. No encrypt: the token function never seals a refresh token."
  permissions = ["cloudkms.cryptoKeyVersions.useToDecrypt"]
}

resource "google_project_iam_custom_role" "token_grant_reader" {
  count = var.enable_user_consent ? 1 : 0

  project     = var.project_id
  role_id     = "${var.role_id_prefix}TokenGrantReader"
  title       = "Token vending: read user grants, record their revocation"
  description = "Get and update documents, bound on the user-grants database only (IAM condition): update records a revocation on invalid_grant. No create, list, delete or export."
  permissions = [
    "datastore.entities.get",
    "datastore.entities.update",
  ]
}

resource "google_project_iam_custom_role" "rotator_secret_lister" {
  project     = var.project_id
  role_id     = "${var.role_id_prefix}RotatorSecretLister"
  title       = "Token vending: find managed secrets"
  description = "ListSecrets, to find managed secrets by label. Secret metadata only, never payloads."
  permissions = ["secretmanager.secrets.list"]
}

resource "google_project_iam_custom_role" "rotator_secret_rotator" {
  project     = var.project_id
  role_id     = "${var.role_id_prefix}RotatorSecretRotator"
  title       = "Token vending: rotate a managed secret"
  description = "Read and advance the rotation state of one managed secret and its versions."
  permissions = [
    "secretmanager.secrets.get",
    "secretmanager.secrets.update",
    "secretmanager.versions.access",
    "secretmanager.versions.add",
    "secretmanager.versions.destroy",
    "secretmanager.versions.disable",
    "secretmanager.versions.list",
  ]
}

resource "google_project_iam_custom_role" "rotator_sa_key_rotator" {
  project     = var.project_id
  role_id     = "${var.role_id_prefix}RotatorSaKeyRotator"
  title       = "Token vending: rotate user-managed SA keys"
  description = "Create, list, disable and delete keys, granted on each target SA only."
  permissions = [
    "iam.serviceAccountKeys.create",
    "iam.serviceAccountKeys.delete",
    "iam.serviceAccountKeys.disable",
    "iam.serviceAccountKeys.list",
  ]
}

resource "google_project_iam_custom_role" "rotator_api_key_rotator" {
  count = var.enable_api_key_rotation ? 1 : 0

  project     = var.project_id
  role_id     = "${var.role_id_prefix}RotatorApiKeyRotator"
  title       = "Token vending: rotate API keys"
  description = "API Keys v2 calls of the rotator and polling their long-running operations. Project level: API Keys has no per-key IAM."
  permissions = [
    "apikeys.keys.create",
    "apikeys.keys.delete",
    "apikeys.keys.get",
    "apikeys.keys.getKeyString",
    "serviceusage.operations.get",
  ]
}

# ---------------------------------------------------------------------------------------------
# Token function grants.
# ---------------------------------------------------------------------------------------------

resource "google_secret_manager_secret_iam_member" "token_key_secrets" {
  for_each = var.key_secret_ids

  project   = var.project_id
  secret_id = each.value
  role      = google_project_iam_custom_role.token_secret_accessor.name
  member    = google_service_account.token.member
}

resource "google_secret_manager_secret_iam_member" "token_policy_secret" {
  count = var.policy_secret_id == null ? 0 : 1

  project   = var.project_id
  secret_id = var.policy_secret_id
  role      = google_project_iam_custom_role.token_secret_accessor.name
  member    = google_service_account.token.member
}

resource "google_service_account_iam_member" "token_keyless" {
  for_each = var.keyless_service_accounts

  service_account_id = "projects/${var.project_id}/serviceAccounts/${each.value}"
  role               = google_project_iam_custom_role.token_keyless_minter.name
  member             = google_service_account.token.member
}

# The shared cache tier: use of its one KMS key, and read access to its AUTH string.
resource "google_kms_crypto_key_iam_member" "token_cache_key" {
  count = var.enable_shared_cache ? 1 : 0

  crypto_key_id = var.shared_cache_crypto_key_id
  role          = google_project_iam_custom_role.token_cache_key_user[0].name
  member        = google_service_account.token.member
}

resource "google_secret_manager_secret_iam_member" "token_cache_auth_secret" {
  count = var.enable_shared_cache ? 1 : 0

  project   = var.project_id
  secret_id = var.shared_cache_auth_secret_id
  role      = google_project_iam_custom_role.token_secret_accessor.name
  member    = google_service_account.token.member
}

# The user-consent broker (modules/user-consent): unwrap the grants' data keys, read grants and
# record revocations in the grants database, and read the OAuth client's secret to refresh.
resource "google_kms_crypto_key_iam_member" "token_grant_key" {
  count = var.enable_user_consent ? 1 : 0

  crypto_key_id = var.user_consent_crypto_key_id
  role          = google_project_iam_custom_role.token_grant_key_decrypter[0].name
  member        = google_service_account.token.member
}

# Firestore has no per-database or per-collection IAM resource: the grant is on the project,
# conditioned on the grants database's name. Nothing narrower than the database is possible.
resource "google_project_iam_member" "token_grants" {
  count = var.enable_user_consent ? 1 : 0

  project = var.project_id
  role    = google_project_iam_custom_role.token_grant_reader[0].name
  member  = google_service_account.token.member

  condition {
    title       = "user-grants database only"
    description = "Documents of the user-grants Firestore database, nothing else in the project."
    expression  = "resource.name == \"${var.user_consent_database_name}\""
  }
}

resource "google_secret_manager_secret_iam_member" "token_oauth_client_secret" {
  count = var.enable_user_consent ? 1 : 0

  project   = var.project_id
  secret_id = var.user_consent_client_secret_id
  role      = google_project_iam_custom_role.token_secret_accessor.name
  member    = google_service_account.token.member
}

# ---------------------------------------------------------------------------------------------
# Rotator grants.
# ---------------------------------------------------------------------------------------------

resource "google_project_iam_member" "rotator_secret_lister" {
  project = var.project_id
  role    = google_project_iam_custom_role.rotator_secret_lister.name
  member  = google_service_account.rotator.member
}

resource "google_secret_manager_secret_iam_member" "rotator_managed_secrets" {
  for_each = var.managed_secret_ids

  project   = var.project_id
  secret_id = each.value
  role      = google_project_iam_custom_role.rotator_secret_rotator.name
  member    = google_service_account.rotator.member
}

resource "google_service_account_iam_member" "rotator_sa_keys" {
  for_each = var.sa_key_target_emails

  service_account_id = "projects/${var.project_id}/serviceAccounts/${each.value}"
  role               = google_project_iam_custom_role.rotator_sa_key_rotator.name
  member             = google_service_account.rotator.member
}

resource "google_project_iam_member" "rotator_api_keys" {
  count = var.enable_api_key_rotation ? 1 : 0

  project = var.project_id
  role    = google_project_iam_custom_role.rotator_api_key_rotator[0].name
  member  = google_service_account.rotator.member
}
