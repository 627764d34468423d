"""Validation of conversion-rule create and partial-update bodies."""

from __future__ import annotations

from typing import Any

from .restli import parse_account_urn
from .validation import (
    BAD_URN_PREFIX,
    REQUIRED,
    UNRECOGNIZED,
    java_repr,
    line,
    not_array,
    not_enum,
    not_record,
    not_string,
)

MQL_SQL_SINCE = 202608

RULE_TYPES = frozenset(
    {
        "ADD_TO_CART", "DOWNLOAD", "INSTALL", "KEY_PAGE_VIEW", "LEAD", "PURCHASE", "SIGN_UP",
        "OTHER", "SAVE", "START_CHECKOUT", "SCHEDULE", "VIEW_CONTENT", "VIEW_VIDEO",
        "ADD_BILLING_INFO", "BOOK_APPOINTMENT", "REQUEST_QUOTE", "SEARCH", "SUBSCRIBE",
        "AD_CLICK", "AD_VIEW", "COMPLETE_SIGNUP", "SUBMIT_APPLICATION", "PHONE_CALL", "INVITE",
        "LOGIN", "SHARE", "DONATE", "ADD_TO_LIST", "START_TRIAL", "OUTBOUND_CLICK", "CONTACT",
        "QUALIFIED_LEAD",
    }
)  # fmt: skip
MQL_SQL_TYPES = frozenset({"MARKETING_QUALIFIED_LEAD", "SALES_QUALIFIED_LEAD"})
CONVERSION_METHODS = frozenset(
    {"CONVERSIONS_API", "INSIGHT_TAG_URL_MATCH_RULES", "INSIGHT_TAG_JAVASCRIPT_EVENT"}
)
ATTRIBUTION_TYPES = frozenset({"LAST_TOUCH_BY_CAMPAIGN", "LAST_TOUCH_BY_CONVERSION"})
VALUE_TYPES = frozenset({"DYNAMIC", "FIXED", "NO_VALUE"})

BASE_WINDOWS = (1, 7, 30, 90)
# 365 days for these five types; 180 days (since 202609, all versions) for them plus MQL/SQL.
LONG_WINDOW_TYPES = frozenset(
    {"SUBMIT_APPLICATION", "PURCHASE", "ADD_TO_CART", "QUALIFIED_LEAD", "LEAD"}
)

WRITABLE_FIELDS = (
    "name", "account", "conversionMethod", "type", "postClickAttributionWindowSize",
    "viewThroughAttributionWindowSize", "attributionType", "enabled", "valueType", "value",
    "urlRules",
)  # fmt: skip
READ_ONLY_FIELDS = frozenset({"id", "created", "lastModified", "campaigns", "associatedCampaigns"})
CREATE_REQUIRED = ("name", "account", "conversionMethod", "type")
DEFAULTS: dict[str, Any] = {
    "postClickAttributionWindowSize": 30,
    "viewThroughAttributionWindowSize": 7,
    "attributionType": "LAST_TOUCH_BY_CAMPAIGN",
    "enabled": True,
}
_WRITABLE = frozenset(WRITABLE_FIELDS)


def allowed_post_click(rule_type: str) -> tuple[int, ...]:
    """Post-click window sizes LinkedIn accepts for a rule type."""
    if rule_type in LONG_WINDOW_TYPES:
        return (*BASE_WINDOWS, 180, 365)
    if rule_type in MQL_SQL_TYPES:
        return (*BASE_WINDOWS, 180)
    return BASE_WINDOWS


def _enum_check(value: Any, symbols: frozenset[str], path: str, out: list[str]) -> None:
    if type(value) is not str or value not in symbols:
        out.append(line(path, not_enum(value)))


def schema_errors(fields: Any, version: int, *, operation: str) -> list[str]:
    """Rest.li 422 lines for a rule body (``operation`` is ``create`` or ``partial_update``)."""
    if type(fields) is not dict:
        return [line("/", not_record(fields))]
    out: list[str] = []
    if operation == "create":
        out.extend(line(f"/{key}", REQUIRED) for key in CREATE_REQUIRED if key not in fields)
    types = RULE_TYPES | MQL_SQL_TYPES if version >= MQL_SQL_SINCE else RULE_TYPES
    for key, value in fields.items():
        path = f"/{key}"
        if key in READ_ONLY_FIELDS:
            out.append(line(path, f"ReadOnly field present in a {operation} request"))
        elif key not in _WRITABLE:
            out.append(line(path, UNRECOGNIZED))
        elif key == "name":
            if type(value) is not str:
                out.append(line(path, not_string(value)))
        elif key == "account":
            if type(value) is not str:
                out.append(line(path, not_string(value)))
            elif parse_account_urn(value) is None:
                out.append(line(path, BAD_URN_PREFIX))
        elif key == "conversionMethod":
            _enum_check(value, CONVERSION_METHODS, path, out)
        elif key == "type":
            _enum_check(value, types, path, out)
        elif key == "attributionType":
            _enum_check(value, ATTRIBUTION_TYPES, path, out)
        elif key == "valueType":
            _enum_check(value, VALUE_TYPES, path, out)
        elif key in ("postClickAttributionWindowSize", "viewThroughAttributionWindowSize"):
            if type(value) is not int:
                out.append(line(path, f"{java_repr(value)} cannot be coerced to Integer"))
        elif key == "enabled":
            if type(value) is not bool:
                out.append(line(path, f"{java_repr(value)} cannot be coerced to Boolean"))
        elif key == "value":
            _value_errors(value, out)
        elif key == "urlRules" and type(value) is not list:
            out.append(line(path, not_array(value)))
    return out


def _value_errors(value: Any, out: list[str]) -> None:
    if type(value) is not dict:
        out.append(line("/value", not_record(value)))
        return
    for key in ("currencyCode", "amount"):
        if key not in value:
            out.append(line(f"/value/{key}", REQUIRED))
        elif type(value[key]) is not str:
            out.append(line(f"/value/{key}", not_string(value[key])))
    out.extend(
        line(f"/value/{key}", UNRECOGNIZED)
        for key in value
        if key not in ("currencyCode", "amount")
    )


def semantic_error(rule: dict[str, Any]) -> str | None:
    """400 message for a schema-valid rule (after defaults/merge) that LinkedIn would refuse."""
    if not rule["name"].strip():
        return "Conversion name must not be empty"
    post_click = rule["postClickAttributionWindowSize"]
    allowed = allowed_post_click(rule["type"])
    if post_click not in allowed:
        return (
            f"Invalid postClickAttributionWindowSize {post_click} for conversion type "
            f"{rule['type']}; allowed values: [{', '.join(map(str, allowed))}]"
        )
    view_through = rule["viewThroughAttributionWindowSize"]
    if view_through not in BASE_WINDOWS:
        return (
            f"Invalid viewThroughAttributionWindowSize {view_through}; "
            f"allowed values: [{', '.join(map(str, BASE_WINDOWS))}]"
        )
    return None
