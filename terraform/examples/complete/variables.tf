variable "project_id" {
  type        = string
  description = "Project hosting the token vending service."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id."
  }
}

variable "project_number" {
  type        = string
  description = "Number of that project (for the perimeter)."

  validation {
    condition     = can(regex("^[0-9]{6,20}$", var.project_number))
    error_message = "project_number must be numeric."
  }
}

variable "region" {
  type        = string
  description = "Region of the functions and the scheduler job."
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1."
  }
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name."
  default     = "tvs"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-16 chars of lowercase letters, digits and hyphens."
  }
}

variable "token_source_dir" {
  type        = string
  description = "The token function bundle directory that `npm run bundle` builds (dist/bundle/token): index.mjs and chunks/ with source maps, a package.json whose main is index.mjs and whose only dependency is functions-framework, and its package-lock.json. Never the repository source."

  # What is deployed is the bundle: a directory of repository sources or tsc output fails here.
  validation {
    condition = (
      fileexists("${var.token_source_dir}/index.mjs") &&
      fileexists("${var.token_source_dir}/package-lock.json") &&
      try(jsondecode(file("${var.token_source_dir}/package.json")).main == "index.mjs", false) &&
      try(jsonencode(keys(jsondecode(file("${var.token_source_dir}/package.json")).dependencies)) == jsonencode(["@google-cloud/functions-framework"]), false)
    )
    error_message = "token_source_dir must be the bundle directory built by `npm run bundle` (dist/bundle/token): index.mjs, package-lock.json, and a package.json with main index.mjs whose only dependency is @google-cloud/functions-framework."
  }
}

variable "consent_source_dir" {
  type        = string
  description = "The consent function bundle directory that `npm run bundle` builds (dist/bundle/consent); required when user_consent is set, unused otherwise."
  default     = null

  validation {
    condition = var.consent_source_dir == null ? var.user_consent == null : (
      fileexists("${var.consent_source_dir}/index.mjs") &&
      fileexists("${var.consent_source_dir}/package-lock.json") &&
      try(jsondecode(file("${var.consent_source_dir}/package.json")).main == "index.mjs", false)
    )
    error_message = "consent_source_dir must be the bundle directory built by `npm run bundle` (dist/bundle/consent), and is required when user_consent is set."
  }
}

variable "rotate_source_dir" {
  type        = string
  description = "The rotation functions' (rotate and rotateOnEvent) bundle directory that `npm run bundle` builds (dist/bundle/rotate): index.mjs and chunks/ with source maps, a package.json whose main is index.mjs and whose only dependency is functions-framework, and its package-lock.json. Never the repository source."

  # What is deployed is the bundle: a directory of repository sources or tsc output fails here.
  validation {
    condition = (
      fileexists("${var.rotate_source_dir}/index.mjs") &&
      fileexists("${var.rotate_source_dir}/package-lock.json") &&
      try(jsondecode(file("${var.rotate_source_dir}/package.json")).main == "index.mjs", false) &&
      try(jsonencode(keys(jsondecode(file("${var.rotate_source_dir}/package.json")).dependencies)) == jsonencode(["@google-cloud/functions-framework"]), false)
    )
    error_message = "rotate_source_dir must be the bundle directory built by `npm run bundle` (dist/bundle/rotate): index.mjs, package-lock.json, and a package.json with main index.mjs whose only dependency is @google-cloud/functions-framework."
  }
}

variable "managed_credentials" {
  type = map(object({
    kind            = string
    target          = string
    rotation_period = optional(string, "2592000s")
    grace           = optional(string, "7200s")
  }))
  description = "SA keys and API keys the service keeps in Secret Manager and rotates (see modules/secrets)."
  default     = {}

  validation {
    condition     = alltrue([for c in values(var.managed_credentials) : contains(["sa-key", "api-key"], c.kind)])
    error_message = "managed_credentials kind must be sa-key or api-key."
  }
}

variable "keyless_service_accounts" {
  type        = set(string)
  description = "Service accounts minted for without a key: the token identity gets getAccessToken/getOpenIdToken on each, nothing at project level."
  default     = []
}

variable "token_invoker_members" {
  type        = list(string)
  description = "Principals allowed to call the token function (roles/run.invoker on it only). Never allUsers."
  default     = []

  validation {
    condition     = !contains(var.token_invoker_members, "allUsers") && !contains(var.token_invoker_members, "allAuthenticatedUsers")
    error_message = "token_invoker_members must name explicit principals; allUsers and allAuthenticatedUsers are refused."
  }
}

variable "token_exposure" {
  type        = string
  description = "internal (default): Google identities inside the network call the token function. public: an external load balancer with Cloud Armor in front of it for callers outside Google Cloud; requires token_domain. See docs/deploy.md, Choosing a mode."
  default     = "internal"

  validation {
    condition     = contains(["internal", "public"], var.token_exposure)
    error_message = "token_exposure must be internal or public."
  }
}

variable "token_domain" {
  type        = string
  description = "Public mode: DNS name of the token service (https://DOMAIN); ignored in internal mode."
  default     = null

  validation {
    condition     = var.token_exposure != "public" || var.token_domain != null
    error_message = "token_exposure = public requires token_domain."
  }
}

variable "token_allowed_source_ranges" {
  type        = list(string)
  description = "Public mode: optional Cloud Armor allowlist of source CIDR ranges (at most 10); empty admits every source, rate-limited."
  default     = []
}

variable "token_ingress_settings" {
  type        = string
  description = "Internal mode: ALLOW_INTERNAL_ONLY, or ALLOW_INTERNAL_AND_GCLB when fronted by a load balancer of your own. Public mode always uses ALLOW_INTERNAL_AND_GCLB."
  default     = "ALLOW_INTERNAL_ONLY"

  validation {
    condition     = contains(["ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.token_ingress_settings)
    error_message = "token_ingress_settings must be ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "token_audience" {
  type        = string
  description = "Audience of callers' ID tokens (comma-separated); null uses the function URL. Public mode adds https://token_domain."
  default     = null
}

variable "oidc_issuers" {
  type = list(object({
    issuer     = string
    jwksUri    = optional(string)
    audiences  = optional(list(string))
    algorithms = optional(list(string))
  }))
  description = "External OIDC issuers trusted by the token function."
  default     = []
}

variable "token_uri_allowlist" {
  type        = list(string)
  description = "Token endpoints a key file's token_uri may name."
  default     = ["https://oauth2.googleapis.com/token"]
}

variable "kms_key_name" {
  type        = string
  description = "Optional global Cloud KMS key for the secrets (CMEK)."
  default     = null
}

variable "access_policy_id" {
  type        = string
  description = "Existing Access Context Manager policy id; null creates a project-scoped policy under organization_id."
  default     = null
}

variable "organization_id" {
  type        = string
  description = "Organization id (needed when access_policy_id is null)."
  default     = null
}

variable "perimeter_dry_run" {
  type        = bool
  description = "Keep the perimeter in dry-run mode. Apply with true first; set false once the dry-run logs are clean."
  default     = true
}

variable "perimeter_caller_identities" {
  type        = list(string)
  description = "Identities outside the perimeter allowed to reach the token function."
  default     = []

  validation {
    condition     = alltrue([for i in var.perimeter_caller_identities : can(regex("^(serviceAccount|user|group):.+|^principal(Set)?://.+", i))])
    error_message = "perimeter_caller_identities must be serviceAccount:, user:, group:, principal:// or principalSet:// identities."
  }
}

variable "perimeter_allowed_ip_ranges" {
  type        = list(string)
  description = "CIDR ranges those callers come from; empty allows any source for them."
  default     = []
}

variable "deployer_identities" {
  type        = list(string)
  description = "Identities administering the project from outside the perimeter (Terraform, Cloud Build)."
  default     = []
}

variable "audit_reader_identities" {
  type        = list(string)
  description = "Identities outside the perimeter that query the audit dataset in BigQuery."
  default     = []
}

variable "audit_location" {
  type        = string
  description = "Location of the audit bucket and dataset."
  default     = "EU"
}

variable "audit_lock_retention" {
  type        = bool
  description = "Lock the audit bucket's retention policy (irreversible)."
  default     = true
}

variable "notification_channels" {
  type        = list(string)
  description = "Notification channels paged on denial spikes."
  default     = []
}

variable "enable_shared_cache" {
  type        = bool
  description = "Deploy the shared, encrypted token cache tier (Memorystore for Redis + Cloud KMS + a VPC connector; docs/shared-cache.md). Off by default: every instance mints for itself."
  default     = false
}

variable "shared_cache_network" {
  type        = string
  description = "VPC network (projects/P/global/networks/N) for the shared cache instance and the connector; used with enable_shared_cache."
  default     = null

  validation {
    condition     = var.shared_cache_network == null || can(regex("^projects/[^/]+/global/networks/[^/]+$", var.shared_cache_network))
    error_message = "shared_cache_network must be projects/P/global/networks/N."
  }

  validation {
    condition     = !var.enable_shared_cache || var.shared_cache_network != null
    error_message = "enable_shared_cache requires shared_cache_network."
  }
}

variable "shared_cache_connector_cidr" {
  type        = string
  description = "An unused /28 of shared_cache_network for the Serverless VPC Access connector."
  default     = "10.8.0.0/28"
}

variable "shared_cache_tier" {
  type        = string
  description = "Memorystore tier of the shared cache: STANDARD_HA (default) or BASIC."
  default     = "STANDARD_HA"

  validation {
    condition     = contains(["BASIC", "STANDARD_HA"], var.shared_cache_tier)
    error_message = "shared_cache_tier must be BASIC or STANDARD_HA."
  }
}

variable "user_consent" {
  type = object({
    location            = optional(string)
    kms_location        = optional(string)
    key_rotation_period = optional(string, "7776000s")
    # The consent side (modules/consent-function), behind IAP on an external load balancer.
    oauth_client_id   = string
    domain            = string
    scopes            = list(string)
    iap_members       = optional(list(string), [])
    return_to_origins = optional(list(string), [])
    vpc_connector     = optional(string)
  })
  description = "Deploy the custody side of the user-consent broker (modules/user-consent; docs/user-consent.md): a Firestore database for users' sealed refresh tokens, its Cloud KMS key, the OAuth client's secret (added by the admin) and the consent identity; grants the token identity decrypt, grant reads and revocation writes; deploys the consent function behind IAP at https://DOMAIN (modules/consent-function) and turns on user-token vending in the token function. oauth_client_id is the registered Web client's id, scopes what users may be asked to grant, iap_members who may open the consent pages. null (default): none of it. location and kms_location default to region."
  default     = null
}
