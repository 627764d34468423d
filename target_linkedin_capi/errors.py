"""Exceptions that carry a message meant for the person running the pipeline."""

from __future__ import annotations


class TargetError(Exception):
    """Base class for the target's own errors."""


class FatalError(TargetError):
    """The run cannot continue; the message says what the user must fix.

    Raised for answers no retry can fix (revoked token, sunset API version, missing role),
    for rule problems found at startup, and when retries are exhausted. The CLI prints the
    message as one paragraph (no traceback unless the log level is DEBUG) and exits 1.
    """


class ConfigError(TargetError):
    """A setting is missing, malformed or inconsistent; names the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        self.problem = problem
        super().__init__(f"{setting}: {problem}")
