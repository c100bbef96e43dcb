variable "project_id" {
  type        = string
  description = "Project of the token vending service, where the grants database, its key and the OAuth client's secret live."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6-30 chars, lowercase letters, digits, hyphens)."
  }
}

variable "location" {
  type        = string
  description = "Firestore location of the grants database: a region (e.g. europe-west1) or a multi-region (eur3, nam5). Cannot be changed after creation."

  validation {
    condition     = can(regex("^([a-z]+-[a-z]+[0-9]+|eur3|nam5|nam7)$", var.location))
    error_message = "location must be a Firestore region such as europe-west1 or a multi-region (eur3, nam5, nam7)."
  }
}

variable "kms_location" {
  type        = string
  description = "Cloud KMS location of the key ring: a region, or a multi-region such as europe or us matching the database's multi-region."

  validation {
    condition     = can(regex("^([a-z]+-[a-z]+[0-9]+|global|europe|us|asia)$", var.kms_location))
    error_message = "kms_location must be a Cloud KMS region such as europe-west1, or global, europe, us or asia."
  }
}

variable "name_prefix" {
  type        = string
  description = "Prefix of the names this module creates (database, key ring, secret, service account)."
  default     = "tvs"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-16 chars of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "role_id_prefix" {
  type        = string
  description = "Prefix of the custom role ids this module creates (e.g. tvs gives tvsConsentKeyEncrypter)."
  default     = "tvs"

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9_]{0,29}$", var.role_id_prefix))
    error_message = "role_id_prefix must be 1-30 chars of letters, digits and underscores, starting with a letter."
  }
}

variable "key_rotation_period" {
  type        = string
  description = "Rotation period of the KMS key (seconds, e.g. 7776000s = 90 days). Old versions keep decrypting the data keys they wrapped: never destroy a version that still wraps a live data key."
  default     = "7776000s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.key_rotation_period)) && tonumber(trimsuffix(var.key_rotation_period, "s")) >= 86400
    error_message = "key_rotation_period must be a number of seconds, at least 86400s, such as 7776000s."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels for every resource that takes them."
  default     = {}
}

variable "oauth_client_id" {
  type        = string
  description = "Client id of the OAuth client (Web application) the admin registered (docs/user-consent.md, \"Registering the OAuth client\"). Not a secret."

  validation {
    condition     = can(regex("^[0-9]+-[a-z0-9]+\\.apps\\.googleusercontent\\.com$", var.oauth_client_id))
    error_message = "oauth_client_id must look like 123456789012-abc123.apps.googleusercontent.com."
  }
}
