variable "project_id" {
  type        = string
  description = "Project that holds the secrets and the rotation topic."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6-30 chars, lowercase letters, digits, hyphens)."
  }
}

variable "secret_id_prefix" {
  type        = string
  description = "Prefix of every secret id and of the rotation topic name."
  default     = "tvs-"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,39}$", var.secret_id_prefix))
    error_message = "secret_id_prefix must be 1-40 chars of letters, digits, '_' and '-', starting with a letter."
  }
}

variable "managed_credentials" {
  description = <<-EOT
    Credentials the rotator keeps in Secret Manager, keyed by a short name (the secret id is
    secret_id_prefix + name). kind is sa-key or api-key; target is the SA email (sa-key) or the
    API key resource name projects/P/locations/global/keys/K (api-key); rotation_period and
    grace are durations in seconds ("2592000s"). grace is how long a retired credential stays
    usable and must exceed the longest token lifetime (3600s).
  EOT
  type = map(object({
    kind            = string
    target          = string
    rotation_period = optional(string, "2592000s")
    grace           = optional(string, "7200s")
  }))
  default = {}

  validation {
    condition     = alltrue([for name in keys(var.managed_credentials) : can(regex("^[a-z][a-z0-9-]{0,62}$", name))])
    error_message = "managed_credentials keys must be 1-63 chars of lowercase letters, digits and hyphens, starting with a letter."
  }

  validation {
    condition     = alltrue([for c in values(var.managed_credentials) : contains(["sa-key", "api-key"], c.kind)])
    error_message = "managed_credentials kind must be sa-key or api-key."
  }

  validation {
    condition = alltrue([
      for c in values(var.managed_credentials) :
      c.kind != "sa-key" || can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\\.iam\\.gserviceaccount\\.com$", c.target))
    ])
    error_message = "An sa-key target must be a user-managed service account email (name@PROJECT.iam.gserviceaccount.com)."
  }

  validation {
    condition = alltrue([
      for c in values(var.managed_credentials) :
      c.kind != "api-key" || can(regex("^projects/[^/]+/locations/global/keys/[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", c.target))
    ])
    error_message = "An api-key target must be an API key resource name projects/P/locations/global/keys/K."
  }

  validation {
    condition = alltrue([
      for c in values(var.managed_credentials) :
      can(regex("^[0-9]+s$", c.rotation_period)) && try(tonumber(trimsuffix(c.rotation_period, "s")), 0) >= 3600
    ])
    error_message = "rotation_period must be a duration in seconds (e.g. 2592000s) of at least 3600s (Secret Manager's minimum)."
  }

  validation {
    condition = alltrue([
      for c in values(var.managed_credentials) :
      can(regex("^[0-9]+s$", c.grace)) && try(tonumber(trimsuffix(c.grace, "s")), 0) > 3600
    ])
    error_message = "grace must be a duration in seconds (e.g. 7200s) longer than the maximum token lifetime, 3600s: a token minted from the old key must expire before the key is retired."
  }

  validation {
    condition = alltrue([
      for c in values(var.managed_credentials) :
      try(tonumber(trimsuffix(c.grace, "s")) < tonumber(trimsuffix(c.rotation_period, "s")), false)
    ])
    error_message = "grace must be shorter than rotation_period, or retired credentials pile up (IAM allows 10 keys per SA)."
  }
}

variable "create_policy_secret" {
  type        = bool
  description = "Create the (empty) secret that holds the token policy. Its versions are added outside Terraform, so the policy never lands in state."
  default     = true
}

variable "version_destroy_ttl" {
  type        = string
  description = "Delay between destroying a secret version and its irreversible removal, in seconds (e.g. 86400s)."
  default     = "86400s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.version_destroy_ttl)) && try(tonumber(trimsuffix(var.version_destroy_ttl, "s")), 0) >= 86400
    error_message = "version_destroy_ttl must be a duration in seconds of at least 86400s (one day)."
  }
}

variable "first_rotation_delay" {
  type        = string
  description = "How long after creation a secret's first scheduled rotation notice fires (Terraform duration, e.g. 1h). Secret Manager needs at least 5 minutes."
  default     = "1h"

  validation {
    condition     = can(regex("^[0-9]+(h|m)$", var.first_rotation_delay)) && try(tonumber(trimsuffix(trimsuffix(var.first_rotation_delay, "h"), "m")) * (endswith(var.first_rotation_delay, "h") ? 60 : 1) >= 5, false)
    error_message = "first_rotation_delay must be a duration in hours or minutes (e.g. 1h, 30m) of at least 5m."
  }
}

variable "kms_key_name" {
  type        = string
  description = "Optional Cloud KMS key (projects/P/locations/global/keyRings/R/cryptoKeys/K) encrypting the secrets (CMEK). null keeps Google-managed encryption."
  default     = null

  validation {
    condition     = var.kms_key_name == null || can(regex("^projects/[^/]+/locations/global/keyRings/[^/]+/cryptoKeys/[^/]+$", var.kms_key_name))
    error_message = "kms_key_name must be null or a global Cloud KMS key name (automatic replication needs a global key)."
  }
}

variable "labels" {
  type        = map(string)
  description = "Extra labels for every secret and the topic. The tvs-* labels the rotator reads are set by the module and cannot be overridden."
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.labels) : !startswith(k, "tvs-")])
    error_message = "labels must not use the reserved tvs- prefix."
  }
}
