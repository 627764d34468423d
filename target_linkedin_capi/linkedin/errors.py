"""LinkedIn's answers as one error hierarchy (after stripe-python's `_error.py`).

`classify()` turns a non-2xx response into exactly one of these, in one place. Each error
carries what LinkedIn said (status, `code`, `serviceErrorCode`, `x-li-uuid`) with its
message already redacted: LinkedIn echoes submitted values (emails, names, IPs) in its
texts. What a person should do about an error is not decided here but in advice.py.
This is also the only module that reads LinkedIn's message texts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from target_linkedin_capi.linkedin import restli
from target_linkedin_capi.report.redaction import redact_linkedin_message

_MAX_MESSAGE = 300
# What may be shown of LinkedIn's `code` and `x-li-uuid` as they are: anything else is text.
_CODE = re.compile(r"^[A-Z0-9_]{1,64}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9+/=_.-]{1,128}$")
_INDEX_LINE = re.compile(r"Index:\s*(\d+),\s*")
_INDICES = re.compile(r"indices\s*\[([\d,\s]*)\]")
# Answers to an events batch that concern the rule, not the events: it was deleted or
# disabled, or is not a Conversions API rule (LinkedIn's documented error texts).
_RULE_LEVEL = ("marked as deleted", "method should be CONVERSIONS_API")
REFRESHABLE_CODES = frozenset({"INVALID_ACCESS_TOKEN", "EXPIRED_ACCESS_TOKEN"})


class LinkedInError(Exception):
    """An answer (or the lack of one) from LinkedIn that the call could not get past."""

    def __init__(
        self,
        *,
        http_status: int | None = None,
        code: str | None = None,
        service_error_code: int | None = None,
        request_id: str | None = None,
        message: str = "",
        what: str = "",
    ) -> None:
        self.http_status = http_status
        self.code = code
        self.service_error_code = service_error_code
        self.request_id = request_id
        self.message = redact_linkedin_message(message).strip()
        self.what = what  # the operation, e.g. "lookup of conversion rule 456"
        # (attempts, seconds) when retries were spent on it; see transport.py.
        self.retries: tuple[int, float] | None = None
        super().__init__(self.describe())

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        """The answer for logs, errors and files (LinkedIn's values masked)."""
        code = ""
        if self.code:
            code = f" {self.code}" if _CODE.match(self.code) else " <redacted>"
        rid = ""
        if self.request_id and _REQUEST_ID.match(self.request_id):
            rid = f" (x-li-uuid {self.request_id})"
        message = self.message
        if len(message) > _MAX_MESSAGE:  # e.g. "indices [0, 1, ... 4999]"
            message = message[:_MAX_MESSAGE] + f"... ({len(message)} characters)"
        return f"HTTP {self.http_status}{code}: {message}{rid}"


class AuthenticationError(LinkedInError):
    """401: the access token is revoked, expired or invalid."""

    refreshed = False  # set when the token had just been refreshed

    @property
    def reason(self) -> str:
        if self.code == "REVOKED_ACCESS_TOKEN":
            return "revoked"
        if self.code == "EXPIRED_ACCESS_TOKEN":
            return "expired"
        return "invalid"

    @property
    def refreshable(self) -> bool:
        return self.code in REFRESHABLE_CODES


class AccessDeniedError(LinkedInError):
    """403: a missing role or scope, or (LinkedIn's way of saying it) an unknown rule."""


class VersionSunsetError(LinkedInError):
    """426: LinkedIn no longer serves the requested API version."""

    api_version = ""


class NotFoundError(LinkedInError):
    """404."""


class ClientError(LinkedInError):
    """Any other 4xx the caller did not ask to interpret."""


class TransientError(LinkedInError):
    """An answer worth another try; `retry_after` in seconds when LinkedIn gave one."""

    def __init__(self, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(**kwargs)


class ThrottledError(TransientError):
    """429: too many requests for this token or app."""


class ServerError(TransientError):
    """5xx (or 408): LinkedIn failed or timed out."""


class BatchRefusedError(LinkedInError):
    """400/422 on a batch of events (all-or-nothing); `failures` maps element index to
    LinkedIn's reason, None when LinkedIn named no element."""

    def __init__(self, *, failures: dict[int, str] | None = None, **kwargs: Any) -> None:
        self.failures = failures
        super().__init__(**kwargs)

    @property
    def rule_level(self) -> bool:
        """The refusal is about the conversion rule (deleted, disabled, not a Conversions
        API rule), so rejecting the events would lose them all."""
        return any(text in self.message for text in _RULE_LEVEL)


class ConnectionFailedError(LinkedInError):
    """No answer: the connection failed or timed out (named by exception type only)."""

    def __init__(self, cause: BaseException, **kwargs: Any) -> None:
        self.cause_name = type(cause).__name__
        super().__init__(**kwargs)

    def describe(self) -> str:
        return self.cause_name


class RequestNotSentError(ConnectionFailedError):
    """requests refused to send the request (e.g. a header with a line break).

    Named by type only: requests quotes header values in its messages (InvalidHeader shows
    'Bearer <token>'), and other texts quote the URL.
    """


class RedirectRefusedError(LinkedInError):
    """3xx: LinkedIn's REST API does not redirect; following one would take the token and
    the events to a URL that the https/loopback check never saw."""


_BY_STATUS: dict[int, type[LinkedInError]] = {
    401: AuthenticationError,
    403: AccessDeniedError,
    404: NotFoundError,
    408: ServerError,
    426: VersionSunsetError,
    429: ThrottledError,
}


def classify(
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    reason: str = "",
    what: str = "",
    batch_count: int | None = None,
) -> LinkedInError:
    """The error for one non-2xx answer. `batch_count` is set for a batch of events: only
    there do 400/422 without a gateway `code` mean "these elements were refused"."""
    if 300 <= status < 400:
        return RedirectRefusedError(http_status=status, what=what)
    if status in (429, 408) or status >= 500:
        cls: type[TransientError] = ThrottledError if status == 429 else ServerError
        return cls(http_status=status, retry_after=_retry_after(headers), what=what)
    body = _json_object(content)
    fields: dict[str, Any] = {
        "http_status": status,
        "code": str(body["code"]) if body.get("code") else None,
        "service_error_code": _int_or_none(body.get("serviceErrorCode")),
        "request_id": headers.get(restli.REQUEST_ID_HEADER),
        "message": str(body.get("message") or reason or ""),
        "what": what,
    }
    if batch_count is not None and status in (400, 422) and not fields["code"]:
        # Gateway answers carry a `code` (e.g. VERSION_MISSING); element-level validation
        # answers carry only a message and a status.
        refused = BatchRefusedError(**fields)
        refused.failures = parse_failures(refused.message, batch_count)
        return refused
    return _BY_STATUS.get(status, ClientError)(**fields)


def parse_failures(message: str, count: int) -> dict[int, str] | None:
    """Element index -> reason from LinkedIn's batch error text; None if it names none.

    422: `Index: N, ERROR :: /path :: reason` (later lines without `Index:` belong to the
    same element); 400: `... indices [i, j] (0-indexed)`. Message text is not a stable
    contract, so indices out of range mean "unknown" rather than a guess.
    """
    failures: dict[int, str] = {}
    current: int | None = None
    if "Index:" in message:
        for line in message.splitlines():
            match = _INDEX_LINE.search(line)
            if match:
                current = int(match.group(1))
                line = line[match.end() :]
            if current is not None and line.strip():
                reason = line.strip()
                failures[current] = (
                    f"{failures[current]}; {reason}" if current in failures else reason
                )
    else:
        match = _INDICES.search(message)
        if match:
            reason = message[: match.start()].rstrip(" ,.") or message
            for part in match.group(1).split(","):
                if part.strip():
                    failures[int(part)] = reason
    if not failures or any(index < 0 or index >= count for index in failures):
        return None
    return failures


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date; rare enough to fall back to backoff


def _json_object(content: bytes) -> dict[str, Any]:
    try:
        body = json.loads(content) if content else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
