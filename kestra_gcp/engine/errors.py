"""Workflows runtime errors: an exception carrying the error value (a map with `tags` and `message`, or any
value given to `raise`), plus constructors for the built-in tags and the deploy-time error type."""

from __future__ import annotations

from typing import Any

# Parent tags GCP adds to some built-in errors.
_PARENTS: dict[str, list[str]] = {
    "KeyError": ["LookupError"],
    "IndexError": ["LookupError"],
    "ZeroDivisionError": ["ArithmeticError"],
}


class WorkflowError(Exception):
    """An error raised inside a workflow; `value` is what `except: as: e` binds (usually a map)."""

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.value = value
        # The innermost step that raised it, and that step's file:line:col (set by the interpreter).
        self.step: str | None = None
        self.where: str | None = None

    @property
    def tags(self) -> list[str]:
        if isinstance(self.value, dict):
            tags = self.value.get("tags")
            if isinstance(tags, list):
                return [t for t in tags if isinstance(t, str)]
        return []

    @property
    def message(self) -> str:
        if isinstance(self.value, dict):
            msg = self.value.get("message")
            return msg if isinstance(msg, str) else str(self.value)
        return str(self.value)

    def __str__(self) -> str:
        tags = self.tags
        return f"{tags[0]}: {self.message}" if tags else self.message


def error(tag: str, message: str, **extra: Any) -> WorkflowError:
    """A built-in error value `{message, tags, ...extra}`."""
    value: dict[str, Any] = {"message": message, "tags": [tag, *_PARENTS.get(tag, [])]}
    value.update(extra)
    return WorkflowError(value)


def type_error(message: str) -> WorkflowError:
    return error("TypeError", message)


def value_error(message: str) -> WorkflowError:
    return error("ValueError", message)


def key_error(message: str) -> WorkflowError:
    return error("KeyError", message)


def index_error(message: str) -> WorkflowError:
    return error("IndexError", message)


def resource_limit(message: str) -> WorkflowError:
    return error("ResourceLimitError", message)


class DeployError(Exception):
    """A problem GCP would reject at deploy time; the message starts with `file:line:col`."""
