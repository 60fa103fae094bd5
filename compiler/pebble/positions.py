"""Where a Pebble template sits in its YAML file, and the mapping of template offsets to file line:col."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ScalarStyle = Literal["plain", "single", "double", "literal", "folded"]


@dataclass(frozen=True, slots=True)
class Origin:
    """The YAML scalar a template came from.

    `line`/`col` (1-based) are where the scalar node starts in the file: its first character for a plain
    scalar, the opening quote for a quoted one, the `|`/`>` indicator for a block scalar. `block_indent`
    is the column (0-based) where a block scalar's content lines start, when the caller knows it.
    The mapping is exact for one-line plain scalars and block scalars, and approximate for quoted
    scalars with escapes or folded multi-line flow scalars.
    """

    path: str = "<expression>"
    line: int = 1
    col: int = 1
    style: ScalarStyle = "plain"
    block_indent: int | None = None

    def locate(self, text: str, offset: int) -> tuple[int, int]:
        """File (line, col) of character `offset` of the scalar's value `text`."""
        offset = max(0, min(offset, len(text)))
        newlines = text.count("\n", 0, offset)
        line_start = text.rfind("\n", 0, offset) + 1
        in_line = offset - line_start
        if self.style in ("literal", "folded"):
            indent = self.block_indent if self.block_indent is not None else self.col - 1
            return self.line + 1 + newlines, indent + 1 + in_line
        if newlines == 0:
            quote = 1 if self.style in ("single", "double") else 0
            return self.line, self.col + quote + in_line
        # Continuation lines of a multi-line flow scalar: the indentation is not in the value; best effort.
        return self.line + newlines, self.col + in_line
