variable "project_id" {
  type        = string
  description = "Project that hosts the token vending service, its secrets and its custom roles."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6-30 chars, lowercase letters, digits, hyphens)."
  }
}

variable "name_prefix" {
  type        = string
  description = "Prefix of the service account ids this module creates (e.g. tvs gives tvs-token, tvs-rotator)."
  default     = "tvs"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-16 chars of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "role_id_prefix" {
  type        = string
  description = "Prefix of the custom role ids this module creates (e.g. tvs gives tvsTokenSecretAccessor)."
  default     = "tvs"

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9_]{0,29}$", var.role_id_prefix))
    error_message = "role_id_prefix must be 1-30 chars of letters, digits and underscores, starting with a letter."
  }
}

variable "key_secret_ids" {
  type        = map(string)
  description = "SA-key secrets the token function reads, keyed by credential name; values are secret ids (projects/P/secrets/S)."
  default     = {}

  validation {
    condition     = alltrue([for id in values(var.key_secret_ids) : can(regex("^projects/[^/]+/secrets/[A-Za-z0-9_-]{1,255}$", id))])
    error_message = "key_secret_ids values must be secret ids of the form projects/P/secrets/S."
  }
}

variable "policy_secret_id" {
  type        = string
  description = "Secret (projects/P/secrets/S) holding the token policy, read by the token function; null when the policy ships as a file."
  default     = null

  validation {
    condition     = var.policy_secret_id == null || can(regex("^projects/[^/]+/secrets/[A-Za-z0-9_-]{1,255}$", var.policy_secret_id))
    error_message = "policy_secret_id must be null or a secret id of the form projects/P/secrets/S."
  }
}

variable "managed_secret_ids" {
  type        = map(string)
  description = "Every secret the rotator manages (SA keys and API keys), keyed by credential name; values are secret ids."
  default     = {}

  validation {
    condition     = alltrue([for id in values(var.managed_secret_ids) : can(regex("^projects/[^/]+/secrets/[A-Za-z0-9_-]{1,255}$", id))])
    error_message = "managed_secret_ids values must be secret ids of the form projects/P/secrets/S."
  }
}

variable "sa_key_target_emails" {
  type        = set(string)
  description = "Service accounts whose user-managed keys the rotator creates and retires. Must live in project_id (the custom role is a project role)."
  default     = []

  validation {
    condition = alltrue([
      for email in var.sa_key_target_emails :
      can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\\.iam\\.gserviceaccount\\.com$", email))
      && endswith(email, "@${var.project_id}.iam.gserviceaccount.com")
    ])
    error_message = "sa_key_target_emails must be user-managed service accounts (name@PROJECT.iam.gserviceaccount.com) of project_id; default compute and App Engine accounts are refused."
  }
}

variable "keyless_service_accounts" {
  type        = set(string)
  description = "Service accounts the token function mints for without a key (IAM Credentials generateAccessToken/generateIdToken). No key secret and no rotation for them. Must live in project_id."
  default     = []

  validation {
    condition = alltrue([
      for email in var.keyless_service_accounts :
      can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\\.iam\\.gserviceaccount\\.com$", email))
      && endswith(email, "@${var.project_id}.iam.gserviceaccount.com")
    ])
    error_message = "keyless_service_accounts must be user-managed service accounts (name@PROJECT.iam.gserviceaccount.com) of project_id."
  }

  validation {
    condition     = length(setintersection(var.keyless_service_accounts, var.sa_key_target_emails)) == 0
    error_message = "A service account is either keyless or key-based, never both: remove it from keyless_service_accounts or from the managed SA-key credentials."
  }
}

variable "enable_api_key_rotation" {
  type        = bool
  description = "Grant the rotator the API Keys custom role (project level: API Keys has no per-key IAM). Set when any managed credential is an API key."
  default     = false
}

variable "enable_shared_cache" {
  type        = bool
  description = "Grant the token identity use of the shared cache tier's KMS key and its AUTH secret (modules/shared-cache)."
  default     = false
}

variable "shared_cache_crypto_key_id" {
  type        = string
  description = "The shared cache's KMS key (projects/P/locations/L/keyRings/R/cryptoKeys/K); required with enable_shared_cache."
  default     = null

  validation {
    condition     = var.shared_cache_crypto_key_id == null || can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$", var.shared_cache_crypto_key_id))
    error_message = "shared_cache_crypto_key_id must be projects/P/locations/L/keyRings/R/cryptoKeys/K."
  }
}

variable "shared_cache_auth_secret_id" {
  type        = string
  description = "The secret holding the shared cache instance's AUTH string (projects/P/secrets/S); required with enable_shared_cache."
  default     = null

  validation {
    condition     = var.shared_cache_auth_secret_id == null || can(regex("^projects/[^/]+/secrets/[A-Za-z0-9_-]{1,255}$", var.shared_cache_auth_secret_id))
    error_message = "shared_cache_auth_secret_id must be a secret id of the form projects/P/secrets/S."
  }
}

variable "enable_user_consent" {
  type        = bool
  description = "Grant the token identity what the user-consent broker's vending side needs (modules/user-consent): decrypt with the grants key, read and update documents of the grants database, read the OAuth client's secret."
  default     = false
}

variable "user_consent_crypto_key_id" {
  type        = string
  description = "The user-grants KMS key (projects/P/locations/L/keyRings/R/cryptoKeys/K); required with enable_user_consent."
  default     = null

  validation {
    condition     = var.user_consent_crypto_key_id == null || can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$", var.user_consent_crypto_key_id))
    error_message = "user_consent_crypto_key_id must be projects/P/locations/L/keyRings/R/cryptoKeys/K."
  }
}

variable "user_consent_database_name" {
  type        = string
  description = "The user-grants Firestore database (projects/P/databases/D) the token identity's Firestore grant is conditioned on; required with enable_user_consent."
  default     = null

  validation {
    condition     = var.user_consent_database_name == null || can(regex("^projects/[^/]+/databases/[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.user_consent_database_name))
    error_message = "user_consent_database_name must be projects/P/databases/D with a named database id (not (default))."
  }
}

variable "user_consent_client_secret_id" {
  type        = string
  description = "The secret holding the OAuth client's secret (projects/P/secrets/S); required with enable_user_consent."
  default     = null

  validation {
    condition     = var.user_consent_client_secret_id == null || can(regex("^projects/[^/]+/secrets/[A-Za-z0-9_-]{1,255}$", var.user_consent_client_secret_id))
    error_message = "user_consent_client_secret_id must be a secret id of the form projects/P/secrets/S."
  }
}
