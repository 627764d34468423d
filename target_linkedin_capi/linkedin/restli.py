"""Rest.li 2.0 encoding helpers (after LinkedIn's linkedin-api-python-client `encoder.py`).

Values are percent-encoded; the Rest.li grammar characters `( ) , :` that structure keys,
lists and objects stay literal. A generic URL encoder would encode them and break the call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from urllib.parse import quote


def encode_value(value: object) -> str:
    """Percent-encode one value (a URN becomes `urn%3Ali%3A...`)."""
    return quote(str(value), safe="")


def encode_key(fields: Mapping[str, object]) -> str:
    """A compound key, `(k1:v1,k2:v2)`, with encoded values and keys in the given order."""
    return "(" + ",".join(f"{name}:{encode_value(value)}" for name, value in fields.items()) + ")"


def encode_list(items: Iterable[str]) -> str:
    """`List(a,b,c)` of already-encoded items."""
    return "List(" + ",".join(items) + ")"


def query(params: Mapping[str, object]) -> str:
    """A query string whose values are encoded as single values (URNs, numbers, words)."""
    return "&".join(f"{name}={encode_value(value)}" for name, value in params.items())


class RestliMethod(str, Enum):
    """Rest.li methods (LinkedIn's client calls them RESTLI_METHODS) and their HTTP verbs."""

    GET = "GET"
    BATCH_GET = "BATCH_GET"
    GET_ALL = "GET_ALL"
    FINDER = "FINDER"
    BATCH_FINDER = "BATCH_FINDER"
    CREATE = "CREATE"
    BATCH_CREATE = "BATCH_CREATE"
    UPDATE = "UPDATE"
    BATCH_UPDATE = "BATCH_UPDATE"
    PARTIAL_UPDATE = "PARTIAL_UPDATE"
    BATCH_PARTIAL_UPDATE = "BATCH_PARTIAL_UPDATE"
    DELETE = "DELETE"
    BATCH_DELETE = "BATCH_DELETE"
    ACTION = "ACTION"

    @property
    def http_method(self) -> str:
        return _HTTP_METHOD[self]

    @property
    def reads(self) -> bool:
        """True for methods that change nothing at LinkedIn."""
        return self.http_method == "GET"

    @property
    def announced(self) -> bool:
        """Whether the request names the method in a header: needed where the HTTP verb is
        ambiguous (a POST is CREATE unless it says BATCH_CREATE, PARTIAL_UPDATE, ...)."""
        return self not in _IMPLIED_BY_VERB


_HTTP_METHOD = {
    RestliMethod.GET: "GET",
    RestliMethod.BATCH_GET: "GET",
    RestliMethod.GET_ALL: "GET",
    RestliMethod.FINDER: "GET",
    RestliMethod.BATCH_FINDER: "GET",
    RestliMethod.CREATE: "POST",
    RestliMethod.BATCH_CREATE: "POST",
    RestliMethod.UPDATE: "PUT",
    RestliMethod.BATCH_UPDATE: "PUT",
    RestliMethod.PARTIAL_UPDATE: "POST",
    RestliMethod.BATCH_PARTIAL_UPDATE: "POST",
    RestliMethod.DELETE: "DELETE",
    RestliMethod.BATCH_DELETE: "DELETE",
    RestliMethod.ACTION: "POST",
}
_IMPLIED_BY_VERB = frozenset(
    {
        RestliMethod.GET,
        RestliMethod.FINDER,
        RestliMethod.GET_ALL,
        RestliMethod.CREATE,
        RestliMethod.UPDATE,
        RestliMethod.DELETE,
    }
)

# Header names of the Rest.li protocol and of LinkedIn's REST API: only linkedin/ uses them.
VERSION_HEADER = "LinkedIn-Version"
PROTOCOL_HEADER = "X-Restli-Protocol-Version"
PROTOCOL_VERSION = "2.0.0"
METHOD_HEADER = "X-RestLi-Method"
CREATED_ID_HEADER = "x-restli-id"
REQUEST_ID_HEADER = "x-li-uuid"


def partial_update_body(changes: Mapping[str, object]) -> dict[str, object]:
    """A PARTIAL_UPDATE body that sets the given fields and leaves the others alone."""
    return {"patch": {"$set": dict(changes)}}
