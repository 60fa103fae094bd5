# Warnings at plan time for what the compiled flows need but Terraform cannot create by itself.

check "kv_keys_have_values" {
  assert {
    condition     = length(local.kv_unset) == 0
    error_message = "The flows read KV keys that no flow writes and kv_seeds does not set: ${join(", ", local.kv_unset)}. Add them to kv_seeds or run the flow that sets them first."
  }
}

check "runtime_named_resources_declared" {
  assert {
    condition     = length(local.runtime_named) == 0 || length(var.extra_buckets) + length(var.extra_datasets) > 0
    error_message = "Flows ${join(", ", local.runtime_named)} create buckets or datasets whose names are known only at run time; declare them in extra_buckets / extra_datasets so that Terraform creates them and grants access."
  }
}

check "runner_shipped" {
  assert {
    condition     = length(local.images) == 0 || local.ship_runner
    error_message = "The flows have script tasks but ${local.runner_path} does not exist: their jobs cannot start."
  }
}
