# Service accounts and their grants, driven by the maps in iam_wiring.tf. No binding here names a public
# principal; every grant goes to one of the deployment's own service accounts.

resource "google_service_account" "sa" {
  for_each = local.service_accounts

  account_id   = each.value.account_id
  display_name = substr("${var.name_prefix} ${each.key}", 0, 100)
  description  = each.value.description

  depends_on = [google_project_service.api]
}

# Polling a Cloud Run jobs.run operation needs run.operations.get, which no role grants below the project.
resource "google_project_iam_custom_role" "run_operations_reader" {
  count = length(local.images) > 0 ? 1 : 0

  role_id     = "${replace(var.name_prefix, "-", "_")}_runOperationsReader"
  title       = "${var.name_prefix} Cloud Run operations reader"
  description = "Read Cloud Run operations and executions (to wait for a script task job)."
  permissions = ["run.operations.get", "run.executions.get"]
}

resource "google_project_iam_member" "project" {
  for_each = local.project_roles

  project = var.project_id
  role    = each.value.role == "custom:runOperationsReader" ? google_project_iam_custom_role.run_operations_reader[0].name : each.value.role
  member  = google_service_account.sa[each.value.principal].member
}

resource "google_storage_bucket_iam_member" "state" {
  for_each = local.state_bucket_roles

  bucket = google_storage_bucket.state.name
  role   = each.value.role
  member = google_service_account.sa[each.value.principal].member

  # Bucket-level calls (list) pass the first test; object calls only under the prefix.
  condition {
    title       = "only ${each.value.prefix}"
    description = "Objects under gs://${local.state_bucket}/${each.value.prefix} only."
    expression  = "resource.type != \"storage.googleapis.com/Object\" || resource.name.startsWith(\"projects/_/buckets/${local.state_bucket}/objects/${each.value.prefix}\")"
  }
}

resource "google_storage_bucket_iam_member" "user" {
  for_each = local.user_bucket_roles

  bucket = google_storage_bucket.user[each.value.bucket].name
  role   = each.value.role
  member = google_service_account.sa[each.value.principal].member
}

resource "google_bigquery_dataset_iam_member" "user" {
  for_each = local.dataset_roles

  project    = google_bigquery_dataset.user[each.value.dataset].project
  dataset_id = google_bigquery_dataset.user[each.value.dataset].dataset_id
  role       = each.value.role
  member     = google_service_account.sa[each.value.principal].member
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = local.secret_roles

  project   = var.project_id
  secret_id = each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.sa[each.value.principal].member

  depends_on = [google_secret_manager_secret.flow, google_secret_manager_secret.postgres]
}

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = local.function_invokers

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.value.fn].name
  role     = "roles/run.invoker"
  member   = google_service_account.sa[each.value.principal].member
}

resource "google_cloud_run_v2_job_iam_member" "executor" {
  for_each = local.job_executors

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.script[each.value.job].name
  role     = "roles/run.jobsExecutorWithOverrides"
  member   = google_service_account.sa[each.value.principal].member
}

# ---- the build service account (Cloud Build, building the functions' images) ------------------------------

resource "google_storage_bucket_iam_member" "build_source" {
  count = length(local.functions) > 0 ? 1 : 0

  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.sa["build"].member
}

# Cloud Run functions stage the source in their own gcf-v2-sources-* bucket before building.
resource "google_project_iam_member" "build_staged_sources" {
  count = length(local.functions) > 0 ? 1 : 0

  project = var.project_id
  role    = "roles/storage.objectViewer"
  member  = google_service_account.sa["build"].member

  condition {
    title       = "function sources only"
    description = "The gcf-v2-sources-* staging buckets of Cloud Run functions."
    expression  = "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-\")"
  }
}

resource "google_artifact_registry_repository_iam_member" "build" {
  count = length(local.functions) > 0 ? 1 : 0

  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.functions[0].name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.sa["build"].member
}
