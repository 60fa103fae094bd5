"""Structured log lines for Cloud Logging (one JSON object per line on stderr), secrets redacted."""

from __future__ import annotations

import json
import sys
from typing import Any

from kfn.secrets import redact, redact_text


def log(severity: str, message: str, **fields: Any) -> None:
    """Write one log entry; `fields` become structured payload keys."""
    entry = {"severity": severity, "message": redact_text(message), **redact(fields)}
    sys.stderr.write(json.dumps(entry, default=str) + "\n")
    sys.stderr.flush()
