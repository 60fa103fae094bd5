"""Local stand-ins for Google Cloud services that have no official emulator (BigQuery).

Each stand-in speaks the service's REST API closely enough for the unchanged Google client
library, so the same function code runs against it locally and against the real service in the cloud.
"""
