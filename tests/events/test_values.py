"""Objects, arrays, fallbacks and mappings to missing columns, one record at a time.

Items of the safety issue: nothing wrong leaves (no printed Python objects, no silently
ignored mapping) and notes count only what was sent.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from target_linkedin_capi.events.batches import map_batch
from target_linkedin_capi.events.fields import CANONICAL_FIELDS
from target_linkedin_capi.events.mapper import EventMapper, Rejection
from target_linkedin_capi.report.tally import RunTally
from tests.constants import DAY_MS
from tests.helpers import now_ms

EMAIL = "jane.doe@example.com"
NESTED = {"tier": "gold", "email": "nested189@example.org", "name": "Secret Person"}
ARRAY = ["crm-190", "nested189@example.org"]


def recent() -> int:
    return now_ms() - DAY_MS


def test_text_array_to_external_id_sends_first_non_empty_element(
    make_mapper: Callable[..., EventMapper],
) -> None:
    event = make_mapper().map({"timestamp": recent(), "external_id": ["", None, "crm-190", "x"]})
    assert isinstance(event, dict)
    assert event["user"]["externalIds"] == ["crm-190"]


def test_jsonb_company_name_is_dropped_never_printed(
    make_mapper: Callable[..., EventMapper],
) -> None:
    notes: Counter[str] = Counter()
    record = {"timestamp": recent(), "first_name": "Ada", "last_name": "L", "company_name": NESTED}
    event = make_mapper(notes=notes).map(record)
    assert isinstance(event, dict)
    assert event["user"]["userInfo"] == {"firstName": "Ada", "lastName": "L"}
    assert notes == {"company_name_value_not_text_dropped": 1}


@pytest.mark.parametrize("field", [f for f in CANONICAL_FIELDS if f != "timestamp"])
@pytest.mark.parametrize("bad", [NESTED, ARRAY, [NESTED]])
def test_object_or_array_in_any_field_is_never_str_ed(
    field: str, bad: Any, make_mapper: Callable[..., EventMapper]
) -> None:
    record: dict[str, Any] = {
        "timestamp": recent(), "email": EMAIL, "first_name": "Ada", "last_name": "L",
        "value_amount": 5, "value_currency": "USD", field: bad,
    }  # fmt: skip
    result = make_mapper().map(record)
    assert "nested189" not in json.dumps(result if isinstance(result, dict) else result.message)
    texts = strings_in(result) if isinstance(result, dict) else [result.message]
    for text in texts:  # no printed Python object anywhere
        assert "Secret" not in text and "{'" not in text and "['" not in text, text
    if field == "external_id" and bad is ARRAY:
        assert isinstance(result, dict) and result["user"]["externalIds"] == ["crm-190"]
    elif field in ("value_amount", "value_currency", "event_id"):
        assert isinstance(result, Rejection)
        expected = {"value_amount": "value_invalid", "value_currency": "currency_invalid"}
        assert result.reason == expected.get(field, "event_id_invalid")
        assert result.field == field
    else:
        assert isinstance(result, dict)  # dropped; the email still identifies the person


def strings_in(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings_in(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings_in(item)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("bad", [NESTED, ARRAY])
def test_object_timestamp_rejected_with_a_reason(
    bad: Any, make_mapper: Callable[..., EventMapper]
) -> None:
    result = make_mapper().map({"timestamp": bad, "email": EMAIL})
    assert isinstance(result, Rejection) and result.reason == "timestamp_invalid"
    assert "nested189" not in result.message and "crm" not in result.message


def test_object_as_only_identifier_rejects_naming_the_field(
    make_mapper: Callable[..., EventMapper],
) -> None:
    notes: Counter[str] = Counter()
    result = make_mapper(notes=notes).map({"timestamp": recent(), "email": NESTED})
    assert isinstance(result, Rejection) and result.reason == "no_identifier"
    assert "email (an object or array, not text)" in result.message
    assert "nested189" not in result.message
    assert not notes  # rejected: nothing was "kept with changes"
    event = make_mapper(notes=notes).map(
        {"timestamp": recent(), "email": NESTED, "external_id": 190}
    )
    assert isinstance(event, dict) and event["user"]["externalIds"] == ["190"]  # ints stay fine
    assert notes == {"email_value_not_text_dropped": 1}


def test_no_identifier_message_lists_unusable_fields_without_values(
    make_mapper: Callable[..., EventMapper],
) -> None:
    result = make_mapper().map(
        {"timestamp": recent(), "email": "not-an-email", "ip_address": "10.0.0",
         "first_name": "Ada", "lead_id": "bad lead", "google_aid": ["g"]}
    )  # fmt: skip
    assert isinstance(result, Rejection) and result.reason == "no_identifier"
    for name in ("email", "ip_address", "first_name", "lead_id", "google_aid"):
        assert name in result.message
    for value in ("not-an-email", "10.0.0", "Ada", "bad lead"):
        assert value not in result.message


def test_plain_no_identifier_message_unchanged(make_mapper: Callable[..., EventMapper]) -> None:
    result = make_mapper().map({"timestamp": recent()})
    assert isinstance(result, Rejection)
    assert "present but unusable" not in result.message


# -- item 4: notes count only records that became events -------------------------------------


def test_notes_of_rejected_records_are_not_counted_and_summary_says_sent(
    make_mapper: Callable[..., EventMapper], tmp_path: Any
) -> None:
    mapper = make_mapper(notes=Counter())
    records = [
        {"timestamp": recent(), "email": "bad", "external_id": "c1"},  # sent, email dropped
        {"timestamp": recent(), "email": "bad"},  # rejected: not counted
        {"timestamp": recent(), "email": "bad", "value_currency": "USD"},  # rejected
        {"timestamp": recent(), "email": "bad", "ip_address": "nope", "acxiom_id": "A"},
    ]
    mapped = map_batch([mapper], records)
    assert len(mapped.events) == 2 and len(mapped.rejections) == 2
    assert mapped.notes == [{"email_unusable_dropped": 2, "ip_address_unusable_dropped": 1}]
    report = RunTally(None)
    report.add_notes("rule 1", mapped.notes[0])
    report.sent({"rule 1": 2})
    assert "; sent with changes: email_unusable_dropped 2" in report.summary_lines(dry_run=False)[0]
    assert "would be sent with changes" in report.summary_lines(dry_run=True)[0]


# -- item 3: fallbacks -----------------------------------------------------------------------


def test_first_usable_path_wins(make_mapper: Callable[..., EventMapper]) -> None:
    mapper = make_mapper(field_mappings={"email": ["email", "customer.email", "alt"]})
    email_hash = hashlib.sha256(EMAIL.encode()).hexdigest()
    for record in [
        {"email": EMAIL},
        {"customer": {"email": EMAIL}},
        {"email": "  ", "customer": {"email": EMAIL}},
        {"email": "not-an-email", "customer": {"email": None}, "alt": EMAIL},
        {"email": NESTED, "alt": EMAIL},
    ]:
        event = mapper.map({"timestamp": recent(), **record})
        assert isinstance(event, dict), record
        assert event["user"]["userIds"] == [{"idType": "SHA256_EMAIL", "idValue": email_hash}]


def test_fallbacks_all_unusable_count_the_first_present(
    make_mapper: Callable[..., EventMapper],
) -> None:
    notes: Counter[str] = Counter()
    mapper = make_mapper(notes=notes, field_mappings={"email": ["a", "b"]})
    event = mapper.map({"timestamp": recent(), "a": "nope", "b": "nah", "external_id": "c"})
    assert isinstance(event, dict) and event["user"]["userIds"] == []
    assert notes == {"email_unusable_dropped": 1}


def test_fallbacks_absent_use_the_default(make_mapper: Callable[..., EventMapper]) -> None:
    mapper = make_mapper(
        field_mappings={"value_currency": ["cur", "order.cur"]},
        field_defaults={"value_currency": "EUR"},
    )
    event = mapper.map({"timestamp": recent(), "email": EMAIL, "value_amount": 3})
    assert isinstance(event, dict) and event["conversionValue"]["currencyCode"] == "EUR"
    event = mapper.map(
        {"timestamp": recent(), "email": EMAIL, "value_amount": 3, "order": {"cur": "usd"}}
    )
    assert isinstance(event, dict) and event["conversionValue"]["currencyCode"] == "USD"


def test_timestamp_fallback_skips_unparseable(make_mapper: Callable[..., EventMapper]) -> None:
    ts = recent()
    mapper = make_mapper(field_mappings={"timestamp": ["created", "updated"]})
    event = mapper.map({"created": "yesterday", "updated": ts, "email": EMAIL})
    assert isinstance(event, dict) and event["conversionHappenedAt"] == ts
    rejection = mapper.map({"created": "yesterday", "updated": None, "email": EMAIL})
    assert isinstance(rejection, Rejection) and rejection.reason == "timestamp_invalid"


# -- item 2: mappings to columns the stream does not have -----------------------------------


def mapping_problem(*args: Any) -> str | None:
    from target_linkedin_capi.events.mapper import mapping_problem

    return mapping_problem(*args)


def test_mapping_to_missing_column_is_a_problem_with_a_suggestion(
    make_settings: Callable[..., Any],
) -> None:
    spec = make_settings(field_mappings={"email": "e_mail"}).rules[0]
    problem = mapping_problem(spec, "orders", {"email", "id", "occurred_at"})
    assert problem is not None
    assert "field_mappings.email" in problem and "`e_mail`" in problem and "`orders`" in problem
    assert "did you mean `email`?" in problem


def test_a_fallback_list_needs_one_path_the_stream_has_and_nested_is_lenient(
    make_settings: Callable[..., Any],
) -> None:
    # A list serves streams that differ: one stream has `email`, another `customer.mail`.
    rule = make_settings(field_mappings={"email": ["email", "customer.mail"]}).rules[0]
    assert mapping_problem(rule, "orders", {"email"}) is None
    assert mapping_problem(rule, "signups", {"customer"}) is None
    # None of them: a typo, reported with every path and the closest names.
    typo = make_settings(field_mappings={"email": ["e_mail", "cusomer.email"]}).rules[0]
    problem = mapping_problem(typo, "orders", {"email", "customer"})
    assert problem is not None
    assert "`e_mail` or `cusomer.email`" in problem and "did you mean `email`?" in problem
    fine = make_settings(field_mappings={"email": ["email", "customer.anything.below"]}).rules[0]
    assert mapping_problem(fine, "orders", {"email", "customer"}) is None


def test_schemaless_stream_is_lenient(make_settings: Callable[..., Any]) -> None:
    rule = make_settings(field_mappings={"email": "e_mail"}).rules[0]
    assert mapping_problem(rule, "orders", None) is None
    assert mapping_problem(rule, "orders", {}) is None
