"""The `purge` function: core.storage.PurgeCurrentExecutionFiles — delete the execution's storage prefix."""

from __future__ import annotations

from typing import Any

from kfn import storage
from kfn.request import Call

MAX_REPORTED = 1000


def handle(call: Call) -> dict[str, Any]:
    """Delete every object under `executions/<namespace>/<flowId>/<execution id>/` (idempotent)."""
    from google.api_core import exceptions as gexc

    bucket = storage.state_bucket()
    prefix = storage.execution_prefix(call.need_execution())
    client = storage.client()
    reported: list[str] = []  # Cloud Storage lists in name order: the first ones are the smallest
    count = 0
    for blob in client.list_blobs(bucket, prefix=prefix):
        try:
            blob.delete()
        except gexc.NotFound:  # deleted by a concurrent attempt: same end state
            continue
        count += 1
        if len(reported) < MAX_REPORTED:
            reported.append(f"gs://{bucket}/{blob.name}")
    return {"uris": sorted(reported), "count": count}
