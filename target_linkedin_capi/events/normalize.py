"""Value-level normalisation: one function per kind of value, each pure and fast.

Functions return the value LinkedIn expects, `None` when the input counts as absent, or raise
`Invalid` with a stable reason code when the value is present but cannot be used.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation

from dateutil.parser import isoparse

from target_linkedin_capi.linkedin import vocabulary as linkedin


class Invalid(ValueError):
    """A present value that cannot be used; `reason` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
# Deliberately simple: one @, a dot in the domain, no whitespace. LinkedIn only matches
# normalised addresses, so anything looser would hash garbage that can never match.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_LEAD_ID = re.compile(r"^[A-Za-z0-9_\-.]+$")
# Below this, a number is epoch seconds (1e11 s is the year 5138; 1e11 ms is 1973).
_EPOCH_SECONDS_BELOW = 100_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MAX_AMOUNT_DIGITS = 40

# ISO 3166-1 alpha-2 (officially assigned codes).
ISO_COUNTRIES = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
    """.split()  # noqa: SIM905 - a compact table, not 249 list items
)


def text(value: object) -> str | None:
    """A trimmed string, or None for null, empty and whitespace-only values."""
    if value.__class__ is str:
        return value.strip() or None  # type: ignore[attr-defined]
    if value is None:
        return None
    return str(value).strip() or None


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def is_sha256_hex(value: str) -> bool:
    """64 hex digits: an identifier hashed upstream."""
    return _HEX64.match(value) is not None


def email_hash(value: object) -> str | None:
    """SHA-256 hex of the trimmed, lower-cased address; 64-hex input is already a hash.

    Returns None when the value is absent or cannot be an address (the caller counts it).
    Raises nothing: a bad email is an unusable identifier, not a bad record.
    """
    raw = value.strip() if isinstance(value, str) else text(value)
    if not raw:
        return None
    if "@" not in raw:
        # Pre-hashed upstream: pass through lower-cased, never hash twice.
        return raw.lower() if _HEX64.match(raw) else None
    address = raw.lower()
    if not _EMAIL.match(address):
        return None
    return sha256_hex(address)


def ip_identifier(value: object) -> tuple[str, str] | None:
    """(`PLAINTEXT_IP_ADDRESS`, ipv4) or (`SHA256_IP_ADDRESS`, hex); None if unusable."""
    raw = text(value)
    if raw is None:
        return None
    if _HEX64.match(raw):
        return "SHA256_IP_ADDRESS", raw.lower()
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if address.version != 4:
        return None
    return "PLAINTEXT_IP_ADDRESS", str(address)


def lead_urn(value: object) -> str | None:
    """A bare lead id or the full `urn:li:leadGenFormResponse:<id>`; None if unusable."""
    raw = text(value)
    if raw is None:
        return None
    if raw.startswith(linkedin.LEAD_URN_PREFIX):
        raw = raw[len(linkedin.LEAD_URN_PREFIX) :]
    return f"{linkedin.LEAD_URN_PREFIX}{raw}" if _LEAD_ID.match(raw) else None


def country_code(value: object) -> str | None:
    """ISO 3166 alpha-2, upper-cased; None if absent or not a country code."""
    raw = text(value)
    if raw is None:
        return None
    code = raw.upper()
    return code if code in ISO_COUNTRIES else None


def amount(value: object) -> str | None:
    """A plain decimal string (no exponent) for a non-negative finite amount."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise Invalid("value_invalid", "value_amount is a boolean, not an amount")
    try:
        # str() first: a float's shortest repr (19.99) is what the user meant, not its
        # binary expansion.
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise Invalid("value_invalid", "value_amount is not a number") from None
    if not number.is_finite():
        raise Invalid("value_invalid", "value_amount is not a finite number")
    if number < 0:
        raise Invalid("value_negative", "value_amount is negative")
    # No currency has amounts of 1e40; formatting 1e99999 would build a 100,000-digit string.
    if number and number.adjusted() >= _MAX_AMOUNT_DIGITS:
        raise Invalid("value_invalid", "value_amount is implausibly large (1e40 or more)")
    result = format(number, "f")
    return "0" if result in ("-0", "") else result.lstrip("-")


def currency(value: object) -> str | None:
    raw = text(value)
    if raw is None:
        return None
    code = raw.upper()
    if not _CURRENCY.match(code):
        raise Invalid("currency_invalid", "value_currency is not a 3-letter ISO 4217 code")
    return code


def _from_number(number: float | int | Decimal) -> int:
    if (isinstance(number, float) and not math.isfinite(number)) or (
        isinstance(number, Decimal) and not number.is_finite()
    ):
        raise Invalid("timestamp_invalid", "timestamp is not a finite number")
    if number < 0:
        raise Invalid("timestamp_invalid", "timestamp is a negative epoch value")
    if number < _EPOCH_SECONDS_BELOW:
        return int(Decimal(str(number)) * 1000)  # epoch seconds, possibly fractional
    return int(number)


def _from_datetime(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # naive means UTC
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def epoch_ms(value: object) -> int:
    """Epoch milliseconds from ISO-8601 text, datetime/date, epoch ms or epoch seconds."""
    if isinstance(value, datetime):
        return _from_datetime(value)
    if isinstance(value, date):
        return _from_datetime(datetime(value.year, value.month, value.day))
    if isinstance(value, bool):
        raise Invalid("timestamp_invalid", "timestamp is a boolean")
    if isinstance(value, (int, float, Decimal)):
        return _from_number(value)
    raw = text(value)
    if raw is None:
        raise Invalid("timestamp_missing", "timestamp is missing")
    if raw[0].isdigit() and raw.replace(".", "", 1).isdigit():
        return _from_number(Decimal(raw))
    try:
        return _from_datetime(datetime.fromisoformat(raw))
    except ValueError:
        pass
    try:
        return _from_datetime(isoparse(raw))  # 'Z' on 3.10, week dates, compact forms
    except (ValueError, OverflowError):
        raise Invalid(
            "timestamp_invalid",
            "timestamp is neither ISO-8601 nor epoch seconds/milliseconds",
        ) from None
