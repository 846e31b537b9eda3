"""Exceptions that carry the exit code the CLI should use."""

from __future__ import annotations


class GenopassError(Exception):
    """Base class; ``exit_code`` is what the CLI returns."""

    exit_code = 1


class InputError(GenopassError):
    """Bad data: the message names the file, the row or record, what is wrong and the fix."""

    exit_code = 1


class UsageError(GenopassError):
    """The command cannot run as asked (missing option, tool, key...)."""

    exit_code = 2


class ToolError(GenopassError):
    """An external tool failed for a reason that is not the user's data."""

    exit_code = 1
