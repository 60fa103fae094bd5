"""User-facing errors: raised anywhere in the CLI/engine, printed by the CLI as one line, exit code 1."""


class UserError(Exception):
    """A problem the user can act on; the message is printed as-is, without a traceback."""

    exit_code = 1
