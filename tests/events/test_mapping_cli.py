"""The real CLI: a mapping to a column the stream lacks stops the run before anything is sent."""

from __future__ import annotations

import json

import pytest
from linkedin_capi_emulator import Emulator

from tests.harness import SCHEMA, base_config, record, run_target, singer

pytestmark = pytest.mark.e2e


@pytest.fixture
def emu():
    with Emulator(port=0, tokens=["emulator-token"], accounts=[5010001]) as emulator:
        yield emulator


def event_posts(emu):
    return [r for r in emu.state.requests() if r["path"] == "/rest/conversionEvents"]


def test_mapping_to_a_missing_column_stops_with_one_paragraph(emu, tmp_path):
    rule = emu.add_rule(account=5010001, name="Purchases", type="PURCHASE")
    config = base_config(emu, rule)
    config["field_mappings"] = {**config["field_mappings"], "email": "e_mail"}
    result = run_target(config, singer([record(i) for i in range(194)]), tmp_path)
    assert result.returncode == 1
    assert event_posts(emu) == []
    assert result.states == []  # STATE never beyond delivery: nothing was delivered
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "e_mail" in line]
    assert len(lines) == 1, result.stderr
    assert "field_mappings.email" in lines[0] and "public-conversions" in lines[0]
    assert "did you mean `email`?" in lines[0]
    assert "person" not in result.stderr.lower()  # no record value in the message


def test_fallback_list_with_no_column_of_the_stream_stops_too(emu, tmp_path):
    rule = emu.add_rule(account=5010001, name="Purchases", type="PURCHASE")
    config = base_config(emu, rule)
    config["field_mappings"] = {**config["field_mappings"], "email": ["e_mail", "mail"]}
    result = run_target(config, singer([record(i) for i in range(3)]), tmp_path)
    assert result.returncode == 1 and event_posts(emu) == []
    assert "`e_mail` or `mail`" in result.stderr and "Traceback" not in result.stderr
    # One ERROR paragraph: the SDK's own "Error initializing target sink" line is not added.
    assert [line for line in result.stderr.splitlines() if "| ERROR" in line][1:] == []


def test_fallback_list_with_one_column_of_the_stream_is_used(emu, tmp_path):
    rule = emu.add_rule(account=5010001, name="Purchases", type="PURCHASE")
    config = base_config(emu, rule)
    config["field_mappings"] = {**config["field_mappings"], "email": ["mail", "email"]}
    result = run_target(config, singer([record(i) for i in range(3)]), tmp_path)
    assert result.returncode == 0, result.stderr
    events = emu.state.accepted_events()
    assert len(events) == 3
    assert all(e["user"]["userIds"][0]["idType"] == "SHA256_EMAIL" for e in events)


def test_objects_are_never_sent_as_printed_python(emu, tmp_path):
    rule = emu.add_rule(account=5010001, name="Leads", type="LEAD")
    config = base_config(emu, rule)
    config["field_mappings"] = {**config["field_mappings"], "external_id": "ids",
                                "company_name": "extra"}  # fmt: skip
    schema = {"type": "object", "properties": {**SCHEMA["properties"],
              "ids": {"type": ["array", "null"]}, "extra": {"type": ["object", "null"]}}}  # fmt: skip
    row = record(1, first_name="Ada", last_name="Lovelace", ids=["crm-190", "shopify-190"],
                 extra={"tier": "gold", "email": "nested189@example.org"})  # fmt: skip
    lines = [
        json.dumps({"type": "SCHEMA", "stream": "s", "schema": schema, "key_properties": ["id"]}),
        json.dumps({"type": "RECORD", "stream": "s", "record": row}),
    ]
    result = run_target(config, "\n".join(lines) + "\n", tmp_path)
    assert result.returncode == 0, result.stderr
    [event] = emu.state.accepted_events()
    assert event["user"]["externalIds"] == ["crm-190"]
    assert "companyName" not in event["user"]["userInfo"]
    assert "nested189" not in json.dumps(event) and "nested189" not in result.stderr
    assert "company_name_value_not_text_dropped 1" in result.stderr
