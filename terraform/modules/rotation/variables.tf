variable "project_id" {
  type        = string
  description = "Project the rotation functions run in."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6-30 chars, lowercase letters, digits, hyphens)."
  }
}

variable "region" {
  type        = string
  description = "Region of the functions and the scheduler job (e.g. europe-west1)."

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1."
  }
}

variable "name_prefix" {
  type        = string
  description = "Prefix of the function and job names (tvs gives tvs-rotate, tvs-rotate-on-event, tvs-rotation-sweep)."
  default     = "tvs"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-16 chars of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "service_account_email" {
  type        = string
  description = "Dedicated runtime service account of both rotation functions (the iam module's rotator account)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\\.iam\\.gserviceaccount\\.com$", var.service_account_email))
    error_message = "service_account_email must be a user-managed service account; the default compute account is refused."
  }
}

variable "invoker_service_account_email" {
  type        = string
  description = "Identity Cloud Scheduler (OIDC token) and the Pub/Sub trigger use to invoke the functions."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\\.iam\\.gserviceaccount\\.com$", var.invoker_service_account_email))
    error_message = "invoker_service_account_email must be a user-managed service account."
  }
}

variable "build_service_account_id" {
  type        = string
  description = "Service account Cloud Build uses to build the functions (projects/P/serviceAccounts/E)."

  validation {
    condition     = can(regex("^projects/[^/]+/serviceAccounts/[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\\.iam\\.gserviceaccount\\.com$", var.build_service_account_id))
    error_message = "build_service_account_id must be projects/P/serviceAccounts/EMAIL of a user-managed service account."
  }
}

variable "source_bucket" {
  type        = string
  description = "GCS bucket holding the functions' source archive."
}

variable "source_object" {
  type        = string
  description = "Object name of the source archive (a zip whose package.json main is the built rotate entry)."
}

variable "docker_repository" {
  type        = string
  description = "Artifact Registry repository for the built images (projects/P/locations/L/repositories/R); null lets the platform choose."
  default     = null
}

variable "runtime" {
  type        = string
  description = "Node.js runtime of the functions: nodejs24 (the default, what Cloud Build builds and tests on; supported until 2028-10-31) or nodejs22 (deprecated from 2027-04-30). nodejs20 is refused: it was decommissioned on 2026-10-30 and no function can be created or updated with it."
  default     = "nodejs24"

  validation {
    condition     = contains(["nodejs22", "nodejs24"], var.runtime)
    error_message = "runtime must be nodejs24 or nodejs22 (nodejs20 was decommissioned on 2026-10-30)."
  }
}

variable "rotation_topic_id" {
  type        = string
  description = "Pub/Sub topic (projects/P/topics/T) receiving Secret Manager rotation notices (the secrets module's output)."

  validation {
    condition     = can(regex("^projects/[^/]+/topics/[A-Za-z][A-Za-z0-9-_.~+%]{2,254}$", var.rotation_topic_id))
    error_message = "rotation_topic_id must be projects/P/topics/T."
  }
}

variable "schedule" {
  type        = string
  description = "Cron schedule of the sweep that rotates every due secret (the backstop for missed notices)."
  default     = "17 * * * *"

  validation {
    condition     = length(split(" ", trimspace(var.schedule))) == 5
    error_message = "schedule must be a five-field cron expression."
  }
}

variable "time_zone" {
  type        = string
  description = "Time zone of the schedule."
  default     = "Etc/UTC"
}

variable "max_instances" {
  type        = number
  description = "Upper bound on instances per rotation function. Runs are idempotent and claim secrets with compare-and-swap, so more than one is safe, but one suffices."
  default     = 1

  validation {
    condition     = var.max_instances >= 1 && var.max_instances <= 10
    error_message = "max_instances must be between 1 and 10."
  }
}

variable "timeout_seconds" {
  type        = number
  description = "Timeout of one rotation run (HTTP functions allow up to 3600, event functions up to 540)."
  default     = 540

  validation {
    condition     = var.timeout_seconds >= 60 && var.timeout_seconds <= 540
    error_message = "timeout_seconds must be between 60 and 540."
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
}

variable "rotation_bindings" {
  description = <<-EOT
    What each managed secret rotates: secret id => {kind (sa-key | api-key), target (SA email or
    projects/P/locations/global/keys/K), period and grace (durations in seconds, "7200s")}. Pass the
    secrets module's rotation_bindings output, so the binding comes from the same map that creates
    the secrets. Rendered as JSON into TVS_ROTATION_BINDINGS; a function's environment is limited
    to 32 KiB in all, so the rendered JSON is capped at 24 KiB (about 150 secrets).
  EOT
  type = map(object({
    kind   = string
    target = string
    period = string
    grace  = string
  }))

  validation {
    condition     = alltrue([for id, b in var.rotation_bindings : can(regex("^[A-Za-z0-9_-]{1,255}$", id)) && contains(["sa-key", "api-key"], b.kind)])
    error_message = "rotation_bindings keys must be secret ids and each kind sa-key or api-key."
  }

  validation {
    condition     = length(jsonencode(var.rotation_bindings)) <= 24576
    error_message = "rotation_bindings renders to more than 24 KiB of JSON; Cloud Run functions allow 32 KiB of environment in all."
  }
}

variable "extra_environment_variables" {
  type        = map(string)
  description = "TVS_* settings of the rotation functions. Never secrets."
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_environment_variables) : can(regex("^TVS_[A-Z0-9_]+$", k)) && k != "TVS_ROTATION_BINDINGS"])
    error_message = "extra_environment_variables keys must be TVS_* names other than TVS_ROTATION_BINDINGS (set rotation_bindings)."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels for the functions."
  default     = {}
}
