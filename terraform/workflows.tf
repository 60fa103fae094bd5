# One Cloud Workflows workflow per compiled file in build/workflows/, named by its compiled id, running as
# its own service account, with the URLs of the functions and jobs it calls in its environment.

resource "google_workflows_workflow" "flow" {
  for_each = local.workflow_sources

  name                = each.key
  region              = var.region
  description         = "Kestra flow ${try(local.flows[each.key].namespace, "?")}.${try(local.flows[each.key].id, "?")} (${try(local.flows[each.key].source, "?")})"
  service_account     = google_service_account.sa["wf:${each.key}"].id
  call_log_level      = "LOG_ERRORS_ONLY"
  deletion_protection = var.deletion_protection
  source_contents     = each.value

  user_env_vars = merge(
    { KESTRA_GCP_BUCKET = local.state_bucket },
    { for name, fn in local.workflow_env_functions[each.key] : name => google_cloudfunctions2_function.fn[fn].service_config[0].uri },
    { for name, key in local.workflow_env_jobs[each.key] : name => google_cloud_run_v2_job.script[key].id },
  )

  lifecycle {
    precondition {
      condition     = contains(keys(local.flows), each.key)
      error_message = "build/workflows/${each.key}.yaml has no entry in build/manifest.json: recompile with `kestra-gcp compile flows/ -o build/`."
    }
    precondition {
      condition     = length(each.value) <= 131072
      error_message = "workflow ${each.key}: the compiled source is ${length(each.value)} bytes, over the 128 KB Workflows limit."
    }
    precondition {
      condition     = 1 + length(local.workflow_env_functions[each.key]) + length(local.workflow_env_jobs[each.key]) <= 20
      error_message = "workflow ${each.key}: more than 20 environment variables (Workflows limit); split the flow."
    }
    precondition {
      condition     = length(setsubtract(toset(local.flow_functions[each.key]), toset(local.all_functions))) == 0
      error_message = "workflow ${each.key}: the manifest names unknown functions ${join(", ", setsubtract(toset(local.flow_functions[each.key]), toset(local.all_functions)))}."
    }
  }

  depends_on = [
    google_project_service.api,
    google_project_iam_member.project,
    google_cloud_run_v2_service_iam_member.invoker,
    google_cloud_run_v2_job_iam_member.executor,
    google_storage_bucket_iam_member.state,
  ]
}
