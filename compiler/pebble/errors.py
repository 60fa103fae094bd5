"""The error raised for a template that cannot be parsed or compiled: a message and a template offset."""

from __future__ import annotations


class PebbleError(Exception):
    """A problem at offset `pos` of the template text (mapped to file line:col by the caller's Origin)."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
