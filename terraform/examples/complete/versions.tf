terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.14.0, < 8.0.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4.0, < 3.0.0"
    }
  }

  # State bucket given at init: terraform init -backend-config="bucket=<state bucket>".
  backend "gcs" {
    prefix = "token-vending"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
