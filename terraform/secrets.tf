# Secret Manager secrets: one per secret('NAME') in the flows, one per Postgres connection not mapped to an
# existing secret. Terraform creates the secrets only; their values are added out of band
# (`gcloud secrets versions add NAME --data-file=-`) so they are never in tfvars, plan or state.

resource "google_secret_manager_secret" "flow" {
  for_each = local.secret_names

  secret_id = each.key
  labels    = { kind = "flow-secret" }

  replication {
    auto {}
  }

  depends_on = [google_project_service.api]
}

resource "google_secret_manager_secret" "postgres" {
  for_each = local.pg_created_secrets

  secret_id = each.value
  labels    = { kind = "postgres-connection" }
  annotations = {
    "kestra-gcp/connection" = each.key
    "kestra-gcp/value"      = "a postgresql URL with user, password and database"
  }

  replication {
    auto {}
  }

  depends_on = [google_project_service.api]
}
