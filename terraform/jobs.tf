# Script tasks: one Cloud Run job per distinct container image of the flows (manifest.flows.*.images).
# The runner (functions/runner/kestra_runner.py, standard library only) is read from the state bucket,
# mounted read-only (Cloud Run mounts with implicit directories; the jobs' account may read only runner/ and
# executions/ there); the workflow passes the run spec as KESTRA_RUNNER_SPEC on each run.

resource "google_cloud_run_v2_job" "script" {
  for_each = local.images

  name                = local.job_names[each.key]
  location            = var.region
  deletion_protection = var.deletion_protection
  labels              = { image-key = substr(each.key, 0, 63) }

  template {
    task_count = 1

    template {
      service_account       = google_service_account.sa["jobs"].email
      timeout               = "${var.job_timeout_seconds}s"
      max_retries           = 0
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"

      containers {
        image   = each.value
        command = ["python3", "/kestra/state/runner/kestra_runner.py"]

        env {
          name  = "KESTRA_GCP_BUCKET"
          value = local.state_bucket
        }

        resources {
          limits = {
            cpu    = var.job_cpu
            memory = var.job_memory
          }
        }

        volume_mounts {
          name       = "state"
          mount_path = "/kestra/state"
        }
      }

      volumes {
        name = "state"
        gcs {
          bucket    = google_storage_bucket.state.name
          read_only = true
        }
      }
    }
  }

  depends_on = [
    google_project_service.api,
    google_storage_bucket_object.runner,
    google_storage_bucket_iam_member.state,
  ]
}
