"""LinkedIn's vocabulary: enums, limits and URN forms, in one place.

Sources: LinkedIn's Learn pages as of 2026-10, listed in docs/linkedin-api.md.
"""

from __future__ import annotations

import re
from datetime import date

MAX_BATCH_ELEMENTS = 5000
EVENT_MAX_AGE_DAYS = 90
DEFAULT_API_VERSION = "202609"
DEFAULT_API_BASE_URL = "https://api.linkedin.com/rest"
DEFAULT_OAUTH_TOKEN_URL = "https://www.linkedin.com/oauth/v2/accessToken"  # noqa: S105
DOCUMENTED_RATE_LIMIT_PER_MINUTE = 600

CONVERSION_TYPES: tuple[str, ...] = (
    "ADD_TO_CART", "DOWNLOAD", "INSTALL", "KEY_PAGE_VIEW", "LEAD", "PURCHASE", "SIGN_UP",
    "OTHER", "SAVE", "START_CHECKOUT", "SCHEDULE", "VIEW_CONTENT", "VIEW_VIDEO",
    "ADD_BILLING_INFO", "BOOK_APPOINTMENT", "REQUEST_QUOTE", "SEARCH", "SUBSCRIBE", "AD_CLICK",
    "AD_VIEW", "COMPLETE_SIGNUP", "SUBMIT_APPLICATION", "PHONE_CALL", "INVITE", "LOGIN", "SHARE",
    "DONATE", "ADD_TO_LIST", "START_TRIAL", "OUTBOUND_CLICK", "CONTACT", "QUALIFIED_LEAD",
    "MARKETING_QUALIFIED_LEAD", "SALES_QUALIFIED_LEAD",
)  # fmt: skip
# MQL/SQL came back for new rules in 202608 (LinkedIn's recent-changes page).
TYPE_MIN_API_VERSION = {"MARKETING_QUALIFIED_LEAD": 202608, "SALES_QUALIFIED_LEAD": 202608}

ATTRIBUTION_TYPES = ("LAST_TOUCH_BY_CAMPAIGN", "LAST_TOUCH_BY_CONVERSION")
DEFAULT_ATTRIBUTION_TYPE = "LAST_TOUCH_BY_CAMPAIGN"
DEFAULT_POST_CLICK_WINDOW = 30
DEFAULT_VIEW_THROUGH_WINDOW = 7
POST_CLICK_WINDOWS = (1, 7, 30, 90, 180, 365)
VIEW_THROUGH_WINDOWS = (1, 7, 30, 90)
LONG_WINDOW_TYPES = frozenset(
    {"SUBMIT_APPLICATION", "PURCHASE", "ADD_TO_CART", "QUALIFIED_LEAD", "LEAD"}
)
# The 180-day window (202609) is for "seven rule types": the five above plus MQL/SQL.
WINDOW_180_TYPES = LONG_WINDOW_TYPES | {"MARKETING_QUALIFIED_LEAD", "SALES_QUALIFIED_LEAD"}

CONVERSIONS_API_METHOD = "CONVERSIONS_API"

RULE_URN_PREFIX = "urn:lla:llaPartnerConversion:"
ACCOUNT_URN_PREFIX = "urn:li:sponsoredAccount:"
CAMPAIGN_URN_PREFIX = "urn:li:sponsoredCampaign:"
LEAD_URN_PREFIX = "urn:li:leadGenFormResponse:"

_NUMERIC_ID = re.compile(r"^\d+$")


def _urn_id(value: object, prefix: str) -> str | None:
    text = str(value).strip()
    if text.startswith(prefix):
        text = text[len(prefix) :]
    return text if _NUMERIC_ID.match(text) else None


def account_id(value: object) -> str | None:
    """`123` or `urn:li:sponsoredAccount:123` -> `123`; None when malformed."""
    return _urn_id(value, ACCOUNT_URN_PREFIX)


def campaign_id(value: object) -> str | None:
    """`123` or `urn:li:sponsoredCampaign:123` -> `123`; None when malformed."""
    return _urn_id(value, CAMPAIGN_URN_PREFIX)


def rule_id(value: object) -> str | None:
    """`123` or `urn:lla:llaPartnerConversion:123` -> `123`; None when malformed."""
    return _urn_id(value, RULE_URN_PREFIX)


def account_urn(account: str) -> str:
    return f"{ACCOUNT_URN_PREFIX}{account}"


def campaign_urn(campaign: str) -> str:
    return f"{CAMPAIGN_URN_PREFIX}{campaign}"


def rule_urn(rule: str | int) -> str:
    return f"{RULE_URN_PREFIX}{rule}"


# LinkedIn's migrations table as read 2026-09-23 (dates it sunsets each version on). A
# version missing here is assumed to last a year from its release, to about the 15th.
VERSION_SUNSETS: dict[str, date] = {
    "202510": date(2026, 10, 15),
    "202511": date(2026, 11, 16),
    "202601": date(2027, 1, 15),
    "202602": date(2027, 2, 15),
    "202603": date(2027, 3, 16),
    "202604": date(2027, 4, 15),
    "202605": date(2027, 5, 15),
    "202606": date(2027, 6, 15),
    "202607": date(2027, 7, 15),
    "202608": date(2027, 8, 17),
    "202609": date(2027, 9, 15),
}
SUNSET_WARNING_DAYS = 60


def version_sunset(version: str) -> tuple[date, bool]:
    """When `version` (YYYYMM, optionally .RR) is sunset, and whether LinkedIn's table says so
    (False: estimated as a year after its release)."""
    month = version[:6]
    documented = VERSION_SUNSETS.get(month)
    if documented is not None:
        return documented, True
    return date(int(month[:4]) + 1, int(month[4:6]), 15), False
