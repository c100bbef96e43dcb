# VPC Service Controls around the token vending project. Roll out with dry_run = true (spec
# only: violations are logged, nothing blocked), inspect the dry-run logs, then enforce.

locals {
  # iamcredentials and sts are separate services: restricting iam.googleapis.com leaves them open.
  required_restricted_services = [
    "cloudfunctions.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "sts.googleapis.com",
    "pubsub.googleapis.com",
    "cloudkms.googleapis.com",
    # The user-consent broker's grants database (modules/user-consent).
    "firestore.googleapis.com",
    # Used by the deployment: function sources and the audit archive (storage), the audit dataset
    # (bigquery), function images (artifactregistry), function builds (cloudbuild), the API keys
    # the rotator manages (apikeys). Rules below let the build and the log sinks through.
    "storage.googleapis.com",
    "bigquery.googleapis.com",
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "apikeys.googleapis.com",
  ]
  restricted_services = distinct(concat(local.required_restricted_services, var.extra_restricted_services))

  policy_id   = var.access_policy_id != null ? var.access_policy_id : google_access_context_manager_access_policy.scoped[0].name
  policy_name = "accessPolicies/${local.policy_id}"

  access_levels = [for level in google_access_context_manager_access_level.callers : level.name]

  # The same configuration goes either to the dry-run spec or to the enforced status. Access
  # levels are used only inside the callers' ingress rule (identity AND source), never as a
  # perimeter-wide bypass.
  configs = var.dry_run ? { spec = true, status = false } : { spec = false, status = true }
}

resource "google_access_context_manager_access_policy" "scoped" {
  count = var.access_policy_id == null ? 1 : 0

  parent = "organizations/${var.organization_id}"
  title  = "token-vending-${var.project_number}"
  scopes = ["projects/${var.project_number}"]
}

resource "google_access_context_manager_access_level" "callers" {
  count = length(var.allowed_ip_ranges) > 0 ? 1 : 0

  parent = local.policy_name
  name   = "${local.policy_name}/accessLevels/${var.perimeter_name}_callers"
  title  = "${var.perimeter_name} callers"

  basic {
    conditions {
      ip_subnetworks = var.allowed_ip_ranges
    }
  }
}

resource "google_access_context_manager_service_perimeter" "this" {
  parent         = local.policy_name
  name           = "${local.policy_name}/servicePerimeters/${var.perimeter_name}"
  title          = var.perimeter_name
  perimeter_type = "PERIMETER_TYPE_REGULAR"

  use_explicit_dry_run_spec = var.dry_run

  # The same rules go to the dry-run spec or to the enforced status (keep the two identical).
  dynamic "spec" {
    for_each = local.configs.spec ? [1] : []
    content {
      resources           = ["projects/${var.project_number}"]
      restricted_services = local.restricted_services

      # Deployers (Terraform, the Cloud Build pipeline's identity) administer everything.
      dynamic "ingress_policies" {
        for_each = length(var.deployer_identities) > 0 ? [1] : []
        content {
          ingress_from {
            identities = var.deployer_identities
            sources {
              access_level = "*"
            }
          }
          ingress_to {
            resources = ["*"]
            operations {
              service_name = "*"
            }
          }
        }
      }

      # Callers outside the perimeter reach the token function only.
      dynamic "ingress_policies" {
        for_each = length(var.caller_identities) > 0 ? [1] : []
        content {
          ingress_from {
            identities = var.caller_identities
            dynamic "sources" {
              for_each = length(local.access_levels) > 0 ? local.access_levels : ["*"]
              content {
                access_level = sources.value
              }
            }
          }
          ingress_to {
            resources = ["projects/${var.project_number}"]
            operations {
              service_name = "run.googleapis.com"
              method_selectors {
                method = "*"
              }
            }
          }
        }
      }

      # The functions' build runs on Cloud Build's default pool, which is not inside any
      # perimeter: its identity reads the sources (storage), pushes the image
      # (artifactregistry) and writes the build log (logging) in this project only.
      dynamic "ingress_policies" {
        for_each = length(var.build_identities) > 0 ? [1] : []
        content {
          ingress_from {
            identities = var.build_identities
            sources {
              access_level = "*"
            }
          }
          ingress_to {
            resources = ["projects/${var.project_number}"]
            operations {
              service_name = "storage.googleapis.com"
              method_selectors {
                method = "*"
              }
            }
            operations {
              service_name = "artifactregistry.googleapis.com"
              method_selectors {
                method = "*"
              }
            }
            operations {
              service_name = "logging.googleapis.com"
              method_selectors {
                method = "*"
              }
            }
          }
        }
      }

      # The audit sinks' writer identities (Google-managed; only Cloud Logging acts as them)
      # write to the archive bucket and the audit dataset in this project.
      dynamic "ingress_policies" {
        for_each = length(var.sink_writer_identities) > 0 ? [1] : []
        content {
          ingress_from {
            identities = var.sink_writer_identities
            sources {
              access_level = "*"
            }
          }
          ingress_to {
            resources = ["projects/${var.project_number}"]
            operations {
              service_name = "storage.googleapis.com"
              method_selectors {
                method = "google.storage.objects.create"
              }
            }
            operations {
              service_name = "bigquery.googleapis.com"
              method_selectors {
                method = "*"
              }
            }
          }
        }
      }

      # People and tools outside that query the audit dataset.
      dynamic "ingress_policies" {
        for_each = length(var.audit_reader_identities) > 0 ? [1] : []
        content {
          ingress_from {
            identities = var.audit_reader_identities
            sources {
              access_level = "*"
            }
          }
          ingress_to {
            resources = ["projects/${var.project_number}"]
            operations {
              service_name = "bigquery.googleapis.com"
              method_selectors {
                method = "*"
              }
            }
          }
        }
      }

      dynamic "egress_policies" {
        for_each = length(var.egress_target_resources) > 0 ? ["iamcredentials.googleapis.com", "sts.googleapis.com"] : []
        content {
          egress_from {
            identities = var.function_identities
          }
          egress_to {
            resources = var.egress_target_resources
            operations {
              service_name = egress_policies.value
              method_selectors {
                method = "*"
              }
            }
          }
        }
      }
    }
  }

  # The same rules go to the dry-run spec or to the enforced status (keep the two identical).
  dynamic "status" {
    for_each = local.configs.status ? [1] : []
    content {
      resources           = ["projects/${var.project_number}"]
      restricted_services = local.restricted_services

      # Deployers (Terraform, the Cloud Build pipeline's identity) administer everything.
      dynamic "ingress_policies" {
        for_each = length(var.deployer_identities) > 0 ? [1] : []
        content {
          ingress_from {
            identities = var.deployer_identities
            sources {
              access_level = "*"
            }
          }
          ingress_to {
            resources = ["*"]
            operations {
              service_name = "*"
            }
          }
        }
      }

      # Callers outside the perimeter reach the token function only.
      dynamic "ingress_policies" {
        for_each = length(var.caller_identities) > 0 ? [1] : []
        content {
          ingress_from {
            identities = var.caller_identities
            dynamic "sources" {
              for_each = length(local.access_levels) > 0 ? local.access_levels : ["*"]
              content {
                access_level = sources.value
              }
            }
          }
          ingress_to {
            resources = ["projects/${var.project_number}"]
            operations {
              service_name = "run.googleapis.com"
              method_selectors {
                method = "*"
              }
            }
          }
        }
      }

      # The functions' build runs on Cloud Build's default pool, which is not inside any
      # perimeter: its identity reads the sources (storage), pushes the image
      # (artifactregistry) and writes the build log (logging) in this project only.
      dynamic "ingress_policies" {
        for_each = length(var.build_identities) > 0 ? [1] : []
        content {
          ingress_from {
            identities = var.build_identities
            sources {
              access_level = "*"
            }
          }
          ingress_to {
            resources = ["projects/${var.project_number}"]
            operations {
              service_name = "storage.googleapis.com"
              method_selectors {
                method = "*"
              }
            }
            operations {
              service_name = "artifactregistry.googleapis.com"
              method_selectors {
                method = "*"
              }
            }
            operations {
              service_name = "logging.googleapis.com"
              method_selectors {
                method = "*"
              }
            }
          }
        }
      }

      # The audit sinks' writer identities (Google-managed; only Cloud Logging acts as them)
      # write to the archive bucket and the audit dataset in this project.
      dynamic "ingress_policies" {
        for_each = length(var.sink_writer_identities) > 0 ? [1] : []
        content {
          ingress_from {
            identities = var.sink_writer_identities
            sources {
              access_level = "*"
            }
          }
          ingress_to {
            resources = ["projects/${var.project_number}"]
            operations {
              service_name = "storage.googleapis.com"
              method_selectors {
                method = "google.storage.objects.create"
              }
            }
            operations {
              service_name = "bigquery.googleapis.com"
              method_selectors {
                method = "*"
              }
            }
          }
        }
      }

      # People and tools outside that query the audit dataset.
      dynamic "ingress_policies" {
        for_each = length(var.audit_reader_identities) > 0 ? [1] : []
        content {
          ingress_from {
            identities = var.audit_reader_identities
            sources {
              access_level = "*"
            }
          }
          ingress_to {
            resources = ["projects/${var.project_number}"]
            operations {
              service_name = "bigquery.googleapis.com"
              method_selectors {
                method = "*"
              }
            }
          }
        }
      }

      dynamic "egress_policies" {
        for_each = length(var.egress_target_resources) > 0 ? ["iamcredentials.googleapis.com", "sts.googleapis.com"] : []
        content {
          egress_from {
            identities = var.function_identities
          }
          egress_to {
            resources = var.egress_target_resources
            operations {
              service_name = egress_policies.value
              method_selectors {
                method = "*"
              }
            }
          }
        }
      }
    }
  }
}
