# The consent side's only way in: serverless NEG -> backend service with IAP on (and a Cloud
# Armor per-IP throttle) -> URL map -> HTTPS proxy with a Google-managed certificate for
# var.domain -> forwarding rule on 443; port 80 only redirects to HTTPS.

resource "google_compute_region_network_endpoint_group" "consent" {
  project               = var.project_id
  region                = var.region
  name                  = "${var.function_name}-neg"
  network_endpoint_type = "SERVERLESS"

  cloud_function {
    function = google_cloudfunctions2_function.consent.name
  }
}

resource "google_compute_security_policy" "consent" {
  project     = var.project_id
  name        = "${var.function_name}-armor"
  description = "Token vending consent pages: per-IP throttle in front of IAP."
  type        = "CLOUD_ARMOR"

  rule {
    description = "Per-IP rate limit"
    priority    = 1000
    action      = "throttle"

    match {
      versioned_expr = "SRC_IPS_V1"

      config {
        src_ip_ranges = ["*"]
      }
    }

    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"

      rate_limit_threshold {
        count        = var.rate_limit_per_minute
        interval_sec = 60
      }
    }
  }

  rule {
    description = "Default: refuse what no rule above allowed"
    priority    = 2147483647
    action      = "deny(403)"

    match {
      versioned_expr = "SRC_IPS_V1"

      config {
        src_ip_ranges = ["*"]
      }
    }
  }
}

resource "google_compute_backend_service" "consent" {
  project               = var.project_id
  name                  = "${var.function_name}-backend"
  description           = "The consent function, behind IAP and Cloud Armor."
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  security_policy       = google_compute_security_policy.consent.self_link

  backend {
    group = google_compute_region_network_endpoint_group.consent.id
  }

  # Google-managed OAuth client (no oauth2_client_id/secret here, so no secret in state): only
  # users of your organization can sign in. docs/user-consent.md says how to admit others.
  iap {
    enabled = true
  }

  log_config {
    enable      = true
    sample_rate = 1
  }
}

resource "google_compute_url_map" "consent" {
  project         = var.project_id
  name            = "${var.function_name}-lb"
  default_service = google_compute_backend_service.consent.id
}

resource "google_compute_managed_ssl_certificate" "consent" {
  project = var.project_id
  name    = "${var.function_name}-${substr(sha256(var.domain), 0, 8)}"

  managed {
    domains = [var.domain]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_ssl_policy" "consent" {
  project         = var.project_id
  name            = "${var.function_name}-tls"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"
}

resource "google_compute_target_https_proxy" "consent" {
  project          = var.project_id
  name             = "${var.function_name}-https"
  url_map          = google_compute_url_map.consent.id
  ssl_certificates = [google_compute_managed_ssl_certificate.consent.id]
  ssl_policy       = google_compute_ssl_policy.consent.id
}

resource "google_compute_global_address" "consent" {
  project = var.project_id
  name    = "${var.function_name}-ip"
}

resource "google_compute_global_forwarding_rule" "https" {
  project               = var.project_id
  name                  = "${var.function_name}-https"
  target                = google_compute_target_https_proxy.consent.id
  ip_address            = google_compute_global_address.consent.address
  ip_protocol           = "TCP"
  port_range            = "443"
  load_balancing_scheme = "EXTERNAL_MANAGED"
}

resource "google_compute_url_map" "redirect" {
  project = var.project_id
  name    = "${var.function_name}-redirect"

  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "redirect" {
  project = var.project_id
  name    = "${var.function_name}-http"
  url_map = google_compute_url_map.redirect.id
}

resource "google_compute_global_forwarding_rule" "http" {
  project               = var.project_id
  name                  = "${var.function_name}-http"
  target                = google_compute_target_http_proxy.redirect.id
  ip_address            = google_compute_global_address.consent.address
  ip_protocol           = "TCP"
  port_range            = "80"
  load_balancing_scheme = "EXTERNAL_MANAGED"
}
