# Inputs of the deployment. Only project_id is required; everything else has a working default.

variable "project_id" {
  description = "Google Cloud project to deploy into (billing enabled)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id: 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region of the functions, workflows, jobs, scheduler jobs and the state bucket."
  type        = string
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource this deployment names itself (functions, service accounts, buckets, jobs). Workflow names are the compiled ids, unprefixed, as the compiler and the trigger function expect."
  type        = string
  default     = "kestra"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,10}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 2-12 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen (it goes into 30-character service account ids)."
  }
}

variable "build_dir" {
  description = "Directory written by `kestra-gcp compile flows/ -o <dir>` (holds manifest.json, schedules.json, workflows/). Relative paths are taken from the terraform/ directory."
  type        = string
  default     = "../build"
}

variable "functions_dir" {
  description = "Source of the Cloud Run functions (main.py and requirements.txt at its root)."
  type        = string
  default     = "../functions"
}

variable "deletion_protection" {
  description = "Protect workflows, Cloud Run jobs, buckets and datasets from `terraform destroy`. Set false (and apply) before tearing down."
  type        = bool
  default     = true
}

variable "python_runtime" {
  description = "Cloud Run functions runtime of the functions."
  type        = string
  default     = "python312"

  validation {
    condition     = can(regex("^python3[0-9]{2}$", var.python_runtime))
    error_message = "python_runtime must be a Python runtime id such as python312."
  }
}

variable "function_memory" {
  description = "Default memory of a function instance (a function's /tmp is memory too)."
  type        = string
  default     = "1Gi"

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.function_memory))
    error_message = "function_memory must look like 512Mi or 2Gi."
  }
}

variable "function_cpu" {
  description = "Default vCPUs of a function instance."
  type        = string
  default     = "1"

  validation {
    condition     = contains(["1", "2", "4", "6", "8"], var.function_cpu)
    error_message = "function_cpu must be one of 1, 2, 4, 6, 8."
  }
}

variable "function_timeout_seconds" {
  description = "Default request timeout of a function. Workflows waits at most 1800 s for an HTTP call."
  type        = number
  default     = 1800

  validation {
    condition     = var.function_timeout_seconds >= 1 && var.function_timeout_seconds <= 1800
    error_message = "function_timeout_seconds must be between 1 and 1800 (the Workflows HTTP call limit)."
  }
}

variable "function_max_instances" {
  description = "Default maximum number of instances of a function."
  type        = number
  default     = 10

  validation {
    condition     = var.function_max_instances >= 1 && var.function_max_instances <= 1000
    error_message = "function_max_instances must be between 1 and 1000."
  }
}

variable "function_overrides" {
  description = "Per-function overrides of memory, cpu, timeout_seconds, max_instances, keyed by entry point (download, gcs, postgres, bigquery, duckdb, kv, purge, trigger)."
  type = map(object({
    memory          = optional(string)
    cpu             = optional(string)
    timeout_seconds = optional(number)
    max_instances   = optional(number)
  }))
  default = {
    duckdb  = { memory = "2Gi", cpu = "2" }
    kv      = { memory = "512Mi", timeout_seconds = 60 }
    purge   = { memory = "512Mi", timeout_seconds = 300 }
    trigger = { memory = "512Mi", timeout_seconds = 60 }
  }

  validation {
    condition = alltrue([
      for name in keys(var.function_overrides) :
      contains(["download", "gcs", "postgres", "bigquery", "duckdb", "kv", "purge", "trigger"], name)
    ])
    error_message = "function_overrides keys must be function entry points: download, gcs, postgres, bigquery, duckdb, kv, purge, trigger."
  }
}

variable "job_memory" {
  description = "Memory of a script task's Cloud Run job."
  type        = string
  default     = "2Gi"
}

variable "job_cpu" {
  description = "vCPUs of a script task's Cloud Run job."
  type        = string
  default     = "1"
}

variable "job_timeout_seconds" {
  description = "Maximum duration of one script task run (Cloud Run job task timeout)."
  type        = number
  default     = 3600

  validation {
    condition     = var.job_timeout_seconds >= 60 && var.job_timeout_seconds <= 86400
    error_message = "job_timeout_seconds must be between 60 and 86400."
  }
}

variable "execution_retention_days" {
  description = "Days after which execution files (gs://<state bucket>/executions/...) are deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.execution_retention_days >= 1
    error_message = "execution_retention_days must be at least 1."
  }
}

variable "postgres_connections" {
  description = "Where each Postgres host:port named in the flows really points, as the name of an existing Secret Manager secret holding a postgresql:// URL. Keys not given here get a secret created by Terraform (named <prefix>-pg-<host>-<port>), whose value you add with `gcloud secrets versions add`."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.postgres_connections : can(regex("^[^:]+:[0-9]+$", k)) && can(regex("^[A-Za-z0-9_-]{1,255}$", v))])
    error_message = "postgres_connections maps host:port to a Secret Manager secret id ([A-Za-z0-9_-])."
  }
}

variable "download_allow_cidrs" {
  description = "Private CIDRs the download function may reach (by default it refuses private addresses)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.download_allow_cidrs : can(cidrhost(c, 0))])
    error_message = "download_allow_cidrs must be CIDRs such as 10.0.0.0/8."
  }
}

variable "extra_buckets" {
  description = "Buckets whose names the flows compute at run time (non-constant in the manifest, e.g. from kv()): name => location. Terraform creates them and grants the functions access, as for constant ones."
  type        = map(string)
  default     = {}
}

variable "extra_datasets" {
  description = "BigQuery datasets (in project_id) whose names the flows compute at run time: dataset id => location."
  type        = map(string)
  default     = {}
}

variable "kv_seeds" {
  description = "KV values to create before the first run, keyed \"<namespace>/<key>\": { value, type } with type one of STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION, JSON. Not for secrets."
  # `any`, not map(object(...)): values of different types (a number, a string) must not be unified.
  type    = any
  default = {}

  validation {
    condition = can(keys(var.kv_seeds)) && alltrue([
      for k, v in var.kv_seeds :
      can(regex("^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$", k)) && can(v.value) &&
      contains(["STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON"], try(v.type, "STRING"))
    ])
    error_message = "kv_seeds entries are \"<namespace>/<key>\" = { value = ..., type = ... } with type one of STRING (default), NUMBER, BOOLEAN, DATETIME, DATE, DURATION, JSON."
  }
}

variable "scheduler_retry_count" {
  description = "How many times Cloud Scheduler retries a failed call of the trigger function (0-5)."
  type        = number
  default     = 3

  validation {
    condition     = var.scheduler_retry_count >= 0 && var.scheduler_retry_count <= 5
    error_message = "scheduler_retry_count must be between 0 and 5."
  }
}

variable "alert_email" {
  description = "Optional e-mail address notified when a workflow execution fails. Empty: no alerting."
  type        = string
  default     = ""

  validation {
    condition     = var.alert_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be empty or an e-mail address."
  }
}
