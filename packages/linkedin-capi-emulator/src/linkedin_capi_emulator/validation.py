"""Schema validation of conversion events with Rest.li's exact messages.

Hot path: a 5,000-element batch goes through :func:`validate_event` once per element, so the
valid case is a handful of dict/set operations and nothing is compiled or copied per element.
"""

from __future__ import annotations

import json
import re
from typing import Any

REQUIRED = "field is required but not found and has no default value"
UNRECOGNIZED = "unrecognized field found but not allowed"
BAD_URN_PREFIX = "Invalid Urn format. Invalid prefix."
NOT_A_HASH = "value must be a SHA-256 hash (64 lower-case hexadecimal characters)"

CONVERSION_PREFIX = "urn:lla:llaPartnerConversion:"
LEAD_PREFIX = "urn:li:leadGenFormResponse:"
HASHED_NAMES_SINCE = 202609

ID_TYPES = frozenset(
    {
        "SHA256_EMAIL",
        "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID",
        "ACXIOM_ID",
        "ORACLE_MOAT_ID",
        "PLAINTEXT_IP_ADDRESS",
        "SHA256_IP_ADDRESS",
        "GOOGLE_AID",
    }
)

_TOP_FIELDS = frozenset(
    {"conversion", "conversionHappenedAt", "conversionValue", "eventId", "user"}
)
_VALUE_FIELDS = frozenset({"currencyCode", "amount"})
_USER_FIELDS = frozenset({"userIds", "userInfo", "lead", "externalIds"})
_USER_ID_FIELDS = frozenset({"idType", "idValue"})
_USER_INFO_OPTIONAL = ("companyName", "title", "countryCode")
_USER_INFO_BEFORE = frozenset({"firstName", "lastName", *_USER_INFO_OPTIONAL})
_USER_INFO_SINCE = frozenset({*_USER_INFO_BEFORE, "hashedFirstName", "hashedLastName"})
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MISSING = object()


def java_repr(value: Any) -> str:
    """Render a JSON value as Rest.li's Java messages print it (``19.9``, ``true``, ``null``)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def line(path: str, reason: str) -> str:
    """One Rest.li validation line, without the trailing newline."""
    return f"ERROR :: {path} :: {reason}"


def not_string(value: Any) -> str:
    """Reason text for a non-string where a string is expected (Observed wording)."""
    return f"{java_repr(value)} cannot be coerced to String"


def not_record(value: Any) -> str:
    """Reason text for a non-object where a record is expected."""
    return f"{java_repr(value)} is not backed by a DataMap"


def not_array(value: Any) -> str:
    """Reason text for a non-array where an array is expected."""
    return f"{java_repr(value)} is not backed by a DataList"


def not_enum(value: Any) -> str:
    """Reason text for a bad enum value (Observed wording for strings)."""
    if type(value) is str:
        return f'"{value}" is not an enum symbol'
    return f"{java_repr(value)} is not backed by a String"


def unknown_fields(
    record: dict[str, Any], allowed: frozenset[str], base: str, out: list[str]
) -> None:
    """Append an 'unrecognized field' line for each key outside ``allowed`` (input order)."""
    if record.keys() <= allowed:
        return
    for key in record:
        if key not in allowed:
            out.append(line(f"{base}/{key}", UNRECOGNIZED))


def _check_string(
    record: dict[str, Any], key: str, path: str, required: bool, out: list[str]
) -> None:
    value = record.get(key, _MISSING)
    if value is _MISSING:
        if required:
            out.append(line(path, REQUIRED))
    elif type(value) is not str:
        out.append(line(path, not_string(value)))


def validate_event(event: Any, version: int) -> list[str]:
    """All schema errors of one event as Rest.li lines (empty list when the event is valid).

    ``version`` is the request's ``YYYYMM`` as an int; it gates the hashed-name fields.
    Known fields are checked in schema order, then unknown fields are reported in input order.
    """
    if type(event) is not dict:
        return [line("/", not_record(event))]
    errors: list[str] = []

    conversion = event.get("conversion", _MISSING)
    if conversion is _MISSING:
        errors.append(line("/conversion", REQUIRED))
    elif type(conversion) is not str:
        errors.append(line("/conversion", not_string(conversion)))
    else:
        rule_id = conversion[len(CONVERSION_PREFIX) :]
        if not (
            conversion.startswith(CONVERSION_PREFIX) and rule_id.isascii() and rule_id.isdigit()
        ):
            errors.append(line("/conversion", BAD_URN_PREFIX))

    happened = event.get("conversionHappenedAt", _MISSING)
    if happened is _MISSING:
        errors.append(line("/conversionHappenedAt", REQUIRED))
    elif type(happened) is not int:  # bool is a subclass of int; type() excludes it
        errors.append(
            line("/conversionHappenedAt", f"{java_repr(happened)} cannot be coerced to Long")
        )

    value = event.get("conversionValue", _MISSING)
    if value is not _MISSING:
        if type(value) is not dict:
            errors.append(line("/conversionValue", not_record(value)))
        else:
            _check_string(value, "currencyCode", "/conversionValue/currencyCode", True, errors)
            _check_string(value, "amount", "/conversionValue/amount", True, errors)
            unknown_fields(value, _VALUE_FIELDS, "/conversionValue", errors)

    _check_string(event, "eventId", "/eventId", False, errors)

    user = event.get("user", _MISSING)
    if user is _MISSING:
        errors.append(line("/user", REQUIRED))
    elif type(user) is not dict:
        errors.append(line("/user", not_record(user)))
    else:
        _validate_user(user, version, errors)

    unknown_fields(event, _TOP_FIELDS, "", errors)
    return errors


def _validate_user(user: dict[str, Any], version: int, errors: list[str]) -> None:
    user_ids = user.get("userIds", _MISSING)
    if user_ids is _MISSING:
        # The key is required even when matching on userInfo, externalIds or lead (gotcha 10).
        errors.append(line("/user/userIds", REQUIRED))
    elif type(user_ids) is not list:
        errors.append(line("/user/userIds", not_array(user_ids)))
    else:
        for index, entry in enumerate(user_ids):
            path = f"/user/userIds/{index}"
            if type(entry) is not dict:
                errors.append(line(path, not_record(entry)))
                continue
            id_type = entry.get("idType", _MISSING)
            if id_type is _MISSING:
                errors.append(line(f"{path}/idType", REQUIRED))
            elif type(id_type) is not str or id_type not in ID_TYPES:
                errors.append(line(f"{path}/idType", not_enum(id_type)))
            _check_string(entry, "idValue", f"{path}/idValue", True, errors)
            unknown_fields(entry, _USER_ID_FIELDS, path, errors)

    info = user.get("userInfo", _MISSING)
    if info is not _MISSING:
        if type(info) is not dict:
            errors.append(line("/user/userInfo", not_record(info)))
        else:
            _validate_user_info(info, version, errors)

    lead = user.get("lead", _MISSING)
    if lead is not _MISSING:
        if type(lead) is not str:
            errors.append(line("/user/lead", not_string(lead)))
        elif not lead.startswith(LEAD_PREFIX) or len(lead) == len(LEAD_PREFIX):
            errors.append(line("/user/lead", BAD_URN_PREFIX))

    external = user.get("externalIds", _MISSING)
    if external is not _MISSING:
        if type(external) is not list:
            errors.append(line("/user/externalIds", not_array(external)))
        else:
            for index, item in enumerate(external):
                if type(item) is not str:
                    errors.append(line(f"/user/externalIds/{index}", not_string(item)))

    unknown_fields(user, _USER_FIELDS, "/user", errors)


def _validate_user_info(info: dict[str, Any], version: int, errors: list[str]) -> None:
    base = "/user/userInfo"
    if version >= HASHED_NAMES_SINCE:
        allowed = _USER_INFO_SINCE
        for plain, hashed in (("firstName", "hashedFirstName"), ("lastName", "hashedLastName")):
            has_plain = plain in info
            has_hashed = hashed in info
            if has_plain:
                _check_string(info, plain, f"{base}/{plain}", True, errors)
            if has_hashed:
                digest = info[hashed]
                if type(digest) is not str:
                    errors.append(line(f"{base}/{hashed}", not_string(digest)))
                elif not _HEX64.fullmatch(digest):
                    errors.append(line(f"{base}/{hashed}", NOT_A_HASH))
            if not has_plain and not has_hashed:
                errors.append(line(f"{base}/{plain}", REQUIRED))
    else:
        # Before 202609 both plain names are required whenever userInfo is present (gotcha 11).
        allowed = _USER_INFO_BEFORE
        _check_string(info, "firstName", f"{base}/firstName", True, errors)
        _check_string(info, "lastName", f"{base}/lastName", True, errors)
    for key in _USER_INFO_OPTIONAL:
        _check_string(info, key, f"{base}/{key}", False, errors)
    unknown_fields(info, allowed, base, errors)


def has_identity(user: dict[str, Any]) -> bool:
    """True when a schema-valid ``user`` carries at least one usable, non-empty identifier."""
    for entry in user.get("userIds") or ():
        if entry.get("idValue"):
            return True
    info = user.get("userInfo")
    if (
        info
        and (info.get("firstName") or info.get("hashedFirstName"))
        and (info.get("lastName") or info.get("hashedLastName"))
    ):
        return True
    external = user.get("externalIds")
    if external and external[0]:  # LinkedIn only uses the first entry
        return True
    return bool(user.get("lead"))
