"""A minimal Workflow Executions v1 REST client (create, list): what the trigger function needs.

The google-cloud-workflows package ships only gRPC transports for executions, and the local engine
exposes the REST API, so this speaks REST for both: on GCP to workflowexecutions.googleapis.com with
the instance's default credentials, locally to `KESTRA_GCP_WORKFLOWS_ENDPOINT` without credentials.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import requests

from kfn.errors import FunctionError, TaskError, from_status

DEFAULT_ENDPOINT = "https://workflowexecutions.googleapis.com"
ACTIVE_STATES = ("ACTIVE", "QUEUED")
TIMEOUT = (10, 60)

_session: requests.Session | None = None
_lock = threading.Lock()


def endpoint() -> str:
    return (os.environ.get("KESTRA_GCP_WORKFLOWS_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def session() -> requests.Session:
    """An authorised session on GCP; a plain one when an endpoint override is set (local engine)."""
    global _session
    with _lock:
        if _session is None:
            if os.environ.get("KESTRA_GCP_WORKFLOWS_ENDPOINT"):
                _session = requests.Session()
            else:
                import google.auth
                from google.auth.transport.requests import AuthorizedSession

                credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
                _session = AuthorizedSession(credentials)
        return _session


def reset() -> None:
    """Close and forget the session (tests switching endpoints)."""
    global _session
    with _lock:
        if _session is not None:
            _session.close()
        _session = None


def workflow_name(workflow: str) -> str:
    project = os.environ.get("GOOGLE_CLOUD_PROJECT")
    region = os.environ.get("KESTRA_GCP_REGION")
    if not project or not region:
        raise FunctionError("GOOGLE_CLOUD_PROJECT and KESTRA_GCP_REGION must be set (function misconfigured)")
    return f"projects/{project}/locations/{region}/workflows/{workflow}"


def _check(response: requests.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text
        text = f"{what} returned {response.status_code}: {' '.join(str(message).split())[:200]}"
        raise from_status(response.status_code, text)
    try:
        data = response.json()
    except ValueError:
        raise TaskError(f"{what} returned a non-JSON body") from None
    return data if isinstance(data, dict) else {}


def list_active(workflow: str) -> list[dict[str, Any]]:
    """Executions of `workflow` in state ACTIVE or QUEUED (filtered server-side and checked here)."""
    parent = workflow_name(workflow)
    url = f"{endpoint()}/v1/{parent}/executions"
    params: dict[str, Any] = {"filter": 'state="ACTIVE" OR state="QUEUED"', "pageSize": 1000}
    found: list[dict[str, Any]] = []
    while True:
        data = _check(session().get(url, params=params, timeout=TIMEOUT), f"list executions of {workflow}")
        found.extend(e for e in data.get("executions", []) if e.get("state") in ACTIVE_STATES)
        token = data.get("nextPageToken")
        if not token:
            return found
        params["pageToken"] = token


def create(workflow: str, argument: str, labels: dict[str, str]) -> dict[str, Any]:
    """Start an execution; `argument` is the JSON-encoded argument string."""
    url = f"{endpoint()}/v1/{workflow_name(workflow)}/executions"
    body = {"argument": argument, "labels": labels}
    return _check(session().post(url, json=body, timeout=TIMEOUT), f"create execution of {workflow}")
