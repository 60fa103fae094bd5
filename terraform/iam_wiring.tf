# Who may do what: every service account of the deployment and every role it holds, as pure maps keyed for
# for_each (see iam.tf for the resources). A principal is "fn:<function>", "wf:<workflow id>", "jobs",
# "scheduler" or "build". Nothing here is project-wide unless the permission cannot be granted lower.

locals {
  service_accounts = merge(
    {
      for fn in local.functions : "fn:${fn}" => {
        account_id  = "${var.name_prefix}-fn-${fn}"
        description = "Runs the ${fn} function of ${var.name_prefix}."
      }
    },
    {
      for id in local.workflow_ids : "wf:${id}" => {
        account_id = format("%s-wf-%s-%s", var.name_prefix,
          trim(substr(local.slug[id], 0, 19 - length(var.name_prefix)), "-"),
        substr(sha1("${var.name_prefix}/${id}"), 0, 6))
        description = "Runs the workflow ${id}."
      }
    },
    length(local.images) > 0 ? {
      jobs = { account_id = "${var.name_prefix}-jobs", description = "Runs the script task jobs of ${var.name_prefix}." }
    } : {},
    length(local.schedules) > 0 ? {
      scheduler = { account_id = "${var.name_prefix}-scheduler", description = "Calls the trigger function of ${var.name_prefix} on schedule." }
    } : {},
    length(local.functions) > 0 ? {
      build = { account_id = "${var.name_prefix}-build", description = "Builds the functions of ${var.name_prefix}." }
    } : {},
  )

  # Functions that read and write execution files under gs://<state bucket>/executions/.
  execution_file_functions = setintersection(local.functions, toset(["download", "gcs", "postgres", "bigquery", "duckdb", "purge"]))

  # Project-level roles: only those that exist nowhere lower.
  project_roles = { for g in concat(
    # BigQuery jobs are created in the project.
    contains(local.functions, "bigquery") ? [{ principal = "fn:bigquery", role = "roles/bigquery.jobUser" }] : [],
    # The trigger function creates executions and counts the running ones (concurrency); Workflows has no
    # per-workflow IAM.
    contains(local.functions, "trigger") ? [
      { principal = "fn:trigger", role = "roles/workflows.invoker" },
      { principal = "fn:trigger", role = "roles/workflows.viewer" },
    ] : [],
    # sys.log and call logs.
    [for id in local.workflow_ids : { principal = "wf:${id}", role = "roles/logging.logWriter" }],
    # Subflows and downstream flows.
    [for id in local.workflow_ids : { principal = "wf:${id}", role = "roles/workflows.invoker" } if local.workflow_starts_workflows[id]],
    # Polling the jobs.run long-running operation (custom role: run.operations.get, run.executions.get).
    [for id in local.workflow_ids : { principal = "wf:${id}", role = "custom:runOperationsReader" } if length(local.flow_images[id]) > 0],
    length(local.functions) > 0 ? [{ principal = "build", role = "roles/logging.logWriter" }] : [],
  ) : "${g.principal}|${g.role}" => g }

  # State bucket, each grant limited to one prefix by an IAM condition.
  state_bucket_roles = { for g in concat(
    [for fn in local.execution_file_functions : { principal = "fn:${fn}", role = "roles/storage.objectUser", prefix = "executions/" }],
    contains(local.functions, "kv") ? [{ principal = "fn:kv", role = "roles/storage.objectUser", prefix = "kv/" }] : [],
    length(local.images) > 0 ? [
      { principal = "jobs", role = "roles/storage.objectUser", prefix = "executions/" },
      { principal = "jobs", role = "roles/storage.objectViewer", prefix = "runner/" },
    ] : [],
    # A workflow with script tasks reads the job's outputs document itself.
    [for id in local.workflow_ids : { principal = "wf:${id}", role = "roles/storage.objectViewer", prefix = "executions/" } if length(local.flow_images[id]) > 0],
  ) : "${g.principal}|${g.role}|${g.prefix}" => g }

  # Buckets the flows name (Upload/Download/Copy/Delete/List/CreateBucket; BigQuery loads and external tables).
  user_bucket_roles = { for g in flatten([
    for b in keys(local.user_buckets) : concat(
      contains(local.functions, "gcs") ? [
        { bucket = b, principal = "fn:gcs", role = "roles/storage.objectUser" },
        { bucket = b, principal = "fn:gcs", role = "roles/storage.legacyBucketReader" },
      ] : [],
      contains(local.functions, "bigquery") ? [{ bucket = b, principal = "fn:bigquery", role = "roles/storage.objectViewer" }] : [],
    )
  ]) : "${g.bucket}|${g.principal}|${g.role}" => g }

  dataset_roles = {
    for key, d in local.user_datasets : "${key}|fn:bigquery|roles/bigquery.dataEditor" => {
      dataset = key, principal = "fn:bigquery", role = "roles/bigquery.dataEditor"
    } if contains(local.functions, "bigquery")
  }

  # Secret accessors: a flow's secret to each function that flow calls (functions resolve {{secret:NAME}}
  # markers in task properties), and to the jobs if the flow has script tasks; Postgres connection secrets
  # to the postgres function only.
  secret_roles = merge(
    { for pair in distinct(flatten([
      for id in local.workflow_ids : concat(
        [for fn in local.flow_functions[id] : [for s in local.flow_secrets[id] : "${s}|fn:${fn}"] if fn != "trigger" && contains(local.functions, fn)],
        length(local.flow_images[id]) > 0 ? [for s in local.flow_secrets[id] : "${s}|jobs"] : [],
      )
      ])) : pair => { secret = split("|", pair)[0], principal = split("|", pair)[1], managed = true }
    },
    contains(local.functions, "postgres") ? {
      for k, id in local.pg_secrets : "${id}|fn:postgres" => {
        secret = id, principal = "fn:postgres", managed = contains(keys(local.pg_created_secrets), k)
      }
    } : {},
  )

  # roles/run.invoker on a function: exactly the workflows that call it, and the scheduler on trigger.
  function_invokers = merge(
    { for pair in flatten([
      for id in local.workflow_ids : [for fn in local.flow_functions[id] : { fn = fn, principal = "wf:${id}" } if contains(local.functions, fn)]
    ]) : "${pair.fn}|${pair.principal}" => pair },
    length(local.schedules) > 0 ? { "trigger|scheduler" = { fn = "trigger", principal = "scheduler" } } : {},
  )

  # roles/run.jobsExecutorWithOverrides on a job: exactly the workflows that use its image.
  job_executors = { for pair in flatten([
    for id in local.workflow_ids : [for k, image in local.flow_images[id] : { job = k, principal = "wf:${id}" }]
  ]) : "${pair.job}|${pair.principal}" => pair }
}
