"""Value-level normalisation (normalize.py): each rule of issue 2, one value at a time."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from target_linkedin_capi.events import normalize
from target_linkedin_capi.events.normalize import Invalid

# 2026-09-15T12:30:00Z
MOMENT = datetime(2026, 9, 15, 12, 30, tzinfo=timezone.utc)
MOMENT_MS = 1_789_475_400_000


def test_moment_constant_is_right() -> None:
    assert int(MOMENT.timestamp() * 1000) == MOMENT_MS


# -- timestamps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-09-15T12:30:00Z", MOMENT_MS),
        ("2026-09-15T12:30:00+00:00", MOMENT_MS),
        ("2026-09-15T14:30:00+02:00", MOMENT_MS),
        ("2026-09-15T07:30:00-05:00", MOMENT_MS),
        ("2026-09-15T12:30:00.250Z", MOMENT_MS + 250),
        ("2026-09-15T12:30:00", MOMENT_MS),  # naive means UTC
        ("2026-09-15 12:30:00", MOMENT_MS),
        ("  2026-09-15T12:30:00Z  ", MOMENT_MS),
    ],
)
def test_iso_timestamps(value: str, expected: int) -> None:
    assert normalize.epoch_ms(value) == expected


def test_bare_date_is_utc_midnight() -> None:
    assert normalize.epoch_ms("2026-09-15") == MOMENT_MS - (12 * 3600 + 30 * 60) * 1000


def test_datetime_objects() -> None:
    assert normalize.epoch_ms(MOMENT) == MOMENT_MS
    assert normalize.epoch_ms(MOMENT.replace(tzinfo=None)) == MOMENT_MS  # naive = UTC
    berlin = MOMENT.astimezone(timezone(timedelta(hours=2)))
    assert normalize.epoch_ms(berlin) == MOMENT_MS
    assert normalize.epoch_ms(MOMENT + timedelta(microseconds=1500)) == MOMENT_MS + 1


def test_date_object_is_utc_midnight() -> None:
    assert normalize.epoch_ms(date(2026, 9, 15)) == normalize.epoch_ms("2026-09-15T00:00:00Z")


@pytest.mark.parametrize(
    "value",
    [MOMENT_MS, str(MOMENT_MS), f" {MOMENT_MS} ", Decimal(MOMENT_MS), float(MOMENT_MS)],
)
def test_epoch_milliseconds(value: object) -> None:
    assert normalize.epoch_ms(value) == MOMENT_MS


@pytest.mark.parametrize(
    "value",
    [
        MOMENT_MS // 1000,
        str(MOMENT_MS // 1000),
        float(MOMENT_MS // 1000),
        Decimal(MOMENT_MS // 1000),
    ],
)
def test_epoch_seconds_below_1e11(value: object) -> None:
    assert normalize.epoch_ms(value) == MOMENT_MS


def test_fractional_epoch_seconds_keep_milliseconds() -> None:
    assert normalize.epoch_ms(1_789_475_400.25) == MOMENT_MS + 250
    assert normalize.epoch_ms("1789475400.25") == MOMENT_MS + 250


def test_seconds_milliseconds_boundary() -> None:
    # Below 1e11 is seconds (1e11 s is the year 5138); from 1e11 on it is milliseconds.
    assert normalize.epoch_ms(99_999_999_999) == 99_999_999_999_000
    assert normalize.epoch_ms(100_000_000_000) == 100_000_000_000


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2026-13-45",
        "12/09/2026 10:00",
        "-5",
        True,
        -1,
        float("nan"),
        float("inf"),
        Decimal("NaN"),
        Decimal("Infinity"),
        Decimal("sNaN"),
    ],
)
def test_garbage_timestamp_is_invalid(value: object) -> None:
    with pytest.raises(Invalid) as caught:
        normalize.epoch_ms(value)
    assert caught.value.reason == "timestamp_invalid"
    assert "timestamp" in caught.value.message


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_timestamp(value: object) -> None:
    with pytest.raises(Invalid) as caught:
        normalize.epoch_ms(value)
    assert caught.value.reason == "timestamp_missing"


# -- email -----------------------------------------------------------------------------------


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_email_trimmed_lowercased_hashed() -> None:
    assert normalize.email_hash("  Jane.Doe@Example.COM \n") == sha("jane.doe@example.com")
    assert normalize.email_hash("jane.doe@example.com") == sha("jane.doe@example.com")


def test_prehashed_email_passes_through_lowercased() -> None:
    hashed = sha("jane.doe@example.com")
    assert normalize.email_hash(hashed.upper()) == hashed
    assert normalize.email_hash(f" {hashed} ") == hashed
    # never hashed twice
    assert normalize.email_hash(hashed) != sha(hashed)


@pytest.mark.parametrize(
    "value", [None, "", "   ", "\t\n", "not-an-email", "a@b", "two@@example.com", "a b@example.com"]
)
def test_impossible_or_blank_email_is_absent(value: object) -> None:
    assert normalize.email_hash(value) is None


def test_63_hex_chars_are_an_email_candidate_not_a_hash() -> None:
    # Not 64 hex characters: not a hash, and not an address either.
    assert normalize.email_hash("a" * 63) is None


# -- ip address ------------------------------------------------------------------------------


def test_ipv4_is_plaintext() -> None:
    assert normalize.ip_identifier(" 203.0.113.7 ") == ("PLAINTEXT_IP_ADDRESS", "203.0.113.7")


def test_hashed_ip() -> None:
    hashed = sha("203.0.113.7")
    assert normalize.ip_identifier(hashed.upper()) == ("SHA256_IP_ADDRESS", hashed)


@pytest.mark.parametrize(
    "value", [None, "", "2001:db8::1", "::1", "999.999.999.999", "10.0.0", "host.example.com"]
)
def test_ipv6_and_garbage_ip_unusable(value: object) -> None:
    assert normalize.ip_identifier(value) is None


# -- lead, country ---------------------------------------------------------------------------


def test_lead_bare_id_and_urn() -> None:
    assert normalize.lead_urn("98765") == "urn:li:leadGenFormResponse:98765"
    assert normalize.lead_urn(98765) == "urn:li:leadGenFormResponse:98765"
    urn = "urn:li:leadGenFormResponse:abc-123"
    assert normalize.lead_urn(urn) == urn


@pytest.mark.parametrize("value", [None, "", "urn:li:sponsoredCampaign:1", "has space"])
def test_lead_unusable(value: object) -> None:
    assert normalize.lead_urn(value) is None


@pytest.mark.parametrize(("value", "expected"), [("us", "US"), (" De ", "DE"), ("GB", "GB")])
def test_country_code_upper_cased(value: str, expected: str) -> None:
    assert normalize.country_code(value) == expected


@pytest.mark.parametrize("value", [None, "", "USA", "XX", "U", "uk"])
def test_country_code_not_iso_alpha2(value: object) -> None:
    assert normalize.country_code(value) is None


# -- value -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (100, "100"),
        (19.99, "19.99"),
        (0.1, "0.1"),
        (Decimal("1E+2"), "100"),
        (Decimal("19.990"), "19.990"),
        ("1E+2", "100"),
        ("1e-3", "0.001"),
        (" 42.5 ", "42.5"),
        (1e20, "100000000000000000000"),
        (0, "0"),
        (Decimal("-0"), "0"),
    ],
)
def test_amount_plain_decimal_string(value: object, expected: str) -> None:
    result = normalize.amount(value)
    assert result == expected
    assert "e" not in result.lower()


@pytest.mark.parametrize("value", [None, "", "  "])
def test_amount_absent(value: object) -> None:
    assert normalize.amount(value) is None


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), float("-inf"), "NaN", "Infinity", Decimal("nan")]
)
def test_amount_not_finite_rejected(value: object) -> None:
    with pytest.raises(Invalid) as caught:
        normalize.amount(value)
    assert caught.value.reason == "value_invalid"


@pytest.mark.parametrize("value", [-1, -0.01, "-5", Decimal("-19.99")])
def test_negative_amount_rejected(value: object) -> None:
    with pytest.raises(Invalid) as caught:
        normalize.amount(value)
    assert caught.value.reason == "value_negative"


@pytest.mark.parametrize("value", ["ten", True, "1,000"])
def test_amount_not_a_number(value: object) -> None:
    with pytest.raises(Invalid) as caught:
        normalize.amount(value)
    assert caught.value.reason == "value_invalid"


@pytest.mark.parametrize(("value", "expected"), [("usd", "USD"), (" Eur ", "EUR"), (None, None)])
def test_currency(value: object, expected: str | None) -> None:
    assert normalize.currency(value) == expected


@pytest.mark.parametrize("value", ["US", "DOLLAR", "U$D", "12A"])
def test_bad_currency(value: str) -> None:
    with pytest.raises(Invalid) as caught:
        normalize.currency(value)
    assert caught.value.reason == "currency_invalid"


def test_text_never_returns_blank() -> None:
    assert normalize.text("  x ") == "x"
    assert normalize.text("   ") is None
    assert normalize.text(None) is None
    assert normalize.text(12) == "12"


# -- objects and arrays are never text -------------------------------------------------------

NESTED = {"tier": "gold", "email": "nested189@example.org"}


@pytest.mark.parametrize("value", [NESTED, ["crm-190", "shopify-190"], ("a",), {"x"}, b"raw"])
def test_objects_and_arrays_are_not_text(value: object) -> None:
    with pytest.raises(Invalid) as caught:
        normalize.text(value)
    assert caught.value.reason == "value_not_text"
    assert "nested189" not in caught.value.message and "crm" not in caught.value.message


@pytest.mark.parametrize(
    "name", ["email_hash", "ip_identifier", "lead_urn", "country_code", "external_id"]
)
def test_identifier_normalisers_refuse_objects(name: str) -> None:
    with pytest.raises(Invalid) as caught:
        getattr(normalize, name)(NESTED)
    assert caught.value.reason == "value_not_text"


@pytest.mark.parametrize(
    ("fn", "reason"),
    [
        (normalize.epoch_ms, "timestamp_invalid"),
        (normalize.amount, "value_invalid"),
        (normalize.currency, "currency_invalid"),
    ],
)
@pytest.mark.parametrize("value", [NESTED, ["USD"], [1789475400]])
def test_value_fields_reject_objects_with_a_reason(fn: object, reason: str, value: object) -> None:
    with pytest.raises(Invalid) as caught:
        fn(value)  # type: ignore[operator]
    assert caught.value.reason == reason
    assert "nested189" not in caught.value.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["crm-190", "shopify-190"], "crm-190"),
        (["", "  ", None, "crm-7"], "crm-7"),
        ([{"a": 1}, 42], "42"),
        ([], None),
        ([None, ""], None),
        (42, "42"),
        (" x-1 ", "x-1"),
    ],
)
def test_external_id_array_gives_first_non_empty_element(value: object, expected: str) -> None:
    assert normalize.external_id(value) == expected


def test_external_id_array_of_objects_is_not_text() -> None:
    with pytest.raises(Invalid) as caught:
        normalize.external_id([NESTED, ["x"]])
    assert caught.value.reason == "value_not_text"


def test_numbers_as_text_stay_fine() -> None:
    assert normalize.text(190) == "190"
    assert normalize.text(Decimal("12.5")) == "12.5"
    assert normalize.text(2**200) == str(2**200)


# -- sizes: no value can hang or exhaust the target ------------------------------------------


def run_bounded(body: str, *, seconds: float = 30, memory: int = 1 << 30) -> object:
    """Run `body` in a child under a hard time limit and an address-space cap.

    The child prints one JSON line (its answer); a hang is killed at `seconds`.
    """
    script = (
        "import json, resource\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))\n"
        "from decimal import Decimal\n"
        "from target_linkedin_capi.events import normalize\n"
        "from target_linkedin_capi.events.normalize import Invalid\n"
        "def outcome(fn, value):\n"
        "    try:\n"
        "        return ['ok', fn(value)]\n"
        "    except Invalid as exc:\n"
        "        return [exc.reason, exc.message]\n" + textwrap.dedent(body)
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=seconds
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"did not finish within {seconds} s")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_huge_and_tiny_timestamps_are_rejected_quickly_as_decimal_float_int_and_text() -> None:
    results = run_bounded(
        """
        values = [Decimal("1e10000000"), Decimal("1e-999999999999999999"), Decimal("-1e99999"),
                  10**20000, 1e300, float("inf"), "1" * 200_000, "9" * 64, "1e10000000",
                  Decimal("1." + "1" * 500_000), "x" * 1_000_000]
        print(json.dumps([outcome(normalize.epoch_ms, v) for v in values]))
        """
    )
    # 1e-999999999999999999 s is 1970: epoch 0, rejected by the mapper as too old.
    assert results[1] == ["ok", 0]
    assert [reason for reason, *_ in results[:1] + results[2:]] == ["timestamp_invalid"] * 10


def test_epoch_values_that_round_to_1970_are_old_not_slow() -> None:
    # Under a millisecond: epoch 0, which the mapper rejects as older than 90 days.
    assert normalize.epoch_ms(Decimal("1e-999999999999999999")) == 0
    assert normalize.epoch_ms(Decimal("0.0004")) == 0
    assert normalize.epoch_ms(Decimal("1789475400.2509")) == MOMENT_MS + 250


def test_huge_and_tiny_amounts_are_rejected_quickly_as_decimal_float_int_and_text() -> None:
    results = run_bounded(
        """
        values = [Decimal("1e-300000000"), "1e-300000000", Decimal("1e-999999999999999999"),
                  Decimal("1e10000000"), 10**20000, 1e-300, "1" * 200_000,
                  Decimal("1." + "1" * 500_000), "1e40"]
        print(json.dumps([outcome(normalize.amount, v)[0] for v in values]))
        """
    )
    assert results == ["value_invalid"] * 9


def test_amount_zero_with_any_exponent_and_trailing_zeros() -> None:
    assert normalize.amount(Decimal("0E-300000000")) == "0"
    assert normalize.amount(Decimal("0E+300000000")) == "0"
    assert normalize.amount(Decimal("19.99" + "0" * 40)) == "19.99"  # exact, not rounded
    assert normalize.amount("0.00000000000000000001") == "0.00000000000000000001"
    with pytest.raises(Invalid) as caught:
        normalize.amount("0.000000000000000000001")  # 21 decimal places
    assert caught.value.reason == "value_invalid"


def test_long_values_in_every_pattern_are_linear() -> None:
    # 80 KB email-like values took 18 s with the old pattern; 2 MB must finish at once.
    results = run_bounded(
        """
        n = 2_000_000
        values = ["a@" + "." * n + " ", "a@" + "a." * n + "@", "a" * n + "@b.c", "@" * n]
        out = [normalize.email_hash(v) for v in values]
        out.append(normalize.lead_urn("a" * n + " b"))
        out.append(normalize.ip_identifier("1" * n))
        out.append(normalize.country_code("u" * n))
        out.append(normalize.is_sha256_hex("a" * n))
        out.append(outcome(normalize.currency, "u" * n)[0])
        print(json.dumps(out))
        """
    )
    assert results == [None, None, None, None, None, None, None, False, "currency_invalid"]


def test_email_longer_than_254_characters_is_unusable() -> None:
    local = "a" * 64
    ok = f"{local}@{'b' * 180}.com"
    assert len(ok) <= 254 and normalize.email_hash(ok) is not None
    assert normalize.email_hash(f"{local}@{'b' * 200}.com") is None


def test_hash_with_trailing_newline_is_not_a_hash() -> None:
    assert normalize.is_sha256_hex("a" * 64 + "\n") is False
