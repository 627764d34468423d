"""Value-level normalisation: one function per kind of value, each pure and fast.

Functions return the value LinkedIn expects, `None` when the input counts as absent, or raise
`Invalid` with a stable reason code when the value is present but cannot be used.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
from collections.abc import Mapping
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


# Every pattern here is matched only after a length check, so no value can make a match
# slow; `fullmatch` because `$` also matches before a trailing newline.
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
# Deliberately simple: one @, a dot inside the domain, no whitespace. LinkedIn only matches
# normalised addresses, so anything looser would hash garbage that can never match. Linear:
# neither side can match an @, so the engine never retries a split (the dot is checked
# apart, see `email_hash`).
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_MAX_EMAIL = 254  # RFC 5321's limit on a forward path, and LinkedIn's
_CURRENCY = re.compile(r"[A-Z]{3}")
_LEAD_ID = re.compile(r"[A-Za-z0-9_\-.]+")
_MAX_LEAD_ID = 256
_MAX_IP = 64  # a SHA-256 hex; any IP address text is shorter
# Below this, a number is epoch seconds (1e11 s is the year 5138; 1e11 ms is 1973).
_EPOCH_SECONDS_BELOW = 100_000_000_000
_EPOCH_MS_BELOW = 10**15  # the year 33658: beyond any timestamp, yet bounds every conversion
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MAX_TIMESTAMP_TEXT = 64  # ISO-8601 with nanoseconds and an offset is 35 characters
_MAX_AMOUNT_DIGITS = 40  # integer digits: no currency has amounts of 1e40
_MAX_AMOUNT_DECIMALS = 20  # beyond this a non-zero fraction is noise, not money
# Numeric text and Decimals: more characters/digits than any real amount or epoch has.
# Checked before Decimal() parses or int() converts, whose cost grows with the digits.
_MAX_NUMBER_TEXT = 100
_MAX_INT_BITS = 256  # about 77 digits: past any identifier, and cheap to print

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


NOT_TEXT = "value_not_text"
_CONTAINERS = (dict, list, tuple, set, frozenset, bytes, bytearray, Mapping)


def text(value: object) -> str | None:
    """A trimmed string, or None for null, empty and whitespace-only values.

    Numbers become their text (an integer external id is fine). An object or array has no
    text form LinkedIn could use (its printed form would leak whatever it holds): it raises
    `Invalid` with reason `value_not_text`, as does an integer too long to be an identifier.
    """
    cls = value.__class__
    if cls is str:
        # The exact-class test (faster than isinstance here) does not narrow for mypy.
        return value.strip() or None  # type: ignore[attr-defined]
    if value is None:
        return None
    if cls is dict or cls is list or isinstance(value, _CONTAINERS):
        raise Invalid(NOT_TEXT, "an object or array, not text")
    # Printing an int costs time quadratic in its digits: look at its size first.
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        raise Invalid(NOT_TEXT, "a number too long to be text")
    return str(value).strip() or None


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def is_sha256_hex(value: str) -> bool:
    """64 hex digits: an identifier hashed upstream."""
    return len(value) == 64 and _HEX64.fullmatch(value) is not None


def email_hash(value: object) -> str | None:
    """SHA-256 hex of the trimmed, lower-cased address; 64-hex input is already a hash.

    Returns None when the value is absent or cannot be an address (the caller counts it).
    A bad email is an unusable identifier, not a bad record; only an object or array
    raises (`Invalid`, reason `value_not_text`) so that the caller can say so.
    """
    # The exact-class test (faster than isinstance here) does not narrow for mypy.
    raw = value.strip() if value.__class__ is str else text(value)  # type: ignore[attr-defined]
    if not raw:
        return None
    if len(raw) > _MAX_EMAIL:
        return None  # longer than any deliverable address: never matched by LinkedIn
    if "@" not in raw:
        # Pre-hashed upstream: pass through lower-cased, never hash twice.
        return raw.lower() if is_sha256_hex(raw) else None
    address = raw.lower()
    if _EMAIL.fullmatch(address) is None:
        return None
    domain = address[address.index("@") + 1 :]
    if "." not in domain[1:-1]:
        return None
    return sha256_hex(address)


def ip_identifier(value: object) -> tuple[str, str] | None:
    """(`PLAINTEXT_IP_ADDRESS`, ipv4) or (`SHA256_IP_ADDRESS`, hex); None if unusable."""
    raw = text(value)
    if raw is None or len(raw) > _MAX_IP:
        return None
    if is_sha256_hex(raw):
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
    if len(raw) > _MAX_LEAD_ID or _LEAD_ID.fullmatch(raw) is None:
        return None
    return f"{linkedin.LEAD_URN_PREFIX}{raw}"


def country_code(value: object) -> str | None:
    """ISO 3166 alpha-2, upper-cased; None if absent or not a country code."""
    raw = text(value)
    if raw is None or len(raw) != 2:
        return None
    code = raw.upper()
    return code if code in ISO_COUNTRIES else None


def _decimal_of(value: object, field: str, reason: str) -> Decimal:
    """`value` as a Decimal whose size is known to be small enough to convert.

    Everything that costs time or memory in proportion to a number's digits or exponent
    (parsing, int(), formatting) comes after a check of that size, never before.
    """
    if isinstance(value, bool):
        raise Invalid(reason, f"{field} is a boolean, not a number")
    if isinstance(value, Decimal):
        # A Decimal handed over by the reader keeps every digit of the input's text.
        if value.is_finite() and len(value.as_tuple().digits) > _MAX_NUMBER_TEXT:
            raise Invalid(reason, f"{field} has more digits than any real {field} has")
        number = value
    elif isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            raise Invalid(reason, f"{field} is a number out of range")
        return Decimal(value)
    elif isinstance(value, float):
        # repr(), not the binary expansion: 19.99 is what the user meant. Never more
        # than 17 digits and an exponent of 3 digits.
        number = Decimal(repr(value))
    elif isinstance(value, str):
        raw = value.strip()
        if len(raw) > _MAX_NUMBER_TEXT:
            raise Invalid(reason, f"{field} has more digits than any real {field} has")
        try:
            number = Decimal(raw)
        except InvalidOperation:
            raise Invalid(reason, f"{field} is not a number") from None
    elif isinstance(value, _CONTAINERS):
        raise Invalid(reason, f"{field} is an object or array, not a number")
    else:
        raise Invalid(reason, f"{field} is not a number")
    if not number.is_finite():
        raise Invalid(reason, f"{field} is not a finite number")
    return number


def amount(value: object) -> str | None:
    """A plain decimal string (no exponent) for a non-negative finite amount.

    Out of range (1e40 or more, or a non-zero fraction finer than 20 decimal places) is
    rejected: such a value is a fault upstream, and formatting 1e-300000000 without an
    exponent would need 300 MB.
    """
    if value is None or (value.__class__ is str and not value.strip()):  # type: ignore[attr-defined]  # exact-class test
        return None
    number = _decimal_of(value, "value_amount", "value_invalid")
    if number < 0:
        raise Invalid("value_negative", "value_amount is negative")
    if not number:
        return "0"  # also 0E-999999999, which 'f' would write out digit by digit
    adjusted = number.adjusted()  # the exponent of the first significant digit
    if adjusted >= _MAX_AMOUNT_DIGITS:
        raise Invalid("value_invalid", "value_amount is implausibly large (1e40 or more)")
    if adjusted < -_MAX_AMOUNT_DECIMALS:
        raise Invalid(
            "value_invalid", f"value_amount has more than {_MAX_AMOUNT_DECIMALS} decimal places"
        )
    # Bounded now: at most 100 digits (see _decimal_of) from 10^39 down to 10^-20.
    result = format(number, "f")
    point = result.find(".")
    if point != -1 and len(result) - point - 1 > _MAX_AMOUNT_DECIMALS:
        # Trailing zeros are harmless (19.9900…0): dropped, as text, so nothing rounds.
        result = result.rstrip("0").rstrip(".")
        point = result.find(".")
        if point != -1 and len(result) - point - 1 > _MAX_AMOUNT_DECIMALS:
            raise Invalid(
                "value_invalid",
                f"value_amount has more than {_MAX_AMOUNT_DECIMALS} decimal places",
            )
    return result


def currency(value: object) -> str | None:
    try:
        raw = text(value)
    except Invalid:
        raise Invalid(
            "currency_invalid", "value_currency is an object or array, not a currency code"
        ) from None
    if raw is None:
        return None
    code = raw.upper()
    if len(code) != 3 or _CURRENCY.fullmatch(code) is None:
        raise Invalid("currency_invalid", "value_currency is not a 3-letter ISO 4217 code")
    return code


def _from_number(number: float | int | Decimal) -> int:
    """Epoch seconds (below 1e11) or milliseconds, range-checked before any conversion."""
    if isinstance(number, float) and not math.isfinite(number):
        raise Invalid("timestamp_invalid", "timestamp is not a finite number")
    if isinstance(number, Decimal):
        if not number.is_finite():
            raise Invalid("timestamp_invalid", "timestamp is not a finite number")
        # Comparing a Decimal with an int is cheap whatever its exponent; converting
        # 1e10000000 or 1e-999999999999999999 to an int is not, so the range comes first.
        if number >= _EPOCH_MS_BELOW:
            raise Invalid("timestamp_invalid", "timestamp is an epoch value out of range")
        if len(number.as_tuple().digits) > _MAX_NUMBER_TEXT:
            raise Invalid("timestamp_invalid", "timestamp has more digits than any time has")
        if number.adjusted() < -3:
            number = Decimal(0)  # under a millisecond after 1970: too old either way
    if number < 0:
        raise Invalid("timestamp_invalid", "timestamp is a negative epoch value")
    if number >= _EPOCH_MS_BELOW:
        raise Invalid("timestamp_invalid", "timestamp is an epoch value out of range")
    if number < _EPOCH_SECONDS_BELOW:
        if isinstance(number, int):
            return number * 1000
        # Epoch seconds, possibly fractional: at most 15 integer digits here, and the
        # context's 28 digits of precision round any longer fraction.
        seconds = Decimal(repr(number)) if isinstance(number, float) else number
        return int(seconds.scaleb(3))
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
    try:
        raw = text(value)
    except Invalid:
        raise Invalid("timestamp_invalid", "timestamp is an object or array, not a time") from None
    if raw is None:
        raise Invalid("timestamp_missing", "timestamp is missing")
    if len(raw) > _MAX_TIMESTAMP_TEXT:
        raise Invalid("timestamp_invalid", "timestamp is longer than any date and time")
    if raw[0].isdigit() and raw.isascii() and raw.replace(".", "", 1).isdigit():
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


def external_id(value: object) -> str | None:
    """The external id's text; an array gives its first non-empty element.

    Segment's rule, since LinkedIn takes one external id per event. Elements that are
    themselves objects or arrays are skipped; when nothing else is left the array raises
    `Invalid` (`value_not_text`) like an object does.
    """
    if value.__class__ is not list and not isinstance(value, tuple):
        return text(value)
    skipped = False
    for element in value:  # type: ignore[attr-defined]  # a list or tuple, tested above
        try:
            found = text(element)
        except Invalid:
            skipped = True
            continue
        if found is not None:
            return found
    if skipped:
        raise Invalid(NOT_TEXT, "an array of objects or arrays, not text")
    return None
