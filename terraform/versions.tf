# Terraform and provider requirements. No backend is pinned here: local state by default; CI adds a
# `backend_override.tf` with a GCS backend (see .github/workflows/deploy.yaml).
terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.50, < 9.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = {
    managed-by = "kestra-gcp"
    deployment = var.name_prefix
  }
}
