"""Rest.li 2.0 encoding (restli.py), as LinkedIn's reference describes it."""

from __future__ import annotations

from typing import Any

from target_linkedin_capi.linkedin import restli
from target_linkedin_capi.linkedin import vocabulary as linkedin


def test_urn_value_is_fully_encoded() -> None:
    assert restli.encode_value("urn:li:sponsoredAccount:123") == "urn%3Ali%3AsponsoredAccount%3A123"
    assert restli.encode_value("a b/(c),d") == "a%20b%2F%28c%29%2Cd"
    assert restli.encode_value(42) == "42"


def test_compound_key_keeps_grammar_literal() -> None:
    key = restli.encode_key(
        {
            "campaign": linkedin.campaign_urn("123"),
            "conversion": linkedin.rule_urn("456"),
        }
    )
    assert key == (
        "(campaign:urn%3Ali%3AsponsoredCampaign%3A123,"
        "conversion:urn%3Alla%3AllaPartnerConversion%3A456)"
    )


def test_list_of_keys() -> None:
    keys = [restli.encode_key({"campaign": f"urn:li:sponsoredCampaign:{i}"}) for i in (1, 2)]
    assert restli.encode_list(keys) == (
        "List((campaign:urn%3Ali%3AsponsoredCampaign%3A1),(campaign:urn%3Ali%3AsponsoredCampaign%3A2))"
    )
    assert restli.encode_list([]) == "List()"


def test_query_encodes_values_not_names() -> None:
    params: dict[str, Any] = {"q": "account", "account": "urn:li:sponsoredAccount:9", "start": 0}
    assert restli.query(params) == "q=account&account=urn%3Ali%3AsponsoredAccount%3A9&start=0"


def test_urn_helpers() -> None:
    assert linkedin.account_id("urn:li:sponsoredAccount:123") == "123"
    assert linkedin.account_id(" 123 ") == "123"
    assert linkedin.account_id("urn:li:sponsoredCampaign:123") is None
    assert linkedin.rule_id("urn:lla:llaPartnerConversion:456") == "456"
    assert linkedin.rule_id("urn:li:llaPartnerConversion:456") is None
    assert linkedin.campaign_id(77) == "77"
    assert linkedin.campaign_id("abc") is None
    assert linkedin.rule_urn(5) == "urn:lla:llaPartnerConversion:5"
    assert linkedin.account_urn("5") == "urn:li:sponsoredAccount:5"
