"""Diagnostics: one problem found in a flow file, with its position, and a collector for them.

Every stage of the compiler reports problems as `Diagnostic`s rather than raising, so that all problems of
a file are shown at once. `Diagnostic.format()` gives the canonical `path:line:col: error: message` line.
Lines and columns are 1-based.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How bad a diagnostic is: errors fail validation, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem at one place of a flow file (1-based line and column; 0 when unknown)."""

    path: str
    line: int
    col: int
    message: str
    severity: Severity = Severity.ERROR

    def format(self) -> str:
        """`path:line:col: error: message`, the form printed by the CLI."""
        return f"{self.path}:{self.line}:{self.col}: {self.severity.value}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        """The machine-readable form used by `validate --format json`."""
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "severity": self.severity.value,
            "message": self.message,
        }

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.col, self.message)


@dataclass
class Diagnostics:
    """An ordered, de-duplicated collection of diagnostics for one or more files."""

    items: list[Diagnostic] = field(default_factory=list)
    _seen: set[Diagnostic] = field(default_factory=set, repr=False)

    def add(self, diag: Diagnostic) -> None:
        if diag not in self._seen:
            self._seen.add(diag)
            self.items.append(diag)

    def error(self, path: str, line: int, col: int, message: str) -> None:
        self.add(Diagnostic(path, line, col, message, Severity.ERROR))

    def warning(self, path: str, line: int, col: int, message: str) -> None:
        self.add(Diagnostic(path, line, col, message, Severity.WARNING))

    def extend(self, diags: list[Diagnostic]) -> None:
        for d in diags:
            self.add(d)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=Diagnostic.sort_key)


def did_you_mean(name: str, candidates: list[str] | set[str], limit: int = 3) -> str:
    """A ` (did you mean X?)` suffix naming the closest candidates, or '' when none is close."""
    import difflib

    close = difflib.get_close_matches(name, sorted(candidates), n=limit, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)"
