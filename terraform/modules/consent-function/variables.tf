variable "project_id" {
  type        = string
  description = "Project the consent function runs in (the token vending service's project)."

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

variable "service_account_email" {
  type        = string
  description = "Runtime identity of the consent function (modules/user-consent's consent account: KMS encrypt only)."

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
  description = "Object name of the source archive (the consent bundle: dist/bundle/consent zipped)."
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

variable "labels" {
  type        = map(string)
  description = "Labels for the function."
  default     = {}
}

variable "project_number" {
  type        = string
  description = "Number of the project: names IAP's service agent (service-NUMBER@gcp-sa-iap.iam.gserviceaccount.com) and IAP's signed-header audience."

  validation {
    condition     = can(regex("^[0-9]{6,20}$", var.project_number))
    error_message = "project_number must be the project's number (digits)."
  }
}

variable "function_name" {
  type        = string
  description = "Name of the consent function and its Cloud Run service; prefixes its load balancer's resources."
  default     = "tvs-consent"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,40}[a-z0-9]$", var.function_name))
    error_message = "function_name must be 2-42 chars of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "domain" {
  type        = string
  description = "DNS name users open (consent.example.com): the managed certificate's domain and the OAuth client's redirect URI https://DOMAIN/v1/consent/callback. Point an A record at the ip_address output."

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,}$", var.domain))
    error_message = "domain must be a lower-case DNS name such as consent.example.com."
  }
}

variable "iap_members" {
  type        = list(string)
  description = "Who may open the consent pages (roles/iap.httpsResourceAccessor on the backend service): user:, group: or domain: principals. allUsers and allAuthenticatedUsers are refused."
  default     = []

  validation {
    condition     = alltrue([for m in var.iap_members : can(regex("^(user|group|domain):[^\\s]+$", m)) && !contains(["allUsers", "allAuthenticatedUsers"], m)])
    error_message = "iap_members must be user:EMAIL, group:EMAIL or domain:DOMAIN principals (never allUsers or allAuthenticatedUsers)."
  }
}

variable "scopes" {
  type        = list(string)
  description = "OAuth scopes users may be asked to grant (TVS_CONSENT_SCOPES); openid and email are always asked in addition."

  validation {
    condition     = length(var.scopes) > 0 && alltrue([for s in var.scopes : can(regex("^https://www\\.googleapis\\.com/auth/[a-z0-9._/-]+$", s))])
    error_message = "scopes must be a non-empty list of https://www.googleapis.com/auth/... scope URLs."
  }
}

variable "return_to_origins" {
  type        = list(string)
  description = "Origins (https://app.example.com) that return_to may send the user back to after consent, besides the consent domain itself. Exact origins: no paths, no wildcards."
  default     = []

  validation {
    condition     = alltrue([for o in var.return_to_origins : can(regex("^https://[a-z0-9.-]+(:[0-9]{1,5})?$", o))])
    error_message = "return_to_origins must be https origins without path, e.g. https://app.example.com."
  }
}

variable "token_function_url" {
  type        = string
  description = "Base URL of the token function (its audience): user-initiated revocations are sent to its POST /v1/users/{sub}:revokeGrant with the consent identity's ID token."

  validation {
    condition     = can(regex("^https://[^\\s/]+$", var.token_function_url))
    error_message = "token_function_url must be an https URL without a path."
  }
}

variable "grants_environment" {
  type        = map(string)
  description = "The grants' environment shared with the token function (modules/user-consent's environment output): OAuth client id and secret version, database, KMS key."
}

variable "max_instances" {
  type        = number
  description = "Upper bound of consent function instances (a consent is a few requests per user per month)."
  default     = 10

  validation {
    condition     = var.max_instances >= 1 && var.max_instances <= 100
    error_message = "max_instances must be between 1 and 100."
  }
}

variable "rate_limit_per_minute" {
  type        = number
  description = "Requests per minute one IP address may send before Cloud Armor answers 429."
  default     = 120

  validation {
    condition     = var.rate_limit_per_minute >= 10 && var.rate_limit_per_minute <= 10000
    error_message = "rate_limit_per_minute must be between 10 and 10000."
  }
}

variable "vpc_connector" {
  type        = string
  description = "Serverless VPC Access connector (projects/P/locations/L/connectors/C) the consent function sends all egress through, so its revocation calls reach a token function on internal ingress. null: no VPC egress (token_function_url must then be reachable from the internet, i.e. the token function's public URL)."
  default     = null
}
