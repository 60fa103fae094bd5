"""The Workflows standard library: every function, registered by dotted name in `FUNCTIONS`.

Each function receives the execution runtime first, then the Workflows arguments (positionally from an
expression, by name from a `call` step). Functions never mutate their arguments."""

from __future__ import annotations

from kestra_gcp.engine.stdlib.registry import FUNCTIONS, Builtin, builtin

# Import the modules for their registrations.
from kestra_gcp.engine.stdlib import (  # noqa: F401  isort: skip
    core,
    codecs,
    collections,
    textlib,
    timelib,
    syslib,
    httplib,
    retrylib,
)

__all__ = ["FUNCTIONS", "Builtin", "builtin"]
