"""Rest.li 2.0 URL syntax: compound keys, ``List(...)`` and raw query strings.

Keys are parsed from the RAW request target on purpose: a generic URL decoder would hide exactly
the encoding mistakes (encoded parentheses, literal colons) the emulator exists to catch.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

ACCOUNT_URN_PREFIX = "urn:li:sponsoredAccount:"
CAMPAIGN_URN_PREFIX = "urn:li:sponsoredCampaign:"
CONVERSION_URN_PREFIX = "urn:lla:llaPartnerConversion:"

_CAMPAIGN_URN = re.compile(r"urn:li:sponsoredCampaign:(\d+)")
_CONVERSION_URN = re.compile(r"urn:lla:llaPartnerConversion:(\d+)")
_ACCOUNT_URN = re.compile(r"urn:li:sponsoredAccount:(\d+)")
# A '%' not followed by two hex digits is malformed percent-encoding.
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Rest.li grammar characters must never appear literally inside an encoded value.
_GRAMMAR_CHARS = frozenset("():,")


class KeyFormatError(ValueError):
    """A compound key or ``List(...)`` expression that does not follow Rest.li 2.0 encoding."""


def account_urn(account_id: int) -> str:
    """``urn:li:sponsoredAccount:{id}``."""
    return f"{ACCOUNT_URN_PREFIX}{account_id}"


def campaign_urn(campaign_id: int) -> str:
    """``urn:li:sponsoredCampaign:{id}``."""
    return f"{CAMPAIGN_URN_PREFIX}{campaign_id}"


def conversion_urn(rule_id: int) -> str:
    """``urn:lla:llaPartnerConversion:{id}``."""
    return f"{CONVERSION_URN_PREFIX}{rule_id}"


def parse_account_urn(value: str) -> int | None:
    """Account id from ``urn:li:sponsoredAccount:{id}`` (already decoded), else None."""
    match = _ACCOUNT_URN.fullmatch(value)
    return int(match.group(1)) if match else None


def parse_campaign_urn(value: str) -> int | None:
    """Campaign id from ``urn:li:sponsoredCampaign:{id}``, else None."""
    match = _CAMPAIGN_URN.fullmatch(value)
    return int(match.group(1)) if match else None


def parse_conversion_urn(value: str) -> int | None:
    """Rule id from ``urn:lla:llaPartnerConversion:{id}``, else None."""
    match = _CONVERSION_URN.fullmatch(value)
    return int(match.group(1)) if match else None


def encode_value(value: str) -> str:
    """Percent-encode a key value the Rest.li 2.0 way (``:`` -> ``%3A``)."""
    return quote(value, safe="")


def encode_campaign_conversion_key(campaign: str, conversion: str) -> str:
    """The canonical path/batch key ``(campaign:<enc>,conversion:<enc>)``."""
    return f"(campaign:{encode_value(campaign)},conversion:{encode_value(conversion)})"


def _decode_value(raw: str) -> str:
    if not raw or any(ch in _GRAMMAR_CHARS for ch in raw) or _BAD_PERCENT.search(raw):
        raise KeyFormatError(raw)
    return unquote(raw)


def parse_campaign_conversion_key(raw: str) -> tuple[str, str]:
    """Parse a raw ``(campaign:...,conversion:...)`` key into (campaign URN, conversion URN).

    Field order is free (Rest.li allows it) but the grammar characters must be literal and the URN
    colons percent-encoded; anything else raises KeyFormatError.
    """
    if len(raw) < 2 or raw[0] != "(" or raw[-1] != ")":
        raise KeyFormatError(raw)
    parts = raw[1:-1].split(",")
    if len(parts) != 2:
        raise KeyFormatError(raw)
    fields: dict[str, str] = {}
    for part in parts:
        name, sep, value = part.partition(":")
        if not sep or name not in ("campaign", "conversion") or name in fields:
            raise KeyFormatError(raw)
        fields[name] = _decode_value(value)
    if len(fields) != 2:
        raise KeyFormatError(raw)
    campaign, conversion = fields["campaign"], fields["conversion"]
    if parse_campaign_urn(campaign) is None or parse_conversion_urn(conversion) is None:
        raise KeyFormatError(raw)
    return campaign, conversion


def parse_list(raw: str) -> list[str]:
    """Split a raw ``List(a,(b,c),d)`` expression into its raw items (nesting-aware)."""
    if not raw.startswith("List(") or not raw.endswith(")"):
        raise KeyFormatError(raw)
    inner = raw[5:-1]
    if not inner:
        return []
    items: list[str] = []
    depth = 0
    start = 0
    for pos, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise KeyFormatError(raw)
        elif ch == "," and depth == 0:
            items.append(inner[start:pos])
            start = pos + 1
    if depth != 0:
        raise KeyFormatError(raw)
    items.append(inner[start:])
    if any(not item for item in items):
        raise KeyFormatError(raw)
    return items


def split_query(raw_query: str) -> dict[str, str]:
    """Raw (still encoded) query parameters; the first occurrence of a name wins.

    ``+`` and ``%xx`` are left alone so Rest.li expressions can be parsed strictly; use
    :func:`query_value` for a plain decoded value.
    """
    params: dict[str, str] = {}
    if not raw_query:
        return params
    for pair in raw_query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        params.setdefault(unquote(name), value)
    return params


def query_value(raw_params: dict[str, str], name: str) -> str | None:
    """Decoded value of one query parameter (accepts ``%3A`` and raw colons alike)."""
    value = raw_params.get(name)
    return None if value is None else unquote(value.replace("+", " "))


def parse_data(raw: str) -> object:
    """Parse a raw Rest.li 2.0 data expression: ``(k:v,...)`` -> dict, ``List(...)`` -> list,
    anything else -> the decoded scalar string. Grammar characters must be literal."""
    value, end = _parse_value(raw, 0)
    if end != len(raw):
        raise KeyFormatError(raw)
    return value


def _parse_value(raw: str, pos: int) -> tuple[object, int]:
    if raw.startswith("List(", pos):
        items: list[object] = []
        pos += 5
        if raw.startswith(")", pos):
            return items, pos + 1
        while True:
            item, pos = _parse_value(raw, pos)
            items.append(item)
            if raw.startswith(",", pos):
                pos += 1
            elif raw.startswith(")", pos):
                return items, pos + 1
            else:
                raise KeyFormatError(raw)
    if raw.startswith("(", pos):
        fields: dict[str, object] = {}
        pos += 1
        if raw.startswith(")", pos):
            return fields, pos + 1
        while True:
            colon = raw.find(":", pos)
            name = raw[pos:colon] if colon > 0 else ""
            if not name or any(ch in _GRAMMAR_CHARS for ch in name) or name in fields:
                raise KeyFormatError(raw)
            fields[unquote(name)], pos = _parse_value(raw, colon + 1)
            if raw.startswith(",", pos):
                pos += 1
            elif raw.startswith(")", pos):
                return fields, pos + 1
            else:
                raise KeyFormatError(raw)
    end = pos
    while end < len(raw) and raw[end] not in _GRAMMAR_CHARS:
        end += 1
    return _decode_value(raw[pos:end]), end
