# Reads the compiler's output (build/manifest.json, build/schedules.json, build/workflows/*.yaml) and derives
# every set and map the resources iterate over: names, environments and every IAM grant.
# Pure on purpose (variables and files only, no resource attribute), so the test suite evaluates it with
# Terraform alone and asserts the least-privilege wiring without a cloud.

locals {
  all_functions = ["download", "gcs", "postgres", "bigquery", "duckdb", "kv", "purge", "trigger"]

  build_dir = startswith(var.build_dir, "/") ? var.build_dir : "${path.module}/${var.build_dir}"
  manifest  = jsondecode(file("${local.build_dir}/manifest.json"))
  flows     = local.manifest.flows
  schedules = { for s in jsondecode(file("${local.build_dir}/schedules.json")) : s.name => s }
  # A disabled flow keeps its schedules, paused.
  schedule_paused = {
    for name, s in local.schedules : name => s.paused || try(local.flows[s.workflow].disabled, false) == true
  }

  # Workflow id => source, one per compiled file. file(), never a template function: Workflows' own ${...}
  # expressions must reach the API untouched.
  workflow_sources = {
    for f in fileset("${local.build_dir}/workflows", "*.yaml") :
    trimsuffix(f, ".yaml") => file("${local.build_dir}/workflows/${f}")
  }
  workflow_ids = sort(keys(local.workflow_sources))

  # ---- names ------------------------------------------------------------------------------------------
  state_bucket  = "${var.project_id}-${var.name_prefix}-state"
  source_bucket = "${var.project_id}-${var.name_prefix}-src"
  slug          = { for id in local.workflow_ids : id => lower(replace(id, "/[^A-Za-z0-9]+/", "-")) }

  # ---- functions --------------------------------------------------------------------------------------
  flow_functions = { for id in local.workflow_ids : id => sort(distinct(try(local.flows[id].functions, []))) }
  functions_used = toset(concat(
    flatten(values(local.flow_functions)),
    length(local.schedules) > 0 ? ["trigger"] : [],
  ))
  functions      = setintersection(local.functions_used, toset(local.all_functions))
  function_names = { for fn in local.functions : fn => "${var.name_prefix}-${fn}" }

  function_resources = {
    for fn in local.functions : fn => {
      memory          = coalesce(try(var.function_overrides[fn].memory, null), var.function_memory)
      cpu             = coalesce(try(var.function_overrides[fn].cpu, null), var.function_cpu)
      timeout_seconds = coalesce(try(var.function_overrides[fn].timeout_seconds, null), var.function_timeout_seconds)
      max_instances   = coalesce(try(var.function_overrides[fn].max_instances, null), var.function_max_instances)
    }
  }

  # ---- script task jobs (one per distinct image) ------------------------------------------------------
  flow_images = { for id in local.workflow_ids : id => { for i in try(local.flows[id].images, []) : i.key => i.image } }
  images      = merge(values(local.flow_images)...)
  job_names   = { for k, image in local.images : k => trim(substr("${var.name_prefix}-job-${k}", 0, 63), "-") }
  job_env     = { for k, image in local.images : k => "KESTRA_GCP_JOB_${upper(replace(k, "-", "_"))}" }

  # ---- workflow environment: variable name => function / job key ---------------------------------------
  workflow_env_functions = {
    for id in local.workflow_ids : id => { for fn in local.flow_functions[id] : "KESTRA_GCP_FN_${upper(fn)}" => fn }
  }
  workflow_env_jobs = {
    for id in local.workflow_ids : id => { for k, image in local.flow_images[id] : local.job_env[k] => k }
  }
  workflow_starts_workflows = {
    for id in local.workflow_ids :
    id => length(try(local.flows[id].subflows, [])) + length(try(local.flows[id].downstream, [])) > 0
  }

  # ---- secrets ----------------------------------------------------------------------------------------
  flow_secrets = { for id in local.workflow_ids : id => sort(distinct(try(local.flows[id].secrets, []))) }
  secret_names = toset(flatten(values(local.flow_secrets)))

  pg_keys = toset(flatten([for id in local.workflow_ids : [for p in try(local.flows[id].postgres, []) : p.key]]))
  pg_created_secrets = {
    for k in local.pg_keys :
    k => "${var.name_prefix}-pg-${trim(lower(replace(k, "/[^A-Za-z0-9]+/", "-")), "-")}"
    if !contains(keys(var.postgres_connections), k)
  }
  pg_secrets         = merge(local.pg_created_secrets, var.postgres_connections)
  pg_connections_env = jsonencode({ for k, id in local.pg_secrets : k => "secret:${id}" })

  # ---- buckets and datasets owned by Terraform --------------------------------------------------------
  constant_buckets = {
    for name, locations in {
      for b in flatten([for id in local.workflow_ids : try(local.flows[id].buckets, [])]) :
      b.name => coalesce(try(b.location, null), "US")... if b.constant
    } : name => locations[0]
  }
  user_buckets = merge(local.constant_buckets, var.extra_buckets)

  constant_datasets = {
    for key, items in {
      for d in flatten([for id in local.workflow_ids : try(local.flows[id].datasets, [])]) :
      "${try(coalesce(d.project, var.project_id), var.project_id)}.${d.dataset}" => {
        project  = try(coalesce(d.project, var.project_id), var.project_id)
        dataset  = d.dataset
        location = coalesce(try(d.location, null), "US")
      }... if d.constant
    } : key => items[0]
  }
  user_datasets = merge(local.constant_datasets, {
    for ds, location in var.extra_datasets :
    "${var.project_id}.${ds}" => { project = var.project_id, dataset = ds, location = location }
  })

  runtime_named = sort(distinct(flatten([
    for id in local.workflow_ids : [
      for r in concat(try(local.flows[id].buckets, []), try(local.flows[id].datasets, [])) : id if !r.constant
    ]
  ])))

  # ---- KV seeds and KV keys read but never written ----------------------------------------------------
  kv_objects = {
    for k, v in var.kv_seeds : "kv/${k}" => jsonencode({ value = v.value, type = try(v.type, "STRING"), expiresAt = null })
  }
  kv_written = toset(flatten([
    for id in local.workflow_ids : [for r in try(local.flows[id].kv.write, []) : "${r.namespace}/${r.key}"]
  ]))
  kv_unset = sort(distinct(flatten([
    for id in local.workflow_ids : [
      for r in try(local.flows[id].kv.read, []) : "${r.namespace}/${r.key}"
      if !contains(local.kv_written, "${r.namespace}/${r.key}") && !contains(keys(var.kv_seeds), "${r.namespace}/${r.key}")
    ]
  ])))

  # ---- function environments ---------------------------------------------------------------------
  function_env = {
    for fn in local.functions : fn => merge(
      {
        KESTRA_GCP_BUCKET    = local.state_bucket
        GOOGLE_CLOUD_PROJECT = var.project_id
        KESTRA_GCP_REGION    = var.region
      },
      fn == "postgres" ? { KESTRA_GCP_PG_CONNECTIONS = local.pg_connections_env } : {},
      fn == "download" && length(var.download_allow_cidrs) > 0 ? { KESTRA_GCP_DOWNLOAD_ALLOW = join(",", var.download_allow_cidrs) } : {},
    )
  }

  # ---- the script runner shipped to gs://<state bucket>/runner/ ------------------------------------------
  runner_path = "${startswith(var.functions_dir, "/") ? var.functions_dir : "${path.module}/${var.functions_dir}"}/runner/kestra_runner.py"
  ship_runner = length(local.images) > 0 && fileexists(local.runner_path)
}
