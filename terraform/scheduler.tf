# One Cloud Scheduler job per Schedule trigger (build/schedules.json). It POSTs the entry's body to the
# trigger function with an OIDC token; the function reads X-CloudScheduler-ScheduleTime (so trigger.date is
# the cron tick), applies the flow's concurrency and starts the workflow.

locals {
  # The run.app URI (not the cloudfunctions.net URL): the one internal-only ingress admits from Google
  # services of the project, and the OIDC audience Cloud Run checks.
  trigger_uri = length(local.schedules) > 0 ? google_cloudfunctions2_function.fn["trigger"].service_config[0].uri : null
}

resource "google_cloud_scheduler_job" "schedule" {
  for_each = local.schedules

  name             = substr("${var.name_prefix}-${each.key}", 0, 500)
  region           = var.region
  description      = substr("Kestra trigger ${each.value.namespace}.${each.value.flowId}/${each.value.triggerId}", 0, 500)
  schedule         = each.value.cron
  time_zone        = each.value.timeZone
  paused           = local.schedule_paused[each.key]
  attempt_deadline = "180s"

  retry_config {
    retry_count          = var.scheduler_retry_count
    min_backoff_duration = "10s"
    max_backoff_duration = "300s"
    max_doublings        = 3
  }

  http_target {
    http_method = "POST"
    uri         = local.trigger_uri
    body        = base64encode(jsonencode(each.value.body))
    headers     = { "Content-Type" = "application/json" }

    oidc_token {
      service_account_email = google_service_account.sa["scheduler"].email
      audience              = local.trigger_uri
    }
  }

  lifecycle {
    precondition {
      condition     = contains(keys(local.workflow_sources), each.value.workflow)
      error_message = "schedule ${each.key} targets workflow ${each.value.workflow}, which is not in build/workflows/."
    }
  }

  depends_on = [google_project_service.api, google_cloud_run_v2_service_iam_member.invoker]
}
