"""A last line of defence: no configured or refreshed secret ever reaches a log line; no
value LinkedIn echoes back (an email, a name, an IP) leaves in one of its messages.

The code never logs a secret on purpose; this filter, on every handler of the root logger,
also catches secrets inside third-party messages and exception texts, in the forms they
take there: as is, `repr`-escaped (requests' InvalidHeader quotes `'Bearer …\\n'`),
JSON-escaped, and percent-encoded (form bodies and URLs).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from urllib.parse import quote, quote_plus

MASK = "***"
REDACTED = "<redacted>"
# Real tokens and secrets are long; masking a very short value would garble every log line
# that happens to contain those letters.
MIN_SECRET_LENGTH = 6

_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")


@lru_cache(maxsize=64)
def secret_forms(secret: str) -> tuple[str, ...]:
    """Every way `secret` may be written in a log line, longest first."""
    forms = {
        secret,
        repr(secret)[1:-1],
        ascii(secret)[1:-1],
        repr(secret.encode("utf-8", "surrogatepass"))[2:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        base64.b64encode(secret.encode("utf-8", "surrogatepass")).decode(),
    }
    forms |= {_PERCENT_ESCAPE.sub(lambda m: m.group(0).lower(), form) for form in forms}
    return tuple(
        sorted((form for form in forms if len(form) >= MIN_SECRET_LENGTH), key=len, reverse=True)
    )


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if len(secret) >= MIN_SECRET_LENGTH:
            for form in secret_forms(secret):
                if form in text:
                    text = text.replace(form, MASK)
    return text


class SecretFilter(logging.Filter):
    def __init__(self, secrets: Callable[[], set[str]]) -> None:
        super().__init__("secrets")
        self._secrets = secrets

    def _mask(self, text: str) -> str:
        return mask_secrets(text, self._secrets())

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()  # the message with its args
        except Exception:  # noqa: BLE001 - logging reports a malformed call itself
            message = None
        if message is not None:
            masked = self._mask(message)
            if masked != message:
                record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            # The whole traceback, chained exceptions included, as a formatter would write
            # it; kept (masked) in exc_text, which formatters print in its place.
            text = logging.Formatter().formatException(record.exc_info)
            masked = self._mask(text)
            if masked != text:
                record.exc_info = None
                record.exc_text = masked
        elif record.exc_text:
            record.exc_text = self._mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self._mask(record.stack_info)
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


# -- LinkedIn's messages ------------------------------------------------------------------------

# Each pattern starts only where a token starts (look-behind), so a long hostile message is
# scanned in linear time. Hashes (64 hex digits) and enum symbols stay: they say what failed
# without saying who.
_STOP = "\\s\"'<>()\\[\\],;"
_EMAILISH = re.compile(rf"(?<![^{_STOP}])[^{_STOP}@]+(?:@|%40)[^{_STOP}@]+")
_DOUBLE_QUOTED = re.compile(r'"([^"]*)"')
# Not an apostrophe inside a word ("Conversion's method ...").
_SINGLE_QUOTED = re.compile(r"(?<!\w)'([^'\n]*)'(?!\w)")
_ENUM_LIKE = re.compile(r"^[A-Z0-9_]+$")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:%\w+)?(?![\w:])")


def _ipv6(match: re.Match[str]) -> str:
    text = match.group(0)
    if not any(char in "0123456789abcdefABCDEF" for char in text.split("%", 1)[0]):
        return text  # "ERROR :: /path"
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return text  # times like 12:30:45 stay
    return REDACTED


def redact_linkedin_message(message: str) -> str:
    """LinkedIn echoes submitted values in its errors: keep enum symbols and hashes, mask
    emails (also percent-encoded), quoted values and IPv4/IPv6 addresses."""
    message = _EMAILISH.sub(REDACTED, message)
    message = _IPV4.sub(REDACTED, message)
    message = _IPV6.sub(_ipv6, message)
    message = _DOUBLE_QUOTED.sub(
        lambda m: m.group(0) if _ENUM_LIKE.match(m.group(1)) else f'"{REDACTED}"', message
    )
    return _SINGLE_QUOTED.sub(
        lambda m: m.group(0) if _ENUM_LIKE.match(m.group(1)) else f"'{REDACTED}'", message
    )
