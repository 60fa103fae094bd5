"""ISO-8601 durations as Kestra writes them (`PT30S`, `P1D`, `PT1H30M`) -> seconds."""

from __future__ import annotations

import re
from datetime import timedelta

from kfn.errors import TaskError

_ISO = re.compile(
    r"^P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(value: object, what: str) -> timedelta:
    """Parse an ISO-8601 duration (or a number of seconds); raise TaskError naming `what` otherwise."""
    if isinstance(value, bool):
        raise TaskError(f"{what}: expected an ISO-8601 duration, got {value!r}")
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    text = str(value).strip().upper()
    match = _ISO.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise TaskError(f"{what}: {value!r} is not an ISO-8601 duration (e.g. PT30S, P1D)")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return timedelta(**parts)
