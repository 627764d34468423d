"""Transport-neutral request/response objects passed between the HTTP layer and endpoints."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import restli, versions


@dataclass
class Request:
    """One parsed HTTP request. ``path`` and ``query`` are raw (still percent-encoded)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names
    raw_body: bytes = b""
    body: Any = None
    body_is_json: bool = False
    body_error: bool = False
    version: str | None = None  # set by the gateway once accepted
    token: str | None = None  # set by the gateway once authenticated
    params: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.params = restli.split_query(self.query)

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        return self.headers.get(name.lower())

    def param(self, name: str) -> str | None:
        """Decoded query parameter."""
        return restli.query_value(self.params, name)

    def restli_method(self, default: str) -> str:
        """``X-RestLi-Method`` (case-insensitive name and value), upper-cased."""
        value = (self.header("x-restli-method") or "").strip()
        return value.upper() if value else default

    @property
    def version_number(self) -> int:
        """Accepted version as ``YYYYMM`` int (0 before the gateway ran)."""
        return versions.version_number(self.version or "")

    @property
    def version_stamp(self) -> str:
        """Version as LinkedIn prints it in messages (``20260901``)."""
        return versions.normalised(self.version or "")


@dataclass
class Response:
    """What an endpoint answers. ``body`` None means an empty body."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    fault: dict[str, Any] | None = None
    reset: bool = False  # close the TCP connection with RST instead of answering

    def payload(self) -> tuple[bytes, str | None]:
        """Encoded body and its content type."""
        if self.body is None:
            return b"", None
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode("utf-8"), "text/plain; charset=utf-8"
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8"), "application/json"


def json_response(status: int, body: Any, **headers: str) -> Response:
    """Shorthand for a JSON response (header names given with ``_`` for ``-``)."""
    return Response(status, body, {k.replace("_", "-"): v for k, v in headers.items()})


def project(entity: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """Apply a Rest.li 1.0-style ``fields=a,b`` projection to the top level of an entity."""
    if not fields:
        return entity
    wanted = {f.strip() for f in fields.split(",") if f.strip()}
    return {k: v for k, v in entity.items() if k in wanted}


def paged(elements: Iterable[Any], start: int, count: int, total: int) -> dict[str, Any]:
    """A Rest.li collection response with index paging."""
    return {
        "paging": {"start": start, "count": count, "links": [], "total": total},
        "elements": list(elements),
    }


def int_param(request: Request, name: str, default: int) -> int | None:
    """Non-negative integer query parameter; None when malformed."""
    raw = request.param(name)
    if raw is None or raw == "":
        return default
    return int(raw) if raw.isascii() and raw.isdigit() else None
