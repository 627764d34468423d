"""models.py: LinkedIn's JSON -> frozen dataclasses, defensively."""

from __future__ import annotations

import dataclasses

import pytest

from target_linkedin_capi.linkedin.models import (
    AccountUser,
    AdAccount,
    Campaign,
    ConversionRule,
    RuleDraft,
    TokenInfo,
)

RULE = {
    "id": 456,
    "name": "Purchases",
    "account": "urn:li:sponsoredAccount:123",
    "conversionMethod": "CONVERSIONS_API",
    "enabled": True,
    "type": "PURCHASE",
    "attributionType": "LAST_TOUCH_BY_CAMPAIGN",
    "postClickAttributionWindowSize": 30,
    "viewThroughAttributionWindowSize": 7,
    "campaigns": ["urn:li:sponsoredCampaign:1", "bogus"],
    "associatedCampaigns": [{"campaign": "urn:li:sponsoredCampaign:2"}, {"x": 1}, 3],
    "somethingNew": {"LinkedIn": "adds fields"},
}


def test_rule_from_json() -> None:
    rule = ConversionRule.from_json(RULE)
    assert rule is not None
    assert (rule.id, rule.name, rule.account_id, rule.account) == (
        "456",
        "Purchases",
        "123",
        "urn:li:sponsoredAccount:123",
    )
    assert (rule.type, rule.attribution_type) == ("PURCHASE", "LAST_TOUCH_BY_CAMPAIGN")
    assert (rule.post_click_window, rule.view_through_window) == (30, 7)
    assert rule.enabled is True and rule.method == "CONVERSIONS_API"
    assert rule.campaigns == frozenset({"1", "2", "3"})
    assert rule.urn == "urn:lla:llaPartnerConversion:456"
    assert rule.takes_server_events
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.name = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "odd",
    [
        {"enabled": "yes", "postClickAttributionWindowSize": "30", "campaigns": "not a list"},
        {"enabled": None, "postClickAttributionWindowSize": True, "campaigns": None},
        {"account": 123, "name": 7, "type": ["PURCHASE"]},
    ],
)
def test_rule_fields_of_the_wrong_type_become_none(odd: dict[str, object]) -> None:
    rule = ConversionRule.from_json({"id": "9", **odd})
    assert rule is not None and rule.id == "9"
    assert rule.enabled is None or isinstance(rule.enabled, bool)
    assert rule.post_click_window is None
    assert rule.campaigns == frozenset()


@pytest.mark.parametrize("data", [None, [], "rule", 5, {}, {"id": None}, {"id": True}, {"id": ""}])
def test_no_rule_without_an_id(data: object) -> None:
    assert ConversionRule.from_json(data) is None


def test_disabled_or_other_method_rules_take_no_server_events() -> None:
    assert not ConversionRule.from_json({**RULE, "enabled": False}).takes_server_events  # type: ignore[union-attr]
    other = ConversionRule.from_json({**RULE, "conversionMethod": "INSIGHT_TAG"})
    assert other is not None and not other.takes_server_events


def test_rule_draft_json() -> None:
    draft = RuleDraft("Leads", "123", "LEAD", "LAST_TOUCH_BY_CONVERSION", 90, 7)
    assert draft.to_json() == {
        "name": "Leads",
        "account": "urn:li:sponsoredAccount:123",
        "conversionMethod": "CONVERSIONS_API",
        "type": "LEAD",
        "postClickAttributionWindowSize": 90,
        "viewThroughAttributionWindowSize": 7,
        "attributionType": "LAST_TOUCH_BY_CONVERSION",
    }


def test_lookup_models() -> None:
    account = AdAccount.from_json({"id": 5010001, "name": "A", "status": "ACTIVE", "test": False})
    assert account == AdAccount("5010001", "A", "ACTIVE", None, None, False)
    user = AccountUser.from_json({"account": "urn:li:sponsoredAccount:5", "role": "VIEWER"})
    assert user == AccountUser("5", "VIEWER")
    assert AccountUser.from_json({"account": "urn:li:person:1", "role": "VIEWER"}) is None
    campaign = Campaign.from_json(
        {"id": 6010001, "account": "urn:li:sponsoredAccount:5", "name": "C", "status": 3}
    )
    assert campaign == Campaign("6010001", "5", "C", None)
    assert Campaign.from_json([]) is None and AdAccount.from_json({"id": {}}) is None


def test_token_info() -> None:
    info = TokenInfo.from_json(
        {"active": True, "status": "active", "scope": "r_ads, rw_conversions,", "expires_at": 9}
    )
    assert info.active and info.scopes == frozenset({"r_ads", "rw_conversions"})
    assert info.expires_at == 9 and info.auth_type is None
    assert TokenInfo.from_json({"active": "true", "scope": 5}) == TokenInfo(
        False, None, frozenset(), None, None, None
    )
