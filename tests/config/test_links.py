"""Campaign Manager links in place of ids (config/links.py, used by settings.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from target_linkedin_capi.config.links import CampaignManagerLink, LinkError, parse_link
from target_linkedin_capi.config.settings import Settings
from target_linkedin_capi.errors import ConfigError

MakeSettings = Callable[..., Settings]
CM = "https://www.linkedin.com/campaignmanager/accounts"


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (f"{CM}/507404993", CampaignManagerLink("507404993")),
        (f"{CM}/507404993/campaigns?x=1#top", CampaignManagerLink("507404993")),
        (
            f"{CM}/507404993/conversions/104012",
            CampaignManagerLink("507404993", conversion="104012"),
        ),
        (f"{CM}/5/conversions/104012/details?a=b", CampaignManagerLink("5", conversion="104012")),
        (f"{CM}/5/campaigns/77/details", CampaignManagerLink("5", campaign="77")),
        (f"{CM}/5/campaigns/77", CampaignManagerLink("5", campaign="77")),
        (
            f"{CM}/5/campaign-groups/9/campaigns/77",
            CampaignManagerLink("5", campaign="77", campaign_group="9"),
        ),
        ("https://linkedin.com/campaignmanager/accounts/5/", CampaignManagerLink("5")),
        (" HTTPS://WWW.LinkedIn.com/campaignmanager/accounts/5 ", CampaignManagerLink("5")),
        (f"{CM}/5/campaigns/new/details?campaignGroupId=6", CampaignManagerLink("5")),
    ],
)
def test_link_forms(link: str, expected: CampaignManagerLink) -> None:
    assert parse_link(link) == expected


@pytest.mark.parametrize(
    "link",
    [
        "http://www.linkedin.com/campaignmanager/accounts/5/conversions/6",
        "https://evil.example/campaignmanager/accounts/5/conversions/6",
        "https://www.linkedin.com.evil.example/campaignmanager/accounts/5",
        "https://user:pw@www.linkedin.com/campaignmanager/accounts/5",
        "https://www.linkedin.com:8443/campaignmanager/accounts/5",
        "https://www.linkedin.com/feed/accounts/5",
        "https://www.linkedin.com/campaignmanager/accounts/abc",
        "https://www.linkedin.com/campaignmanager/accounts/\u0665",
        "https://[::1/campaignmanager/accounts/5",
        f"{CM}/5/" + "x/" * 5000,
    ],
)
def test_other_links_are_refused(link: str) -> None:
    with pytest.raises(LinkError) as caught:
        parse_link(link)
    assert "password" not in str(caught.value) and "pw" not in str(caught.value)


def test_rule_link_is_used_like_its_id(make_settings: MakeSettings) -> None:
    (rule,) = make_settings(
        ad_account_id="507404993", conversion_rule_id=f"{CM}/507404993/conversions/104012"
    ).rules
    assert (rule.account_id, rule.rule_id, rule.label) == ("507404993", "104012", "rule 104012")


def test_rule_link_without_account_sets_it(make_settings: MakeSettings) -> None:
    (rule,) = make_settings(
        ad_account_id=None, conversion_rule_id=f"{CM}/507404993/conversions/104012"
    ).rules
    assert (rule.account_id, rule.rule_id) == ("507404993", "104012")


def test_account_and_campaign_links(make_settings: MakeSettings) -> None:
    (rule,) = make_settings(
        ad_account_id=f"{CM}/507404993/campaigns/11/details",
        campaign_ids=[f"{CM}/507404993/campaigns/11/details", 12,
                      f"{CM}/507404993/campaign-groups/3/campaigns/13"],
    ).rules  # fmt: skip
    assert rule.account_id == "507404993"
    assert rule.campaign_ids == ("11", "12", "13")


def test_links_inside_conversion_rules_entries(make_settings: MakeSettings) -> None:
    settings = make_settings(
        ad_account_id=None,
        conversion_rule_id=None,
        conversion_rules=[
            {"streams": ["a"], "conversion_rule_id": f"{CM}/1/conversions/2"},
            {"streams": ["b"], "ad_account_id": 3, "conversion_rule_id": f"{CM}/3/conversions/4"},
        ],
    )
    assert [(r.account_id, r.rule_id) for r in settings.rules] == [("1", "2"), ("3", "4")]


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"ad_account_id": "123", "conversion_rule_id": f"{CM}/507404993/conversions/9"},
         "conversion_rule_id"),
        ({"campaign_ids": [f"{CM}/507404993/campaigns/9"]}, "campaign_ids"),
        ({"ad_account_id": f"{CM}/123/campaigns/1",
          "conversion_rule_id": f"{CM}/507404993/conversions/9"}, "conversion_rule_id"),
    ],
)  # fmt: skip
def test_link_for_another_account_names_both(
    make_settings: MakeSettings, overrides: dict[str, Any], setting: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(**overrides)
    error = caught.value
    assert error.setting == setting
    assert "507404993" in str(error) and "123" in str(error) and "ad_account_id" in str(error)


def test_conflict_inside_an_entry_names_the_entry(make_settings: MakeSettings) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(
            conversion_rule_id=None,
            conversion_rules=[{"streams": ["a"], "conversion_rule_id": f"{CM}/9/conversions/2"}],
        )
    assert caught.value.setting == "conversion_rules[0].conversion_rule_id"
    assert "conversion_rules[0].ad_account_id" in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"conversion_rule_id": f"{CM}/123/campaigns/9"}, "conversion_rule_id"),
        ({"campaign_ids": [f"{CM}/123/conversions/9"]}, "campaign_ids"),
        ({"conversion_rule_id": "http://www.linkedin.com/campaignmanager/accounts/123/conversions/9"},
         "conversion_rule_id"),
        ({"ad_account_id": "https://example.com/campaignmanager/accounts/123"}, "ad_account_id"),
    ],
)  # fmt: skip
def test_wrong_kind_of_link_is_a_config_error(
    make_settings: MakeSettings, overrides: dict[str, Any], setting: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(**overrides)
    assert caught.value.setting == setting
    assert "link" in str(caught.value)
