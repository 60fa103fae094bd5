"""ISO-8601 durations as Kestra reads them (java.time.Duration.parse: `PnDTnHnMn.nS`), in seconds."""

from __future__ import annotations

import re

_DURATION = re.compile(
    r"^(?P<sign>[-+]?)P(?:(?P<d>[-+]?\d+)D)?"
    r"(?:T(?:(?P<h>[-+]?\d+)H)?(?:(?P<m>[-+]?\d+)M)?(?:(?P<s>[-+]?\d+(?:[.,]\d{0,9})?)S)?)?$",
    re.IGNORECASE,
)


def parse_duration(text: str) -> float | None:
    """Seconds in an ISO-8601 duration such as `PT10M` or `P1DT2H`; None when it is not one."""
    m = _DURATION.match(text.strip())
    if m is None or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        return None
    if not any(m.group(g) for g in ("d", "h", "m", "s")):
        return None
    total = (
        int(m.group("d") or 0) * 86400
        + int(m.group("h") or 0) * 3600
        + int(m.group("m") or 0) * 60
        + float((m.group("s") or "0").replace(",", "."))
    )
    return -total if m.group("sign") == "-" else total
