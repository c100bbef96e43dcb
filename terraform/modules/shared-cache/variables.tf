variable "project_id" {
  type        = string
  description = "Project of the token function, where the cache, its key and its secret live."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6-30 chars, lowercase letters, digits, hyphens)."
  }
}

variable "region" {
  type        = string
  description = "Region of the token function: the Redis instance, the key ring and the connector live there too."

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1."
  }
}

variable "name_prefix" {
  type        = string
  description = "Prefix of the names this module creates (key ring, instance, secret, connector)."
  default     = "tvs"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-16 chars of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "network" {
  type        = string
  description = "VPC network (projects/P/global/networks/N) the instance is authorized on and the connector attaches to."

  validation {
    condition     = can(regex("^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/global/networks/[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.network))
    error_message = "network must be projects/PROJECT/global/networks/NAME."
  }
}

variable "connect_mode" {
  type        = string
  description = "DIRECT_PEERING (default: no project-wide private services access range needed) or PRIVATE_SERVICE_ACCESS (when the network already has a private services access connection, e.g. a Shared VPC)."
  default     = "DIRECT_PEERING"

  validation {
    condition     = contains(["DIRECT_PEERING", "PRIVATE_SERVICE_ACCESS"], var.connect_mode)
    error_message = "connect_mode must be DIRECT_PEERING or PRIVATE_SERVICE_ACCESS."
  }
}

variable "connector_cidr" {
  type        = string
  description = "An unused /28 of the network for the Serverless VPC Access connector."
  default     = "10.8.0.0/28"

  validation {
    condition     = can(cidrhost(var.connector_cidr, 0)) && endswith(var.connector_cidr, "/28")
    error_message = "connector_cidr must be a /28 range."
  }
}

variable "connector_max_instances" {
  type        = number
  description = "Largest size of the connector (3..10 e2-micro instances): its throughput bounds the cache traffic of all instances."
  default     = 3

  validation {
    condition     = var.connector_max_instances >= 3 && var.connector_max_instances <= 10 && floor(var.connector_max_instances) == var.connector_max_instances
    error_message = "connector_max_instances must be a whole number from 3 to 10."
  }
}

variable "tier" {
  type        = string
  description = "STANDARD_HA (default: a replica and automatic failover) or BASIC (one node; an outage makes every instance mint for itself until it is back)."
  default     = "STANDARD_HA"

  validation {
    condition     = contains(["BASIC", "STANDARD_HA"], var.tier)
    error_message = "tier must be BASIC or STANDARD_HA."
  }
}

variable "memory_size_gb" {
  type        = number
  description = "Instance size in GiB. An entry is under 2 KiB: 1 GiB holds far more than TVS_CACHE_MAX_ENTRIES (10,000) entries."
  default     = 1

  validation {
    condition     = var.memory_size_gb >= 1 && var.memory_size_gb <= 300 && floor(var.memory_size_gb) == var.memory_size_gb
    error_message = "memory_size_gb must be a whole number from 1 to 300."
  }
}

variable "redis_version" {
  type        = string
  description = "Redis version of the instance (7.x: node-redis 5 and TLS are supported)."
  default     = "REDIS_7_2"

  validation {
    condition     = can(regex("^REDIS_7_[0-9]+$", var.redis_version))
    error_message = "redis_version must be a Redis 7 version such as REDIS_7_2."
  }
}

variable "key_rotation_period" {
  type        = string
  description = "Rotation period of the KMS key (seconds, e.g. 7776000s = 90 days). Old versions keep decrypting the data keys they wrapped."
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
