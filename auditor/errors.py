"""Errors that reach the user as one line and an exit code, never as a traceback."""

from __future__ import annotations


class PathauditError(Exception):
    """Base for errors the CLI turns into a message and an exit code (README, exit codes)."""

    exit_code = 2


class UsageError(PathauditError):
    """The command line or config file is wrong."""


class InputError(PathauditError):
    """An input file cannot be read at all."""
