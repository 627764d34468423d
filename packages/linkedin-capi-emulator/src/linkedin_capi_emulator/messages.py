"""Transport-neutral request/response objects passed between the HTTP layer and endpoints."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
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


# From version 202401 LinkedIn pages the adAccounts/adCampaignGroups/adCampaigns/adCreatives
# search finders by cursor (pageSize/pageToken in, metadata.nextPageToken out); older versions
# used start/count.
CURSOR_PAGING_SINCE = 202401
DEFAULT_PAGE_SIZE = 100  # LinkedIn's documented pageSize default


class PagingError(ValueError):
    """Malformed paging parameters; the message says which."""


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"emulator-cursor:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise PagingError(f"Invalid pageToken: {token}") from None
    prefix, _, offset = raw.rpartition(":")
    if prefix != "emulator-cursor" or not offset.isdigit():
        raise PagingError(f"Invalid pageToken: {token}")
    return int(offset)


def index_page(
    request: Request, elements: Sequence[Any], max_count: int, default_count: int, total: int
) -> dict[str, Any]:
    """One ``start``/``count`` page; ``paging.links`` carries ``rel=next`` while more remain
    (``total`` -1 hides the total and the link, as LinkedIn's rules finder does)."""
    start = int_param(request, "start", 0)
    count = int_param(request, "count", default_count)
    if start is None or count is None:
        raise PagingError("Parameters 'start' and 'count' must be integers")
    count = min(count, max_count)
    page = list(elements[start : start + count])
    links = []
    if total >= 0 and start + count < total:
        query = "&".join(
            f"{k}={v}" for k, v in request.params.items() if k not in ("start", "count")
        )
        links.append(
            {
                "type": "application/json",
                "rel": "next",
                "href": f"{request.path}?{query}&start={start + count}&count={count}",
            }
        )
    return {
        "paging": {"start": start, "count": count, "links": links, "total": total},
        "elements": page,
    }


def cursor_page(request: Request, elements: Sequence[Any], max_size: int) -> dict[str, Any]:
    """One ``pageSize``/``pageToken`` page; ``metadata.nextPageToken`` only while more remain."""
    size = int_param(request, "pageSize", DEFAULT_PAGE_SIZE)
    if size is None or size == 0:
        raise PagingError("Parameter 'pageSize' must be a positive integer")
    raw_token = request.param("pageToken")
    offset = _decode_cursor(raw_token) if raw_token else 0
    size = min(size, max_size)
    metadata: dict[str, Any] = {}
    if offset + size < len(elements):
        metadata["nextPageToken"] = _encode_cursor(offset + size)
    return {"elements": list(elements[offset : offset + size]), "metadata": metadata}


def search_page(request: Request, elements: Sequence[Any], max_size: int) -> dict[str, Any]:
    """A search finder's page, in the paging style of the request's version."""
    if request.version_number >= CURSOR_PAGING_SINCE:
        return cursor_page(request, elements, max_size)
    return index_page(request, elements, max_size, len(elements) or 1, len(elements))


def int_param(request: Request, name: str, default: int) -> int | None:
    """Non-negative integer query parameter; None when malformed."""
    raw = request.param(name)
    if raw is None or raw == "":
        return default
    return int(raw) if raw.isascii() and raw.isdigit() else None
