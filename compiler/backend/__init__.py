"""Back end: checked flows -> Cloud Workflows source, Cloud Scheduler jobs and the manifest."""
