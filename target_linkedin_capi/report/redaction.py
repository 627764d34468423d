"""A last line of defence: no configured or refreshed secret ever reaches a log line.

The code never logs a secret on purpose; this filter, on every handler of the root logger,
also catches secrets inside third-party messages and exception texts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

MASK = "***"
# Real tokens and secrets are long; masking a very short value would garble every log line
# that happens to contain those letters.
MIN_SECRET_LENGTH = 6


class SecretFilter(logging.Filter):
    def __init__(self, secrets: Callable[[], set[str]]) -> None:
        super().__init__("secrets")
        self._secrets = secrets

    def _mask(self, text: str) -> str:
        for secret in self._secrets():
            if len(secret) >= MIN_SECRET_LENGTH and secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self._mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            if self._mask(str(exc)) != str(exc):
                record.exc_info = None
                record.exc_text = None
                record.msg = f"{record.msg} [exception details withheld: they held a secret]"
        return True

    @classmethod
    def install(cls, secrets: Callable[[], set[str]]) -> SecretFilter:
        """Attach to every handler of the root logger (replacing an earlier instance)."""
        new = cls(secrets)
        for handler in logging.getLogger().handlers:
            for old in [f for f in handler.filters if isinstance(f, SecretFilter)]:
                handler.removeFilter(old)
            handler.addFilter(new)
        return new
