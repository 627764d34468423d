"""Rest.li 2.0 encoding helpers (after LinkedIn's linkedin-api-python-client `encoder.py`).

Values are percent-encoded; the Rest.li grammar characters `( ) , :` that structure keys,
lists and objects stay literal. A generic URL encoder would encode them and break the call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
