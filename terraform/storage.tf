# Buckets: the state bucket (execution files, KV, the script runner), the functions' source bucket, and
# the constant buckets the flows name. All private: uniform access, public access prevention enforced.

resource "google_storage_bucket" "state" {
  #checkov:skip=CKV_GCP_62:Access is audited with Cloud Audit Logs (Data Access logs); legacy usage logs would need yet another bucket.
  name                        = local.state_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age            = var.execution_retention_days
      matches_prefix = ["executions/"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.api]
}

resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:Access is audited with Cloud Audit Logs (Data Access logs); legacy usage logs would need yet another bucket.
  name                        = local.source_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  versioning {
    enabled = true
  }

  # Each deploy uploads a new content-addressed archive; old ones are only history.
  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.api]
}

resource "google_storage_bucket" "user" {
  #checkov:skip=CKV_GCP_62:Access is audited with Cloud Audit Logs (Data Access logs); legacy usage logs would need yet another bucket.
  for_each = local.user_buckets

  name                        = each.key
  location                    = each.value
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.api]
}

# The functions' source, content-addressed so that a change redeploys them.
data "archive_file" "functions" {
  type        = "zip"
  source_dir  = startswith(var.functions_dir, "/") ? var.functions_dir : "${path.module}/${var.functions_dir}"
  output_path = "${path.module}/.terraform/tmp/functions.zip"
  excludes    = ["**/__pycache__/**", "**/*.pyc", "**/.pytest_cache/**", "**/tests/**"]
}

resource "google_storage_bucket_object" "functions" {
  name   = "functions/${data.archive_file.functions.output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.functions.output_path
}

# The script task runner, mounted read-only into the jobs (contract: gs://<state bucket>/runner/).

resource "google_storage_bucket_object" "runner" {
  count = local.ship_runner ? 1 : 0

  name         = "runner/kestra_runner.py"
  bucket       = google_storage_bucket.state.name
  source       = local.runner_path
  content_type = "text/x-python"
}

# KV values seeded before the first run (same object layout as the kv function).
resource "google_storage_bucket_object" "kv_seed" {
  for_each = local.kv_objects

  name         = each.key
  bucket       = google_storage_bucket.state.name
  content      = each.value
  content_type = "application/json"
}
