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

  lifecycle {
    precondition {
      condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", each.key))
      error_message = "secret('${each.key}'): Secret Manager ids are 1-255 letters, digits, '_' or '-'; rename the secret in the flow."
    }
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
