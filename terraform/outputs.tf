# What a user needs after apply: where things are, and which secrets still need a value.

output "state_bucket" {
  description = "Bucket holding execution files (executions/), KV values (kv/) and the script runner (runner/)."
  value       = google_storage_bucket.state.name
}

output "workflows" {
  description = "Deployed workflows (run one with `gcloud workflows run <name> --location <region> --data='{\"inputs\": {...}}'`)."
  value       = { for id, wf in google_workflows_workflow.flow : id => wf.id }
}

output "function_urls" {
  description = "Internal URLs of the functions (ingress internal-only, OIDC required)."
  value       = { for fn, f in google_cloudfunctions2_function.fn : fn => f.service_config[0].uri }
}

output "script_jobs" {
  description = "Cloud Run jobs of the script tasks, by image key."
  value       = { for k, j in google_cloud_run_v2_job.script : k => j.id }
}

output "scheduler_jobs" {
  description = "Cloud Scheduler jobs, by schedule name."
  value       = { for name, j in google_cloud_scheduler_job.schedule : name => j.id }
}

output "service_accounts" {
  description = "Service account e-mail by principal (fn:<function>, wf:<workflow>, jobs, scheduler, build)."
  value       = { for k, sa in google_service_account.sa : k => sa.email }
}

output "secrets_to_fill" {
  description = "Secrets created without a value: add one with `printf %s VALUE | gcloud secrets versions add NAME --data-file=-` (Postgres ones take a postgresql:// URL)."
  value       = sort(concat(tolist(local.secret_names), values(local.pg_created_secrets)))
}
