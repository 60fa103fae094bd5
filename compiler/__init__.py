"""Kestra YAML -> Cloud Workflows, Cloud Scheduler jobs and a manifest. Pure: no network, no cloud SDK."""
