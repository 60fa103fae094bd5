# The Cloud Run functions: one per entry point of functions/main.py that a flow uses (plus trigger when
# there are schedules), each with its own service account, reachable only from inside the project.
#
# google_cloudfunctions2_function rather than google_cloud_run_v2_service + build_config: it builds from a
# source archive end to end (Cloud Build, the image pushed to our own repository, the URL exported), while
# the Cloud Run resource still needs a placeholder image and its own build plumbing. Both end as a Cloud Run
# service of the same name, which is what the invoker grants in iam.tf target.

resource "google_artifact_registry_repository" "functions" {
  #checkov:skip=CKV_GCP_84:Google-managed encryption; the images hold only the public function code.
  count = length(local.functions) > 0 ? 1 : 0

  repository_id = "${var.name_prefix}-functions"
  location      = var.region
  format        = "DOCKER"
  description   = "Images of the ${var.name_prefix} functions (built by Cloud Build)."

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 5
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }

  depends_on = [google_project_service.api]
}

resource "google_cloudfunctions2_function" "fn" {
  for_each = local.functions

  name        = local.function_names[each.key]
  location    = var.region
  description = "kestra-gcp ${each.key} function"

  build_config {
    runtime           = var.python_runtime
    entry_point       = each.key
    service_account   = google_service_account.sa["build"].id
    docker_repository = google_artifact_registry_repository.functions[0].id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.functions.name
      }
    }
  }

  service_config {
    available_memory                 = local.function_resources[each.key].memory
    available_cpu                    = local.function_resources[each.key].cpu
    timeout_seconds                  = local.function_resources[each.key].timeout_seconds
    max_instance_count               = local.function_resources[each.key].max_instances
    max_instance_request_concurrency = 1
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.sa["fn:${each.key}"].email
    environment_variables            = local.function_env[each.key]
  }

  depends_on = [
    google_project_service.api,
    google_project_iam_member.project,
    google_storage_bucket_iam_member.build_source,
    google_artifact_registry_repository_iam_member.build,
    google_project_iam_member.build_staged_sources,
  ]
}
