# Secret Manager secrets: one per secret('NAME') in the flows, one per Postgres connection not mapped to an
# existing secret. Terraform creates the secrets only; their values are added out of band
# (`gcloud secrets versions add NAME --data-file=-`) so they are never in tfvars, plan or state.

resource "google_secret_manager_secret" "flow" {
  #checkov:skip=CKV_GCP_125:Google-managed encryption; CMEK (customer_managed_encryption) can be added per replica by users who need it.
  for_each = local.secret_names

  secret_id = each.key
  labels    = { kind = "flow-secret" }

  replication {
    auto {}
  }

  depends_on = [google_project_service.api]
}

resource "google_secret_manager_secret" "postgres" {
  #checkov:skip=CKV_GCP_125:Google-managed encryption; CMEK (customer_managed_encryption) can be added per replica by users who need it.
  for_each = local.pg_created_secrets

  secret_id = each.value
  labels    = { kind = "postgres-connection" }
  annotations = {
    "kestra-gcp/connection" = each.key
    "kestra-gcp/value"      = "postgresql://USER:PASSWORD@HOST:PORT/DB"
  }

  replication {
    auto {}
  }

  depends_on = [google_project_service.api]
}
