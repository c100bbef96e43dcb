variable "project_id" {
  type        = string
  description = "Project the token function runs in."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6-30 chars, lowercase letters, digits, hyphens)."
  }
}

variable "region" {
  type        = string
  description = "Region of the function (e.g. europe-west1)."

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1."
  }
}

variable "function_name" {
  type        = string
  description = "Name of the Cloud Functions (gen2) function and its Cloud Run service."
  default     = "tvs-token"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,48}[a-z0-9]$", var.function_name))
    error_message = "function_name must be 2-50 chars of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "service_account_email" {
  type        = string
  description = "Dedicated runtime service account of the function (the iam module's token account)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\\.iam\\.gserviceaccount\\.com$", var.service_account_email))
    error_message = "service_account_email must be a user-managed service account; the default compute account is refused."
  }
}

variable "build_service_account_id" {
  type        = string
  description = "Service account Cloud Build uses to build the function (projects/P/serviceAccounts/E)."

  validation {
    condition     = can(regex("^projects/[^/]+/serviceAccounts/[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\\.iam\\.gserviceaccount\\.com$", var.build_service_account_id))
    error_message = "build_service_account_id must be projects/P/serviceAccounts/EMAIL of a user-managed service account."
  }
}

variable "source_bucket" {
  type        = string
  description = "GCS bucket holding the function's source archive."
}

variable "source_object" {
  type        = string
  description = "Object name of the source archive (a zip whose package.json main is the built token entry)."
}

variable "docker_repository" {
  type        = string
  description = "Artifact Registry repository for the built image (projects/P/locations/L/repositories/R); null lets the platform choose."
  default     = null
}

variable "runtime" {
  type        = string
  description = "Node.js runtime of the function: nodejs24 (the default, what Cloud Build builds and tests on; supported until 2028-10-31) or nodejs22 (deprecated from 2027-04-30). nodejs20 is refused: it was decommissioned on 2026-10-30 and no function can be created or updated with it."
  default     = "nodejs24"

  validation {
    condition     = contains(["nodejs22", "nodejs24"], var.runtime)
    error_message = "runtime must be nodejs24 or nodejs22 (nodejs20 was decommissioned on 2026-10-30)."
  }
}

variable "exposure" {
  type        = string
  description = "Deployment mode. internal: internal ingress, Cloud Run's invoker check on, callers are the Google identities in invoker_members. public: an external Application Load Balancer with Cloud Armor in front of the function, ingress ALLOW_INTERNAL_AND_GCLB, the invoker check lifted for this service only (our authentication is the only gate); requires domain."
  default     = "internal"

  validation {
    condition     = contains(["internal", "public"], var.exposure)
    error_message = "exposure must be internal or public."
  }
}

variable "domain" {
  type        = string
  description = "Public mode: the DNS name callers use (https://DOMAIN); a Google-managed certificate is issued for it once its A record points at the load balancer's address. Ignored in internal mode."
  default     = null

  validation {
    condition     = var.exposure != "public" || var.domain != null
    error_message = "exposure = public requires a domain."
  }

  validation {
    condition     = var.domain == null || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$", var.domain))
    error_message = "domain must be a lowercase DNS name such as tokens.example.com (no scheme, port or path)."
  }
}

variable "allowed_source_ranges" {
  type        = list(string)
  description = "Public mode: Cloud Armor allowlist of source CIDR ranges (at most 10); empty admits every source (still rate-limited)."
  default     = []

  validation {
    condition     = length(var.allowed_source_ranges) <= 10 && alltrue([for r in var.allowed_source_ranges : can(cidrhost(r, 0)) && r != "*"])
    error_message = "allowed_source_ranges must hold at most 10 CIDR ranges."
  }
}

variable "rate_limit_count" {
  type        = number
  description = "Public mode: requests one client IP may make per rate_limit_interval_sec; above it Cloud Armor answers 429."
  default     = 120

  validation {
    condition     = var.rate_limit_count >= 1 && var.rate_limit_count <= 100000 && floor(var.rate_limit_count) == var.rate_limit_count
    error_message = "rate_limit_count must be a whole number from 1 to 100000."
  }
}

variable "rate_limit_interval_sec" {
  type        = number
  description = "Public mode: the rate-limit window in seconds (one of Cloud Armor's intervals)."
  default     = 60

  validation {
    condition     = contains([10, 30, 60, 120, 180, 240, 300, 600, 900, 1200, 1800, 2700, 3600], var.rate_limit_interval_sec)
    error_message = "rate_limit_interval_sec must be one of 10, 30, 60, 120, 180, 240, 300, 600, 900, 1200, 1800, 2700, 3600."
  }
}

variable "rate_limit_ban_seconds" {
  type        = number
  description = "Public mode: 0 throttles a client above the rate limit (429 for the excess only); above 0 bans it for that many seconds (rate_based_ban)."
  default     = 0

  validation {
    condition     = var.rate_limit_ban_seconds == 0 || (var.rate_limit_ban_seconds >= 60 && var.rate_limit_ban_seconds <= 86400)
    error_message = "rate_limit_ban_seconds must be 0 or from 60 to 86400."
  }
}

variable "max_request_bytes" {
  type        = number
  description = "Public mode: Cloud Armor refuses (413) a request whose Content-Length is above this. At most the function's own body limit (64 KiB), which still applies to requests without the header."
  default     = 65536

  validation {
    condition     = var.max_request_bytes >= 1024 && var.max_request_bytes <= 65536 && floor(var.max_request_bytes) == var.max_request_bytes
    error_message = "max_request_bytes must be a whole number from 1024 to 65536."
  }
}

variable "waf_rules" {
  type        = list(string)
  description = "Public mode: Cloud Armor preconfigured WAF rule sets to deny (e.g. sqli-v33-stable, xss-v33-stable), at sensitivity 1. Empty by default: callers send JWTs and JSON, which generic signatures can mistake for attacks; enable in preview first."
  default     = []

  validation {
    condition     = alltrue([for w in var.waf_rules : can(regex("^[a-z0-9]+(-[a-z0-9]+)*-v[0-9]+-(stable|canary)$", w))])
    error_message = "waf_rules must name preconfigured rule sets such as sqli-v33-stable."
  }
}

variable "ingress_settings" {
  type        = string
  description = "Internal mode: who may reach the function over the network, internal traffic only or internal plus a load balancer of your own. Public mode always uses ALLOW_INTERNAL_AND_GCLB."
  default     = "ALLOW_INTERNAL_ONLY"

  validation {
    condition     = contains(["ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.ingress_settings)
    error_message = "ingress_settings must be ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB; ALLOW_ALL is refused."
  }
}

variable "min_instances" {
  type        = number
  description = "Instances kept warm (avoids cold starts on the token path)."
  default     = 1

  validation {
    condition     = var.min_instances >= 0 && var.min_instances <= 100
    error_message = "min_instances must be between 0 and 100."
  }
}

variable "max_instances" {
  type        = number
  description = "Upper bound on instances (bounds cost and upstream load)."
  default     = 20

  validation {
    condition     = var.max_instances >= 1 && var.max_instances <= 1000
    error_message = "max_instances must be between 1 and 1000."
  }
}

variable "max_instance_request_concurrency" {
  type        = number
  description = "Concurrent requests per instance (the token cache is per instance, so higher is cheaper)."
  default     = 80

  validation {
    condition     = var.max_instance_request_concurrency >= 1 && var.max_instance_request_concurrency <= 1000
    error_message = "max_instance_request_concurrency must be between 1 and 1000."
  }
}

variable "available_memory" {
  type        = string
  description = "Memory per instance (e.g. 512M)."
  default     = "512M"

  validation {
    condition     = can(regex("^[0-9]+(M|Mi|G|Gi)$", var.available_memory))
    error_message = "available_memory must look like 512M or 1Gi."
  }

  # The V8 heap cap of runtime-environment.json (--max-old-space-size, MiB) plus 192 MiB for the
  # rest of the process (code, young generation, native allocations: ~80 MB measured under load)
  # must fit, or the instance is killed for memory before V8 collects (docs/performance.md, "5 Memory").
  # An unparseable value passes here: the check above reports it.
  validation {
    condition = try(
      tonumber(regex("^[0-9]+", var.available_memory)) *
      lookup({ M = 1000000, Mi = 1048576, G = 1000000000, Gi = 1073741824 }, regex("[A-Za-z]+$", var.available_memory))
      >= (tonumber(regex("--max-old-space-size=([0-9]+)", jsondecode(file("${path.module}/runtime-environment.json")).NODE_OPTIONS)[0]) + 192) * 1048576,
      true
    )
    error_message = "available_memory must hold the V8 heap cap set in runtime-environment.json plus 192 MiB (384Mi with --max-old-space-size=192)."
  }
}

variable "available_cpu" {
  type        = string
  description = "vCPUs per instance (1 allows request concurrency above 1)."
  default     = "1"
}

variable "timeout_seconds" {
  type        = number
  description = "Request timeout; above the token function's upstream deadline."
  default     = 60

  validation {
    condition     = var.timeout_seconds >= 10 && var.timeout_seconds <= 3600
    error_message = "timeout_seconds must be between 10 and 3600."
  }
}

variable "audience" {
  type        = string
  description = "Audience callers put in their ID tokens (TVS_AUDIENCE, comma-separated). null uses the function URL https://REGION-PROJECT.cloudfunctions.net/NAME; public mode adds https://DOMAIN."
  default     = null
}

variable "policy_secret_version" {
  type        = string
  description = "Secret version holding the policy (TVS_POLICY_SECRET), e.g. projects/P/secrets/tvs-policy/versions/latest. Exactly one of this and policy_file."
  default     = null

  validation {
    condition     = var.policy_secret_version == null || can(regex("^projects/[^/]+/secrets/[^/]+/versions/[^/]+$", var.policy_secret_version))
    error_message = "policy_secret_version must be projects/P/secrets/S/versions/V."
  }
}

variable "policy_file" {
  type        = string
  description = "Path of a policy file shipped in the source archive (TVS_POLICY_FILE). Exactly one of this and policy_secret_version."
  default     = null

  validation {
    condition     = (var.policy_file == null) != (var.policy_secret_version == null)
    error_message = "Set exactly one of policy_file and policy_secret_version."
  }
}

variable "policy_max_staleness_seconds" {
  type        = number
  description = "How long the last good policy keeps serving while re-reads fail (TVS_POLICY_MAX_STALENESS_SECONDS); after that the function fails closed (503 POLICY_STALE) until a re-read succeeds, so a revoked grant cannot outlive a broken policy secret."
  default     = 3600

  validation {
    condition     = var.policy_max_staleness_seconds >= 300 && var.policy_max_staleness_seconds <= 604800 && floor(var.policy_max_staleness_seconds) == var.policy_max_staleness_seconds
    error_message = "policy_max_staleness_seconds must be a whole number from 300 to 604800."
  }
}

variable "policy_ttl_seconds" {
  type        = number
  description = "TVS_POLICY_TTL_SECONDS: no instance judges a request by a policy read longer ago than this while Secret Manager answers; the bound for a policy change (a break-glass deny) on instances the change notice did not reach."
  default     = 60

  validation {
    condition     = var.policy_ttl_seconds >= 5 && var.policy_ttl_seconds <= 300 && floor(var.policy_ttl_seconds) == var.policy_ttl_seconds
    error_message = "policy_ttl_seconds must be a whole number from 5 to 300 (at most the minimum policy_max_staleness_seconds)."
  }
}

variable "policy_topic_id" {
  type        = string
  description = "Pub/Sub topic of the policy secret's notices (the secrets module's policy_topic_id). With policy_notifier_service_account_email, a push subscription makes a policy change apply at once on the instance it reaches."
  default     = null

  validation {
    condition     = var.policy_topic_id == null || can(regex("^projects/[^/]+/topics/[A-Za-z][A-Za-z0-9-_.~+%]{2,254}$", var.policy_topic_id))
    error_message = "policy_topic_id must be projects/P/topics/T."
  }
}

variable "policy_notifier_service_account_email" {
  type        = string
  description = "Service account the policy notices are pushed as (TVS_POLICY_NOTIFIER; the iam module's policy_notifier_service_account_email). The only caller accepted at POST /v1/policy:notify."
  default     = null

  validation {
    condition     = var.policy_notifier_service_account_email == null || can(regex("^[a-z0-9-]+@[a-z0-9.-]+\\.gserviceaccount\\.com$", var.policy_notifier_service_account_email))
    error_message = "policy_notifier_service_account_email must be a service account email."
  }
}

variable "oidc_issuers" {
  type = list(object({
    issuer     = string
    jwksUri    = optional(string)
    audiences  = optional(list(string))
    algorithms = optional(list(string))
  }))
  description = "External OIDC issuers whose tokens callers may present (TVS_OIDC_ISSUERS). Google's issuer is always trusted."
  default     = []

  validation {
    condition     = alltrue([for i in var.oidc_issuers : startswith(i.issuer, "https://") && (i.jwksUri == null || startswith(coalesce(i.jwksUri, "https://"), "https://"))])
    error_message = "oidc_issuers issuer and jwksUri must be https URLs."
  }
}

variable "token_uri_allowlist" {
  type        = list(string)
  description = "Token endpoints a key file's token_uri may name (TVS_TOKEN_URI_ALLOWLIST)."
  default     = ["https://oauth2.googleapis.com/token"]

  validation {
    condition     = length(var.token_uri_allowlist) > 0 && alltrue([for u in var.token_uri_allowlist : startswith(u, "https://") && !strcontains(u, ",")])
    error_message = "token_uri_allowlist must hold at least one https URL, without commas."
  }
}

variable "audit_log_name" {
  type        = string
  description = "logName field of the structured audit entries (TVS_AUDIT_LOG_NAME). On Cloud Run it lands inside jsonPayload (a stdout line keeps the platform's log name), so no filter uses it."
  default     = "token-vending-audit"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,100}$", var.audit_log_name))
    error_message = "audit_log_name must be 1-100 chars of letters, digits, '_', '.' and '-'."
  }
}

variable "extra_environment_variables" {
  type        = map(string)
  description = "Further TVS_* tuning variables (cache size, deadlines...). Never secrets: the function reads secrets from Secret Manager itself."
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_environment_variables) : can(regex("^TVS_[A-Z0-9_]+$", k))])
    error_message = "extra_environment_variables keys must be TVS_* names."
  }
}

variable "invoker_members" {
  type        = list(string)
  description = "Principals allowed to invoke the function (roles/run.invoker), e.g. serviceAccount:ci@P.iam.gserviceaccount.com. Never allUsers (public mode grants allUsers itself, on this service only)."
  default     = []

  validation {
    condition = alltrue([
      for m in var.invoker_members :
      can(regex("^(serviceAccount|user|group|domain):.+|^principal(Set)?://.+", m)) && !contains(["allUsers", "allAuthenticatedUsers"], m)
    ])
    error_message = "invoker_members must be explicit principals (serviceAccount:, user:, group:, domain:, principal://, principalSet://); allUsers and allAuthenticatedUsers are refused."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels for the function."
  default     = {}
}

variable "shared_cache_environment" {
  type        = map(string)
  description = "TVS_SHARED_CACHE_* variables of the shared cache tier (modules/shared-cache output `environment`); empty = every instance mints for itself."
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.shared_cache_environment) : startswith(k, "TVS_SHARED_CACHE_")])
    error_message = "shared_cache_environment may only set TVS_SHARED_CACHE_* variables."
  }
}

variable "user_consent_environment" {
  type        = map(string)
  description = "User-token vending (issue 19): modules/user-consent's `environment` output (OAuth client, its secret, grants database and key); empty = the /v1/users/* routes are off."
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.user_consent_environment) : startswith(k, "TVS_USER_")])
    error_message = "user_consent_environment may only set TVS_USER_* variables."
  }
}

variable "vpc_connector" {
  type        = string
  description = "Serverless VPC Access connector (projects/P/locations/L/connectors/C) to reach the shared cache's private IP; null = no VPC egress."
  default     = null

  validation {
    condition     = var.vpc_connector == null || can(regex("^projects/[^/]+/locations/[^/]+/connectors/[^/]+$", var.vpc_connector))
    error_message = "vpc_connector must be projects/P/locations/L/connectors/C."
  }
}
