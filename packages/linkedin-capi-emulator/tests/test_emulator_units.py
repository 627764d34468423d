"""Unit tests for the emulator's pure helpers (Rest.li parsing, validation, faults, versions)."""

from __future__ import annotations

import pytest
from linkedin_capi_emulator import Emulator
from linkedin_capi_emulator.faults import parse_fault
from linkedin_capi_emulator.restli import (
    KeyFormatError,
    encode_campaign_conversion_key,
    parse_campaign_conversion_key,
    parse_list,
    split_query,
)
from linkedin_capi_emulator.validation import validate_event
from linkedin_capi_emulator.versions import normalised

CAMPAIGN = "urn:li:sponsoredCampaign:123"
CONVERSION = "urn:lla:llaPartnerConversion:456"
KEY = (
    "(campaign:urn%3Ali%3AsponsoredCampaign%3A123,"
    "conversion:urn%3Alla%3AllaPartnerConversion%3A456)"
)


def test_compound_key_round_trip() -> None:
    assert encode_campaign_conversion_key(CAMPAIGN, CONVERSION) == KEY
    assert parse_campaign_conversion_key(KEY) == (CAMPAIGN, CONVERSION)
    swapped = (
        "(conversion:urn%3Alla%3AllaPartnerConversion%3A456,"
        "campaign:urn%3Ali%3AsponsoredCampaign%3A123)"
    )
    assert parse_campaign_conversion_key(swapped) == (CAMPAIGN, CONVERSION)
    assert parse_campaign_conversion_key(KEY.replace("%3A", "%3a")) == (CAMPAIGN, CONVERSION)


@pytest.mark.parametrize(
    "raw",
    [
        "(campaign:urn:li:sponsoredCampaign:123,conversion:urn:lla:llaPartnerConversion:456)",
        KEY.replace("(", "%28").replace(")", "%29"),
        KEY.replace(",", "%2C"),
        KEY.replace("%3A", "%253A"),
        KEY.replace("campaign:", "campaign%3A", 1),
        "(campaign:urn%3Ali%3AsponsoredCampaign%3A123)",
        KEY.replace("llaPartnerConversion", "llaConversionRule"),
        KEY + "x",
    ],
)
def test_compound_key_rejects_bad_encodings(raw: str) -> None:
    with pytest.raises(KeyFormatError):
        parse_campaign_conversion_key(raw)


def test_parse_list_is_nesting_aware() -> None:
    assert parse_list(f"List({KEY},{KEY})") == [KEY, KEY]
    assert parse_list("List(1,2)") == ["1", "2"]
    assert parse_list("List()") == []
    for bad in ("(1,2)", "List((1,2)", "List(1,,2)"):
        with pytest.raises(KeyFormatError):
            parse_list(bad)


def test_split_query_keeps_raw_values() -> None:
    params = split_query(f"ids=List({KEY})&q=account")
    assert params["ids"] == f"List({KEY})"
    assert params["q"] == "account"


def test_versions_normalised() -> None:
    assert normalised("202504") == "20250401"
    assert normalised("202609.03") == "20260901"


def test_validation_reprs_numbers_like_java() -> None:
    event = {
        "conversion": "urn:lla:llaPartnerConversion:1",
        "conversionHappenedAt": 1.5,
        "conversionValue": {"currencyCode": None, "amount": 20},
        "user": {"userIds": [], "externalIds": [7]},
    }
    assert validate_event(event, 202609) == [
        "ERROR :: /conversionHappenedAt :: 1.5 cannot be coerced to Long",
        "ERROR :: /conversionValue/currencyCode :: null cannot be coerced to String",
        "ERROR :: /conversionValue/amount :: 20 cannot be coerced to String",
        "ERROR :: /user/externalIds/0 :: 7 cannot be coerced to String",
    ]
    assert validate_event("x", 202609) == ["ERROR :: / :: x is not backed by a DataMap"]


def test_fault_shorthands() -> None:
    assert parse_fault({"action": "reset"}).kind == "reset"
    assert parse_fault({"status": 429}).body["serviceErrorCode"] == 101
    reject = parse_fault({"reject_event_ids": ["a"], "style": "no_index"})
    assert (reject.kind, reject.path, reject.times) == ("reject", "/rest/conversionEvents", 1)
    with pytest.raises(ValueError, match="style"):
        parse_fault({"reject_event_ids": ["a"], "style": "500"})


def test_reset_restores_constructor_configuration() -> None:
    emulator = Emulator(rules=[{"account": 5010001, "name": "Seed", "campaigns": [6010001]}])
    state = emulator.state
    extra = emulator.add_rule(account=5010001, name="Extra")
    emulator.expire_token("emulator-token")
    state.reset()
    assert [(r["id"], r["name"]) for r in state.rules()] == [(14488340, "Seed")]
    assert extra == 14488341
    assert state.campaign_links() == [
        {
            "campaign": "urn:li:sponsoredCampaign:6010001",
            "conversion": "urn:lla:llaPartnerConversion:14488340",
        }
    ]
    assert state.token_status("emulator-token") == "valid"
