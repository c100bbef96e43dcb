# Public mode only: a global external Application Load Balancer in front of the token function
# (never the rotation functions). Serverless NEG -> backend service with Cloud Armor -> URL map ->
# HTTPS proxy with a Google-managed certificate for var.domain -> forwarding rule on 443; port 80
# answers with a redirect to HTTPS. Every resource here has count = 0 in internal mode.

locals {
  lb_count = local.public ? 1 : 0

  # Cloud Armor rule priorities: lower numbers are evaluated first, and the first match decides.
  # The size and WAF denials come before the rate-limit rule, whose conforming requests are allowed.
  priority_max_size   = 100
  priority_waf        = 200
  priority_rate_limit = 1000
  priority_default    = 2147483647
}

resource "google_compute_region_network_endpoint_group" "token" {
  count = local.lb_count

  project               = var.project_id
  region                = var.region
  name                  = "${var.function_name}-neg"
  network_endpoint_type = "SERVERLESS"

  cloud_function {
    function = google_cloudfunctions2_function.token.name
  }
}

resource "google_compute_security_policy" "token" {
  count = local.lb_count

  project     = var.project_id
  name        = "${var.function_name}-armor"
  description = "Token vending: request size, optional WAF and source allowlist, per-IP rate limit."
  type        = "CLOUD_ARMOR"

  # Content-Length above the function's body limit. A request without the header (chunked) is
  # not matched here; the function's own 64 KiB limit still refuses it.
  rule {
    description = "Request body too large"
    priority    = local.priority_max_size
    action      = "deny(413)"

    match {
      expr {
        expression = "int(request.headers['content-length']) > ${var.max_request_bytes}"
      }
    }
  }

  dynamic "rule" {
    for_each = var.waf_rules

    content {
      description = "Preconfigured WAF ${rule.value}"
      priority    = local.priority_waf + rule.key
      action      = "deny(403)"

      match {
        expr {
          expression = "evaluatePreconfiguredWaf('${rule.value}', {'sensitivity': 1})"
        }
      }
    }
  }

  # The allowlist and the rate limit in one rule: only listed sources (every source when the list
  # is empty) reach the throttle; the rest fall through to the default deny.
  rule {
    description = "Per-IP rate limit"
    priority    = local.priority_rate_limit
    action      = var.rate_limit_ban_seconds > 0 ? "rate_based_ban" : "throttle"

    match {
      versioned_expr = "SRC_IPS_V1"

      config {
        src_ip_ranges = length(var.allowed_source_ranges) > 0 ? var.allowed_source_ranges : ["*"]
      }
    }

    rate_limit_options {
      conform_action   = "allow"
      exceed_action    = "deny(429)"
      enforce_on_key   = "IP"
      ban_duration_sec = var.rate_limit_ban_seconds > 0 ? var.rate_limit_ban_seconds : null

      rate_limit_threshold {
        count        = var.rate_limit_count
        interval_sec = var.rate_limit_interval_sec
      }
    }
  }

  rule {
    description = "Default: refuse what no rule above allowed"
    priority    = local.priority_default
    action      = "deny(403)"

    match {
      versioned_expr = "SRC_IPS_V1"

      config {
        src_ip_ranges = ["*"]
      }
    }
  }
}

resource "google_compute_backend_service" "token" {
  count = local.lb_count

  project               = var.project_id
  name                  = "${var.function_name}-backend"
  description           = "The token function, behind Cloud Armor."
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  security_policy       = google_compute_security_policy.token[0].self_link

  backend {
    group = google_compute_region_network_endpoint_group.token[0].id
  }

  log_config {
    enable      = true
    sample_rate = 1
  }
}

resource "google_compute_url_map" "token" {
  count = local.lb_count

  project         = var.project_id
  name            = "${var.function_name}-lb"
  default_service = google_compute_backend_service.token[0].id
}

# The name follows the domain so a new domain gets a new certificate before the old one goes.
resource "google_compute_managed_ssl_certificate" "token" {
  count = local.lb_count

  project = var.project_id
  name    = "${var.function_name}-${substr(sha256(var.domain), 0, 8)}"

  managed {
    domains = [var.domain]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_ssl_policy" "token" {
  count = local.lb_count

  project         = var.project_id
  name            = "${var.function_name}-tls"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"
}

resource "google_compute_target_https_proxy" "token" {
  count = local.lb_count

  project          = var.project_id
  name             = "${var.function_name}-https"
  url_map          = google_compute_url_map.token[0].id
  ssl_certificates = [google_compute_managed_ssl_certificate.token[0].id]
  ssl_policy       = google_compute_ssl_policy.token[0].id
}

resource "google_compute_global_address" "token" {
  count = local.lb_count

  project = var.project_id
  name    = "${var.function_name}-ip"
}

resource "google_compute_global_forwarding_rule" "https" {
  count = local.lb_count

  project               = var.project_id
  name                  = "${var.function_name}-https"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_protocol           = "TCP"
  ip_address            = google_compute_global_address.token[0].address
  port_range            = "443"
  target                = google_compute_target_https_proxy.token[0].id
}

# Port 80 only redirects to HTTPS and never reaches the function. 301: most clients turn a POST
# into a GET, so a caller misconfigured with http:// fails loudly instead of being served (the
# credential it sent in clear text must be treated as exposed).
resource "google_compute_url_map" "http_redirect" {
  count = local.lb_count

  project = var.project_id
  name    = "${var.function_name}-redirect"

  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "http_redirect" {
  count = local.lb_count

  project = var.project_id
  name    = "${var.function_name}-http"
  url_map = google_compute_url_map.http_redirect[0].id
}

resource "google_compute_global_forwarding_rule" "http_redirect" {
  count = local.lb_count

  project               = var.project_id
  name                  = "${var.function_name}-http"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_protocol           = "TCP"
  ip_address            = google_compute_global_address.token[0].address
  port_range            = "80"
  target                = google_compute_target_http_proxy.http_redirect[0].id
}
