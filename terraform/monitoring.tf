# Optional alerting: an e-mail when a workflow execution of this project fails (alert_email set).

resource "google_monitoring_notification_channel" "email" {
  count = var.alert_email == "" ? 0 : 1

  display_name = "${var.name_prefix} workflow failures"
  type         = "email"
  labels       = { email_address = var.alert_email }

  depends_on = [google_project_service.api]
}

resource "google_monitoring_alert_policy" "workflow_failed" {
  count = var.alert_email == "" || length(local.workflow_ids) == 0 ? 0 : 1

  display_name          = "${var.name_prefix}: a workflow execution failed"
  combiner              = "OR"
  notification_channels = [google_monitoring_notification_channel.email[0].id]

  conditions {
    display_name = "Workflows error log"
    condition_matched_log {
      filter = join(" AND ", [
        "resource.type=\"workflows.googleapis.com/Workflow\"",
        "severity>=ERROR",
        "resource.labels.workflow_id=(${join(" OR ", [for id in local.workflow_ids : "\"${id}\""])})",
      ])
      label_extractors = {
        workflow = "EXTRACT(resource.labels.workflow_id)"
      }
    }
  }

  alert_strategy {
    notification_rate_limit {
      period = "300s"
    }
    auto_close = "86400s"
  }

  documentation {
    content   = "A Kestra flow compiled by kestra-gcp failed. See `gcloud workflows executions list $${workflow} --location ${var.region}`."
    mime_type = "text/markdown"
  }
}
