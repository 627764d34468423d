"""Record -> LinkedIn event (mapping.py): issue 2 "Per-record normalisation and validation"."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from target_linkedin_capi.events.fields import CANONICAL_FIELDS
from target_linkedin_capi.events.mapper import EventMapper, Rejection
from tests.constants import DAY_MS, RULE_URN  # the rule of the shared base config
from tests.helpers import now_ms

EMAIL = "jane.doe@example.com"
EMAIL_HASH = hashlib.sha256(EMAIL.encode()).hexdigest()
# LinkedIn's event element: the only keys it accepts.
EVENT_KEYS = {"conversion", "conversionHappenedAt", "conversionValue", "eventId", "user"}
USER_KEYS = {"userIds", "userInfo", "externalIds", "lead"}
USER_INFO_KEYS = {"firstName", "lastName", "companyName", "title", "countryCode"}
ID_TYPES = {
    "SHA256_EMAIL",
    "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID",
    "ACXIOM_ID",
    "ORACLE_MOAT_ID",
    "PLAINTEXT_IP_ADDRESS",
    "SHA256_IP_ADDRESS",
    "GOOGLE_AID",
}


def recent() -> int:
    return now_ms() - DAY_MS


def event_of(record: dict[str, Any], mapper: EventMapper) -> dict[str, Any]:
    result = mapper.map(record)
    assert isinstance(result, dict), f"expected an event, got {result}"
    assert_linkedin_shape(result)
    return result


def rejection_of(record: dict[str, Any], mapper: EventMapper) -> Rejection:
    result = mapper.map(record)
    assert isinstance(result, Rejection), f"expected a rejection, got {result}"
    assert result.message.strip()
    return result


def assert_linkedin_shape(event: dict[str, Any]) -> None:
    """Only keys LinkedIn accepts; never an empty string or a null anywhere."""
    assert set(event) <= EVENT_KEYS
    assert {"conversion", "conversionHappenedAt", "user"} <= set(event)
    assert set(event["user"]) <= USER_KEYS
    assert isinstance(event["user"]["userIds"], list)
    for entry in event["user"]["userIds"]:
        assert set(entry) == {"idType", "idValue"}
        assert entry["idType"] in ID_TYPES
    assert set(event["user"].get("userInfo", {})) <= USER_INFO_KEYS
    if "conversionValue" in event:
        assert set(event["conversionValue"]) == {"currencyCode", "amount"}
        assert isinstance(event["conversionValue"]["amount"], str)

    def walk(value: Any) -> None:
        assert value is not None
        assert value != ""
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(event)
    json.dumps(event)  # serialisable as is


# -- the whole element -----------------------------------------------------------------------


def test_full_record_maps_to_exact_event(make_mapper: Callable[..., EventMapper]) -> None:
    ts = recent()
    mapper = make_mapper(keys=("order_id",))
    event = event_of(
        {
            "order_id": 7,
            "timestamp": ts,
            "event_id": "evt-7",
            "value_amount": 19.99,
            "value_currency": "usd",
            "email": "  Jane.Doe@Example.com ",
            "linkedin_first_party_ads_tracking_uuid": "df5gf5-gh6t7",
            "acxiom_id": "AX-1",
            "oracle_moat_id": "MOAT-1",
            "ip_address": "203.0.113.7",
            "google_aid": "gaid-1",
            "first_name": " Jane ",
            "last_name": "Doe",
            "company_name": "Acme",
            "title": "CTO",
            "country_code": "us",
            "external_id": "cust-42",
            "lead_id": "98765",
        },
        mapper,
    )
    assert event == {
        "conversion": RULE_URN,
        "conversionHappenedAt": ts,
        "conversionValue": {"currencyCode": "USD", "amount": "19.99"},
        "eventId": "evt-7",
        "user": {
            "userIds": [
                {"idType": "SHA256_EMAIL", "idValue": EMAIL_HASH},
                {"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": "df5gf5-gh6t7"},
                {"idType": "ACXIOM_ID", "idValue": "AX-1"},
                {"idType": "ORACLE_MOAT_ID", "idValue": "MOAT-1"},
                {"idType": "GOOGLE_AID", "idValue": "gaid-1"},
                {"idType": "PLAINTEXT_IP_ADDRESS", "idValue": "203.0.113.7"},
            ],
            "userInfo": {
                "firstName": "Jane",
                "lastName": "Doe",
                "companyName": "Acme",
                "title": "CTO",
                "countryCode": "US",
            },
            "externalIds": ["cust-42"],
            "lead": "urn:li:leadGenFormResponse:98765",
        },
    }


def test_acxiom_spelled_as_linkedin_documents(make_mapper: Callable[..., EventMapper]) -> None:
    event = event_of({"timestamp": recent(), "acxiom_id": "AX-9"}, make_mapper())
    assert event["user"]["userIds"] == [{"idType": "ACXIOM_ID", "idValue": "AX-9"}]
    assert "AXCIOM" not in json.dumps(event)


def test_empty_strings_and_nulls_never_sent(make_mapper: Callable[..., EventMapper]) -> None:
    event = event_of(
        {
            "timestamp": recent(),
            "email": EMAIL,
            "event_id": "",
            "value_amount": None,
            "value_currency": "",
            "acxiom_id": "   ",
            "google_aid": None,
            "first_name": "Jane",
            "last_name": "Doe",
            "company_name": "",
            "title": None,
            "country_code": " ",
            "external_id": "",
            "lead_id": None,
        },
        make_mapper(),
    )
    assert event["user"] == {
        "userIds": [{"idType": "SHA256_EMAIL", "idValue": EMAIL_HASH}],
        "userInfo": {"firstName": "Jane", "lastName": "Doe"},
    }
    assert "conversionValue" not in event
    assert "eventId" not in event


def test_unknown_record_properties_are_not_sent(make_mapper: Callable[..., EventMapper]) -> None:
    event = event_of(
        {"timestamp": recent(), "email": EMAIL, "password": "x", "user": {"a": 1}}, make_mapper()
    )
    assert "password" not in json.dumps(event)
    assert set(event) == {"conversion", "conversionHappenedAt", "user"}


# -- timestamps ------------------------------------------------------------------------------


def test_timestamp_forms_in_a_record(make_mapper: Callable[..., EventMapper]) -> None:
    moment = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=2)
    expected = int(moment.timestamp() * 1000)
    naive = moment.replace(tzinfo=None).isoformat()
    for value in (
        moment,
        moment.isoformat(),
        moment.isoformat().replace("+00:00", "Z"),
        naive,
        expected,
        str(expected),
        expected // 1000,
        str(expected // 1000),
    ):
        event = event_of({"timestamp": value, "email": EMAIL}, make_mapper())
        assert event["conversionHappenedAt"] == expected, value


def test_bare_date_in_record_is_utc_midnight(make_mapper: Callable[..., EventMapper]) -> None:
    day = (datetime.now(timezone.utc) - timedelta(days=3)).date()
    event = event_of({"timestamp": day.isoformat(), "email": EMAIL}, make_mapper())
    midnight = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    assert event["conversionHappenedAt"] == int(midnight.timestamp() * 1000)
    event = event_of({"timestamp": day, "email": EMAIL}, make_mapper())
    assert event["conversionHappenedAt"] == int(midnight.timestamp() * 1000)


def test_89_days_old_is_accepted(make_mapper: Callable[..., EventMapper]) -> None:
    event_of({"timestamp": now_ms() - 89 * DAY_MS, "email": EMAIL}, make_mapper())


@pytest.mark.parametrize("days", [91, 365])
def test_older_than_90_days_rejected(days: int, make_mapper: Callable[..., EventMapper]) -> None:
    rejection = rejection_of({"timestamp": now_ms() - days * DAY_MS, "email": EMAIL}, make_mapper())
    assert rejection.reason == "timestamp_too_old"
    assert rejection.field == "timestamp"
    assert "90" in rejection.message


def test_future_rejected(make_mapper: Callable[..., EventMapper]) -> None:
    rejection = rejection_of({"timestamp": now_ms() + 3_600_000, "email": EMAIL}, make_mapper())
    assert rejection.reason == "timestamp_in_future"
    assert rejection.field == "timestamp"


def test_garbage_timestamp_rejected(make_mapper: Callable[..., EventMapper]) -> None:
    rejection = rejection_of({"timestamp": "last tuesday", "email": EMAIL}, make_mapper())
    assert (rejection.reason, rejection.field) == ("timestamp_invalid", "timestamp")


@pytest.mark.parametrize("record", [{"email": EMAIL}, {"timestamp": None, "email": EMAIL}])
def test_missing_timestamp_rejected(
    record: dict[str, Any], make_mapper: Callable[..., EventMapper]
) -> None:
    rejection = rejection_of(record, make_mapper())
    assert (rejection.reason, rejection.field) == ("timestamp_missing", "timestamp")


# -- email -----------------------------------------------------------------------------------


def test_prehashed_email_never_hashed_twice(make_mapper: Callable[..., EventMapper]) -> None:
    event = event_of({"timestamp": recent(), "email": EMAIL_HASH.upper()}, make_mapper())
    assert event["user"]["userIds"] == [{"idType": "SHA256_EMAIL", "idValue": EMAIL_HASH}]


def test_impossible_email_is_absent_and_counted(make_mapper: Callable[..., EventMapper]) -> None:
    notes: Counter[str] = Counter()
    mapper = make_mapper(notes=notes)
    event = event_of({"timestamp": recent(), "email": "not an email", "external_id": "c1"}, mapper)
    assert event["user"] == {"userIds": [], "externalIds": ["c1"]}
    assert notes["email_unusable_dropped"] == 1
    rejection = rejection_of({"timestamp": recent(), "email": "nope@"}, mapper)
    assert rejection.reason == "no_identifier"
    assert "email" in rejection.message and "nope" not in rejection.message
    # Notes count records that became events only: the rejected one is not "kept".
    assert notes["email_unusable_dropped"] == 1


def test_whitespace_only_email_is_absent(make_mapper: Callable[..., EventMapper]) -> None:
    # Whitespace-only is treated like an empty string: absent (not an unusable value).
    notes: Counter[str] = Counter()
    mapper = make_mapper(notes=notes)
    rejection = rejection_of({"timestamp": recent(), "email": "   "}, mapper)
    assert rejection.reason == "no_identifier"
    event = event_of({"timestamp": recent(), "email": " \t", "external_id": "c1"}, mapper)
    assert event["user"]["userIds"] == []
    assert notes["email_unusable_dropped"] == 0


# -- identity --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "user"),
    [
        (
            {"first_name": "Jane", "last_name": "Doe"},
            {"userIds": [], "userInfo": {"firstName": "Jane", "lastName": "Doe"}},
        ),
        ({"external_id": "cust-1"}, {"userIds": [], "externalIds": ["cust-1"]}),
        (
            {"lead_id": "urn:li:leadGenFormResponse:55"},
            {"userIds": [], "lead": "urn:li:leadGenFormResponse:55"},
        ),
        (
            {"google_aid": "g-1"},
            {"userIds": [{"idType": "GOOGLE_AID", "idValue": "g-1"}]},
        ),
        (
            {"linkedin_first_party_ads_tracking_uuid": "li-fat"},
            {
                "userIds": [
                    {"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": "li-fat"}
                ]
            },
        ),
    ],
)
def test_each_identifier_alone_is_enough(
    record: dict[str, Any], user: dict[str, Any], make_mapper: Callable[..., EventMapper]
) -> None:
    event = event_of({"timestamp": recent(), **record}, make_mapper())
    assert event["user"] == user  # userIds always present, possibly []


@pytest.mark.parametrize("names", [{"first_name": "Jane"}, {"last_name": "Doe"}])
def test_incomplete_name_with_other_id_drops_user_info(
    names: dict[str, str], make_mapper: Callable[..., EventMapper]
) -> None:
    notes: Counter[str] = Counter()
    event = event_of(
        {"timestamp": recent(), "email": EMAIL, "company_name": "Acme", **names},
        make_mapper(notes=notes),
    )
    assert event["user"] == {"userIds": [{"idType": "SHA256_EMAIL", "idValue": EMAIL_HASH}]}
    assert notes["user_info_incomplete_dropped"] == 1


def test_incomplete_name_alone_rejected(make_mapper: Callable[..., EventMapper]) -> None:
    rejection = rejection_of(
        {"timestamp": recent(), "first_name": "Jane", "title": "CTO"}, make_mapper()
    )
    assert rejection.reason == "no_identifier"


def test_no_identifier_rejected(make_mapper: Callable[..., EventMapper]) -> None:
    rejection = rejection_of(
        {"timestamp": recent(), "value_amount": 5, "value_currency": "USD"}, make_mapper()
    )
    assert rejection.reason == "no_identifier"
    assert "identifier" in rejection.message


def test_company_title_country_without_names_not_sent(
    make_mapper: Callable[..., EventMapper],
) -> None:
    event = event_of(
        {"timestamp": recent(), "email": EMAIL, "company_name": "Acme", "country_code": "US"},
        make_mapper(),
    )
    assert "userInfo" not in event["user"]


def test_country_code_upper_cased_and_bad_one_dropped(
    make_mapper: Callable[..., EventMapper],
) -> None:
    notes: Counter[str] = Counter()
    mapper = make_mapper(notes=notes)
    base = {"timestamp": recent(), "first_name": "J", "last_name": "D"}
    assert (
        event_of({**base, "country_code": "de"}, mapper)["user"]["userInfo"]["countryCode"] == "DE"
    )
    event = event_of({**base, "country_code": "Germany"}, mapper)
    assert "countryCode" not in event["user"]["userInfo"]
    assert notes["country_code_unusable_dropped"] == 1


# -- ip address and lead ---------------------------------------------------------------------


def test_ip_plain_and_hashed(make_mapper: Callable[..., EventMapper]) -> None:
    hashed = hashlib.sha256(b"203.0.113.7").hexdigest()
    event = event_of({"timestamp": recent(), "ip_address": "203.0.113.7"}, make_mapper())
    assert event["user"]["userIds"] == [
        {"idType": "PLAINTEXT_IP_ADDRESS", "idValue": "203.0.113.7"}
    ]
    event = event_of({"timestamp": recent(), "ip_address": hashed.upper()}, make_mapper())
    assert event["user"]["userIds"] == [{"idType": "SHA256_IP_ADDRESS", "idValue": hashed}]


@pytest.mark.parametrize("ip", ["2001:db8::1", "999.999.999.999", "garbage"])
def test_unusable_ip_dropped_and_counted(ip: str, make_mapper: Callable[..., EventMapper]) -> None:
    notes: Counter[str] = Counter()
    event = event_of(
        {"timestamp": recent(), "email": EMAIL, "ip_address": ip}, make_mapper(notes=notes)
    )
    assert event["user"]["userIds"] == [{"idType": "SHA256_EMAIL", "idValue": EMAIL_HASH}]
    assert notes["ip_address_unusable_dropped"] == 1


def test_unusable_ip_as_only_identifier_rejects(make_mapper: Callable[..., EventMapper]) -> None:
    notes: Counter[str] = Counter()
    rejection = rejection_of(
        {"timestamp": recent(), "ip_address": "2001:db8::1"}, make_mapper(notes=notes)
    )
    assert rejection.reason == "no_identifier"
    assert "ip_address" in rejection.message and "2001" not in rejection.message
    assert notes["ip_address_unusable_dropped"] == 0  # not sent, so not "kept with changes"


def test_lead_bare_id_becomes_urn(make_mapper: Callable[..., EventMapper]) -> None:
    event = event_of({"timestamp": recent(), "lead_id": 12345}, make_mapper())
    assert event["user"]["lead"] == "urn:li:leadGenFormResponse:12345"


def test_unusable_lead_dropped_counted_and_rejects_when_alone(
    make_mapper: Callable[..., EventMapper],
) -> None:
    notes: Counter[str] = Counter()
    mapper = make_mapper(notes=notes)
    event = event_of({"timestamp": recent(), "email": EMAIL, "lead_id": "urn:li:other:1"}, mapper)
    assert "lead" not in event["user"]
    assert (
        rejection_of({"timestamp": recent(), "lead_id": "bad lead"}, mapper).reason
        == "no_identifier"
    )
    assert notes["lead_id_unusable_dropped"] == 1  # the rejected record is not counted


# -- value -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [(100, "100"), (19.99, "19.99"), (Decimal("1E+2"), "100"), ("1E+2", "100"), ("0.50", "0.50")],
)
def test_amount_is_plain_decimal_string(
    amount: object, expected: str, make_mapper: Callable[..., EventMapper]
) -> None:
    event = event_of(
        {"timestamp": recent(), "email": EMAIL, "value_amount": amount, "value_currency": "eur"},
        make_mapper(),
    )
    assert event["conversionValue"] == {"currencyCode": "EUR", "amount": expected}


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (float("nan"), "value_invalid"),
        (float("inf"), "value_invalid"),
        ("-Infinity", "value_invalid"),
        (-5, "value_negative"),
        ("-0.01", "value_negative"),
        ("abc", "value_invalid"),
    ],
)
def test_bad_amount_rejected(
    amount: object, reason: str, make_mapper: Callable[..., EventMapper]
) -> None:
    rejection = rejection_of(
        {"timestamp": recent(), "email": EMAIL, "value_amount": amount, "value_currency": "USD"},
        make_mapper(),
    )
    assert (rejection.reason, rejection.field) == (reason, "value_amount")


def test_amount_without_currency_rejected_naming_default_setting(
    make_mapper: Callable[..., EventMapper],
) -> None:
    rejection = rejection_of(
        {"timestamp": recent(), "email": EMAIL, "value_amount": 10}, make_mapper()
    )
    assert (rejection.reason, rejection.field) == ("currency_missing", "value_currency")
    assert "field_defaults.value_currency" in rejection.message


def test_currency_default_completes_amount(make_mapper: Callable[..., EventMapper]) -> None:
    mapper = make_mapper(field_defaults={"value_currency": "gbp"})
    event = event_of({"timestamp": recent(), "email": EMAIL, "value_amount": 10}, mapper)
    assert event["conversionValue"] == {"currencyCode": "GBP", "amount": "10"}
    # The record's own currency wins over the default.
    event = event_of(
        {"timestamp": recent(), "email": EMAIL, "value_amount": 10, "value_currency": "CHF"}, mapper
    )
    assert event["conversionValue"]["currencyCode"] == "CHF"


def test_bad_currency_rejected(make_mapper: Callable[..., EventMapper]) -> None:
    rejection = rejection_of(
        {"timestamp": recent(), "email": EMAIL, "value_amount": 1, "value_currency": "dollars"},
        make_mapper(),
    )
    assert (rejection.reason, rejection.field) == ("currency_invalid", "value_currency")


def test_neither_amount_nor_currency_sends_no_value(
    make_mapper: Callable[..., EventMapper],
) -> None:
    event = event_of({"timestamp": recent(), "email": EMAIL}, make_mapper())
    assert "conversionValue" not in event


def test_currency_without_amount_sends_no_value(make_mapper: Callable[..., EventMapper]) -> None:
    event = event_of(
        {"timestamp": recent(), "email": EMAIL, "value_currency": "USD"}, make_mapper()
    )
    assert "conversionValue" not in event


# -- event id --------------------------------------------------------------------------------


def test_event_id_from_record_and_mapping(make_mapper: Callable[..., EventMapper]) -> None:
    assert (
        event_of({"timestamp": recent(), "email": EMAIL, "event_id": 77}, make_mapper())["eventId"]
        == "77"
    )
    mapper = make_mapper(field_mappings={"event_id": "meta.id"}, keys=("id",))
    event = event_of(
        {"id": 1, "timestamp": recent(), "email": EMAIL, "meta": {"id": "m-1"}}, mapper
    )
    assert event["eventId"] == "m-1"


def test_derived_event_id_is_deterministic(make_mapper: Callable[..., EventMapper]) -> None:
    record = {"id": 42, "timestamp": recent(), "email": EMAIL}
    first = event_of(record, make_mapper(keys=("id",)))["eventId"]
    again = event_of(dict(record), make_mapper(keys=("id",)))["eventId"]  # a new run
    assert first == again
    assert 0 < len(first) <= 64
    assert event_of({**record, "id": 43}, make_mapper(keys=("id",)))["eventId"] != first
    assert event_of(record, make_mapper(keys=("id",), stream="refunds"))["eventId"] != first


def test_derived_event_id_uses_every_key_property(make_mapper: Callable[..., EventMapper]) -> None:
    mapper = make_mapper(keys=("shop", "order"))
    a = event_of({"shop": "s1", "order": 1, "timestamp": recent(), "email": EMAIL}, mapper)
    b = event_of({"shop": "s2", "order": 1, "timestamp": recent(), "email": EMAIL}, mapper)
    assert a["eventId"] != b["eventId"]


def test_no_event_id_without_mapping_or_keys(make_mapper: Callable[..., EventMapper]) -> None:
    assert "eventId" not in event_of({"timestamp": recent(), "email": EMAIL}, make_mapper())


def test_rejection_still_knows_the_derived_event_id(
    make_mapper: Callable[..., EventMapper],
) -> None:
    mapper = make_mapper(keys=("id",))
    record = {"id": 1, "timestamp": "garbage", "email": EMAIL}
    assert isinstance(mapper.map(record), Rejection)
    assert mapper.event_id_of(record) == mapper.derived_event_id(record)
    assert mapper.event_id_of(record) is not None


# -- field mappings and defaults -------------------------------------------------------------


def test_dotted_paths_reach_into_nested_objects(make_mapper: Callable[..., EventMapper]) -> None:
    mapper = make_mapper(
        field_mappings={
            "email": "customer.contact.email",
            "timestamp": "meta.at",
            "value_amount": "order.total",
        },
        field_defaults={"value_currency": "USD"},
    )
    ts = recent()
    event = event_of(
        {"customer": {"contact": {"email": EMAIL}}, "meta": {"at": ts}, "order": {"total": "5"}},
        mapper,
    )
    assert event["user"]["userIds"][0]["idValue"] == EMAIL_HASH
    assert event["conversionHappenedAt"] == ts
    assert event["conversionValue"] == {"currencyCode": "USD", "amount": "5"}


def test_dotted_path_through_missing_or_scalar_is_absent(
    make_mapper: Callable[..., EventMapper],
) -> None:
    mapper = make_mapper(field_mappings={"email": "customer.email"})
    for record in ({"customer": None}, {"customer": "x"}, {}):
        rejection = rejection_of({"timestamp": recent(), **record}, mapper)
        assert rejection.reason == "no_identifier"


def test_mapping_replaces_same_named_property(make_mapper: Callable[..., EventMapper]) -> None:
    mapper = make_mapper(field_mappings={"email": "work_email"})
    event = event_of(
        {"timestamp": recent(), "email": "other@example.com", "work_email": EMAIL}, mapper
    )
    assert event["user"]["userIds"] == [{"idType": "SHA256_EMAIL", "idValue": EMAIL_HASH}]


def test_defaults_used_when_value_absent_or_null(make_mapper: Callable[..., EventMapper]) -> None:
    ts = recent()
    mapper = make_mapper(field_defaults={"timestamp": ts, "external_id": "anon"})
    for record in ({}, {"timestamp": None, "external_id": None}, {"external_id": ""}):
        event = event_of(record, mapper)
        assert event["conversionHappenedAt"] == ts
        assert event["user"]["externalIds"] == ["anon"]
    event = event_of({"external_id": "real"}, mapper)
    assert event["user"]["externalIds"] == ["real"]


def test_default_applies_to_mapped_path(make_mapper: Callable[..., EventMapper]) -> None:
    mapper = make_mapper(
        field_mappings={"value_currency": "order.currency"},
        field_defaults={"value_currency": "USD"},
    )
    event = event_of(
        {"timestamp": recent(), "email": EMAIL, "value_amount": 3, "order": {"currency": None}},
        mapper,
    )
    assert event["conversionValue"]["currencyCode"] == "USD"


def test_every_canonical_field_falls_back_to_same_named_property(
    make_mapper: Callable[..., EventMapper],
) -> None:
    # No field_mappings at all: a table whose columns carry the canonical names just works.
    record = {name: None for name in CANONICAL_FIELDS}
    record.update(
        timestamp=recent(), email=EMAIL, value_amount="1", value_currency="USD", event_id="e"
    )
    event = event_of(record, make_mapper())
    assert event["conversionValue"] == {"currencyCode": "USD", "amount": "1"}
    assert event["eventId"] == "e"


def test_per_rule_mappings_from_conversion_rules_entry(make_settings: Callable[..., Any]) -> None:
    settings = make_settings(
        conversion_rule_id=None,
        field_mappings={"email": "mail"},
        field_defaults={"value_currency": "USD"},
        conversion_rules=[
            {
                "streams": ["orders"],
                "conversion_rule_id": "9",
                "field_mappings": {"value_amount": "total"},
            }
        ],
    )
    (spec,) = settings.rules_for("orders")
    mapper = EventMapper(
        spec, "urn:lla:llaPartnerConversion:9", spec.label, "orders", (), 202609, Counter()
    )
    event = event_of({"timestamp": recent(), "mail": EMAIL, "total": 12}, mapper)
    assert event["conversion"] == "urn:lla:llaPartnerConversion:9"
    assert event["conversionValue"] == {"currencyCode": "USD", "amount": "12"}
    assert event["user"]["userIds"][0]["idValue"] == EMAIL_HASH


def test_schema_properties_limit_same_named_fallback(
    make_settings: Callable[..., Any],
) -> None:
    settings = make_settings(
        field_mappings={"email": "contact.mail"},
        field_defaults={"external_id": "anon"},
    )
    (spec,) = settings.rules
    mapper = EventMapper(
        spec,
        RULE_URN,
        spec.label,
        "orders",
        ("id",),
        202609,
        Counter(),
        schema_properties=frozenset({"id", "timestamp", "contact"}),
    )
    ts = recent()
    event = event_of({"id": 1, "timestamp": ts, "contact": {"mail": EMAIL}, "lead_id": "5"}, mapper)
    assert event["conversionHappenedAt"] == ts  # in the schema: read
    assert event["user"]["userIds"] == [{"idType": "SHA256_EMAIL", "idValue": EMAIL_HASH}]
    assert event["user"]["externalIds"] == ["anon"]  # not in the schema: the default
    assert "lead" not in event["user"]  # not in the schema, not mapped: never read


def test_hashed_names_go_to_hashed_fields_from_202609(make_mapper):
    hashed = hashlib.sha256(b"ada").hexdigest()
    recent = int(time.time() * 1000) - 3_600_000
    record = {"timestamp": recent, "first_name": hashed.upper(), "last_name": "Lovelace"}
    newer = make_mapper(api_version=202609).map(record)
    assert newer["user"]["userInfo"] == {"hashedFirstName": hashed, "lastName": "Lovelace"}
    older = make_mapper(api_version=202608).map(record)
    assert older["user"]["userInfo"] == {"firstName": hashed.upper(), "lastName": "Lovelace"}
