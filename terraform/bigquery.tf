# BigQuery datasets the flows create with constant names (CreateDataset), plus extra_datasets.

resource "google_bigquery_dataset" "user" {
  #checkov:skip=CKV_GCP_81:Google-managed encryption by default; set default_encryption_configuration where CMEK is required.
  for_each = local.user_datasets

  project                    = each.value.project
  dataset_id                 = each.value.dataset
  location                   = each.value.location
  delete_contents_on_destroy = !var.deletion_protection

  depends_on = [google_project_service.api]
}
