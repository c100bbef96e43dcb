variable "project_id" {
  type        = string
  description = "Project whose audit logs are configured and exported."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6-30 chars, lowercase letters, digits, hyphens)."
  }
}

variable "name_prefix" {
  type        = string
  description = "Prefix of sink, metric, bucket and dataset names."
  default     = "tvs"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-16 chars of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "data_access_services" {
  type        = list(string)
  description = "Services whose Data Access audit logs (ADMIN_READ, DATA_READ, DATA_WRITE) are enabled. iam.googleapis.com also covers iamcredentials."
  default     = ["secretmanager.googleapis.com", "iam.googleapis.com"]

  validation {
    condition     = contains(var.data_access_services, "secretmanager.googleapis.com") && contains(var.data_access_services, "iam.googleapis.com")
    error_message = "data_access_services must include secretmanager.googleapis.com and iam.googleapis.com."
  }
}

variable "function_service_names" {
  type        = list(string)
  description = "Cloud Run service names of the functions (token, rotate, rotate-on-event) whose logs are exported."

  validation {
    condition     = length(var.function_service_names) > 0 && alltrue([for n in var.function_service_names : can(regex("^[a-z][a-z0-9-]{0,62}$", n))])
    error_message = "function_service_names must be non-empty Cloud Run service names."
  }
}

variable "token_service_name" {
  type        = string
  description = "Cloud Run service name of the token function (denied-request metric)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.token_service_name))
    error_message = "token_service_name must be a Cloud Run service name."
  }
}

variable "location" {
  type        = string
  description = "Location of the archive bucket and dataset (e.g. EU, US, europe-west1)."
  default     = "EU"
}

variable "enable_gcs_sink" {
  type        = bool
  description = "Export to a GCS bucket with a retention policy."
  default     = true
}

variable "enable_bigquery_sink" {
  type        = bool
  description = "Export to a BigQuery dataset (partitioned tables) for querying."
  default     = true

  validation {
    condition     = var.enable_bigquery_sink || var.enable_gcs_sink
    error_message = "Enable at least one audit sink (GCS or BigQuery)."
  }
}

variable "retention_days" {
  type        = number
  description = "Days exported entries are kept (bucket retention policy and dataset partition expiry)."
  default     = 400

  validation {
    condition     = var.retention_days >= 30 && var.retention_days <= 3650
    error_message = "retention_days must be between 30 and 3650."
  }
}

variable "lock_retention" {
  type        = bool
  description = "Lock the bucket's retention policy. IRREVERSIBLE: the bucket cannot be deleted until every object has aged out. Leave true in production."
  default     = true
}

variable "bucket_force_destroy" {
  type        = bool
  description = "Allow terraform destroy to delete a non-empty archive bucket (sandboxes only; a locked policy still protects objects)."
  default     = false
}

variable "kms_key_name" {
  type        = string
  description = "Optional Cloud KMS key for the archive bucket and dataset (CMEK); null keeps Google-managed encryption."
  default     = null
}

variable "denied_threshold" {
  type        = number
  description = "Denied or failed authentications per alignment period above which the alert fires."
  default     = 20

  validation {
    condition     = var.denied_threshold >= 1
    error_message = "denied_threshold must be at least 1."
  }
}

variable "policy_reload_failure_threshold" {
  type        = number
  description = "Failed policy reloads per alignment period above which the alert fires (0: alert on the first; a malformed policy fails every reload until fixed)."
  default     = 0

  validation {
    condition     = var.policy_reload_failure_threshold >= 0
    error_message = "policy_reload_failure_threshold must be at least 0."
  }
}

variable "rotation_failure_threshold" {
  type        = number
  description = "Failed or refused rotations per alignment period above which the alert fires (0: alert on the first)."
  default     = 0

  validation {
    condition     = var.rotation_failure_threshold >= 0
    error_message = "rotation_failure_threshold must be at least 0."
  }
}

variable "alignment_period" {
  type        = string
  description = "Window over which denials and policy reload failures are counted (e.g. 300s)."
  default     = "300s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.alignment_period))
    error_message = "alignment_period must be a duration in seconds, e.g. 300s."
  }
}

variable "notification_channels" {
  type        = list(string)
  description = "Monitoring notification channels (projects/P/notificationChannels/ID) paged on a spike of denials."
  default     = []

  validation {
    condition     = alltrue([for c in var.notification_channels : can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", c))])
    error_message = "notification_channels must be projects/P/notificationChannels/ID."
  }
}

variable "availability_slo" {
  type        = number
  description = "Objective: share of token requests answered non-5xx (Cloud Run request log)."
  default     = 0.999

  validation {
    condition     = var.availability_slo > 0.9 && var.availability_slo < 1
    error_message = "availability_slo must be between 0.9 and 1 (exclusive)."
  }
}

variable "cache_hit_latency_slo" {
  type        = number
  description = "Objective: share of cache-hit token requests answered under cache_hit_latency_slo_ms."
  default     = 0.99

  validation {
    condition     = var.cache_hit_latency_slo > 0.9 && var.cache_hit_latency_slo < 1
    error_message = "cache_hit_latency_slo must be between 0.9 and 1 (exclusive)."
  }
}

variable "cache_hit_latency_slo_ms" {
  type        = number
  description = "Latency bound (ms) of the cache-hit SLO."
  default     = 50

  validation {
    condition     = var.cache_hit_latency_slo_ms >= 1 && floor(var.cache_hit_latency_slo_ms) == var.cache_hit_latency_slo_ms
    error_message = "cache_hit_latency_slo_ms must be a whole number of milliseconds, at least 1."
  }
}

variable "upstream_error_threshold" {
  type        = number
  description = "Upstream errors per alignment period (per upstream) above which the alert fires."
  default     = 5

  validation {
    condition     = var.upstream_error_threshold >= 0
    error_message = "upstream_error_threshold must be at least 0."
  }
}
