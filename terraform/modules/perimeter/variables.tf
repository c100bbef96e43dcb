variable "project_number" {
  type        = string
  description = "Number (not id) of the project placed inside the perimeter."

  validation {
    condition     = can(regex("^[0-9]{6,20}$", var.project_number))
    error_message = "project_number must be the numeric project number."
  }
}

variable "access_policy_id" {
  type        = string
  description = "Numeric id of an existing Access Context Manager policy; null creates a policy scoped to this project (needs organization_id)."
  default     = null

  validation {
    condition     = var.access_policy_id == null || can(regex("^[0-9]+$", var.access_policy_id))
    error_message = "access_policy_id must be null or the numeric id of an access policy."
  }
}

variable "organization_id" {
  type        = string
  description = "Numeric organization id; needed only when this module creates the (project-scoped) access policy."
  default     = null

  validation {
    condition     = var.organization_id == null || can(regex("^[0-9]+$", var.organization_id))
    error_message = "organization_id must be null or a numeric organization id."
  }

  validation {
    condition     = var.access_policy_id != null || var.organization_id != null
    error_message = "Set access_policy_id (existing policy) or organization_id (to create a scoped policy)."
  }
}

variable "perimeter_name" {
  type        = string
  description = "Short name of the service perimeter."
  default     = "tvs_perimeter"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_]{0,49}$", var.perimeter_name))
    error_message = "perimeter_name must start with a letter and hold only letters, digits and underscores (max 50)."
  }
}

variable "dry_run" {
  type        = bool
  description = "Write the configuration as a dry-run spec only (violations are logged, nothing is blocked). Roll out with true, read the dry-run logs, then set false to enforce."
  default     = true
}

variable "extra_restricted_services" {
  type        = list(string)
  description = "Services restricted in addition to the ones the token vending service uses."
  default     = []

  validation {
    condition     = alltrue([for s in var.extra_restricted_services : can(regex("^[a-z0-9.-]+\\.googleapis\\.com$", s))])
    error_message = "extra_restricted_services must be service names such as bigquery.googleapis.com."
  }
}

variable "allowed_ip_ranges" {
  type        = list(string)
  description = "CIDR ranges from which listed caller identities may reach the functions from outside the perimeter. Empty: no IP-based access level."
  default     = []

  validation {
    condition     = alltrue([for r in var.allowed_ip_ranges : can(cidrhost(r, 0))])
    error_message = "allowed_ip_ranges must be CIDR ranges."
  }
}

variable "caller_identities" {
  type        = list(string)
  description = "Identities outside the perimeter that may invoke the token function (ingress to run.googleapis.com), e.g. serviceAccount:ci@other.iam.gserviceaccount.com."
  default     = []

  validation {
    condition     = alltrue([for i in var.caller_identities : can(regex("^(serviceAccount|user|group):.+|^principal(Set)?://.+", i))])
    error_message = "caller_identities must be serviceAccount:, user:, group:, principal:// or principalSet:// identities."
  }
}

variable "deployer_identities" {
  type        = list(string)
  description = "Identities that administer the project from outside the perimeter (Terraform, Cloud Build deployer)."
  default     = []

  validation {
    condition     = alltrue([for i in var.deployer_identities : can(regex("^(serviceAccount|user|group):.+|^principal(Set)?://.+", i))])
    error_message = "deployer_identities must be serviceAccount:, user:, group:, principal:// or principalSet:// identities."
  }
}

variable "build_identities" {
  type        = list(string)
  description = "Identities the functions are built as (the build service account): ingress to storage, artifactregistry and logging in this project, from Cloud Build's default pool outside the perimeter."
  default     = []

  validation {
    condition     = alltrue([for i in var.build_identities : startswith(i, "serviceAccount:")])
    error_message = "build_identities must be serviceAccount: identities."
  }
}

variable "sink_writer_identities" {
  type        = list(string)
  description = "Writer identities of the audit log sinks (the audit module's sink_writer_identities): ingress to create objects in storage and write to bigquery in this project."
  default     = []

  validation {
    condition     = alltrue([for i in var.sink_writer_identities : startswith(i, "serviceAccount:")])
    error_message = "sink_writer_identities must be serviceAccount: identities."
  }
}

variable "audit_reader_identities" {
  type        = list(string)
  description = "Identities outside the perimeter that query the audit dataset (ingress to bigquery in this project)."
  default     = []

  validation {
    condition     = alltrue([for i in var.audit_reader_identities : can(regex("^(serviceAccount|user|group):.+|^principal(Set)?://.+", i))])
    error_message = "audit_reader_identities must be serviceAccount:, user:, group:, principal:// or principalSet:// identities."
  }
}

variable "function_identities" {
  type        = list(string)
  description = "Runtime identities of the functions (serviceAccount:...), allowed the egress below."

  validation {
    condition     = alltrue([for i in var.function_identities : startswith(i, "serviceAccount:")])
    error_message = "function_identities must be serviceAccount: identities."
  }
}

variable "egress_target_resources" {
  type        = list(string)
  description = "Projects outside the perimeter (projects/NUMBER) the functions' identities may call IAM Credentials and STS in. Empty: no egress."
  default     = []

  validation {
    condition     = alltrue([for r in var.egress_target_resources : can(regex("^projects/[0-9]+$", r))])
    error_message = "egress_target_resources must be projects/NUMBER."
  }
}
