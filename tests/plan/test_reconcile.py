"""Conversion-rule lifecycle (rules.py) against requests-mock: issue 3, path by path."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from target_linkedin_capi.config.settings import RuleSpec, Settings
from target_linkedin_capi.errors import FatalError
from target_linkedin_capi.linkedin.client import LinkedInClient
from target_linkedin_capi.linkedin.transport import RecordingTransport
from target_linkedin_capi.plan.reconcile import ResolvedRule, RuleManager
from target_linkedin_capi.report.tally import JsonLines
from tests.constants import ACCOUNT_QUERY, API_BASE

# Same values as tests/conftest.py.
ACCOUNT_URN = "urn:li:sponsoredAccount:123"
RULE_URL = f"{API_BASE}/conversions/456?{ACCOUNT_QUERY}"
FINDER_URL = f"{API_BASE}/conversions"
LINK_URL = (
    f"{API_BASE}/campaignConversions/(campaign:urn%3Ali%3AsponsoredCampaign%3A123,"
    "conversion:urn%3Alla%3AllaPartnerConversion%3A456)"
)

MakeSettings = Callable[..., Settings]


def rule_json(**overrides: Any) -> dict[str, Any]:
    """A rule as LinkedIn returns it (GET /conversions/{id}, finder elements)."""
    rule: dict[str, Any] = {
        "id": 456,
        "name": "Purchases",
        "account": ACCOUNT_URN,
        "conversionMethod": "CONVERSIONS_API",
        "enabled": True,
        "type": "PURCHASE",
        "attributionType": "LAST_TOUCH_BY_CAMPAIGN",
        "postClickAttributionWindowSize": 30,
        "viewThroughAttributionWindowSize": 7,
        "campaigns": [],
        "associatedCampaigns": [],
        "created": 1698115671440,
        "lastModified": 1698115671440,
    }
    rule.update(overrides)
    return rule


@pytest.fixture
def manager(client: LinkedInClient) -> RuleManager:
    return RuleManager(client)


@pytest.fixture
def dry_manager(client: LinkedInClient) -> RuleManager:
    return RuleManager(LinkedInClient(RecordingTransport(client.http, JsonLines(None))))


def only_spec(make_settings: MakeSettings, **overrides: Any) -> RuleSpec:
    (spec,) = make_settings(**overrides).rules
    return spec


def by_name(make_settings: MakeSettings, **overrides: Any) -> RuleSpec:
    return only_spec(
        make_settings,
        conversion_rule_id=None,
        conversion_rule_name="Purchases",
        conversion_type="PURCHASE",
        **overrides,
    )


def writes(requests_mock: Any) -> list[Any]:
    return [r for r in requests_mock.request_history if r.method != "GET"]


def finder_pages(requests_mock: Any, pages: list[list[dict[str, Any]]]) -> None:
    """The q=account finder, paged by `start`; `paging.total` is -1 as LinkedIn sends it."""

    def answer(request: Any, context: Any) -> dict[str, Any]:
        query = parse_qs(urlsplit(request.url).query)
        assert query["q"] == ["account"]
        assert query["account"] == [ACCOUNT_URN]
        start = int(query.get("start", ["0"])[0])
        offset = 0
        for page in pages:
            if start == offset:
                return {
                    "paging": {"start": start, "count": len(page), "total": -1, "links": []},
                    "elements": page,
                }
            offset += len(page)
        return {"paging": {"start": start, "count": 0, "total": -1, "links": []}, "elements": []}

    requests_mock.get(FINDER_URL, json=answer)


# -- existing rule by id ---------------------------------------------------------------------


def test_existing_rule_verified_nothing_written(
    manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    requests_mock.get(RULE_URL, json=rule_json())
    resolved = manager.ensure(only_spec(make_settings))
    assert (resolved.rule_id, resolved.urn) == ("456", "urn:lla:llaPartnerConversion:456")
    (request,) = requests_mock.request_history
    assert request.method == "GET"
    assert request.url == RULE_URL
    assert request.headers["LinkedIn-Version"] == "202609"
    assert request.headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert request.headers["Authorization"].startswith("Bearer ")


def test_urn_form_rule_id_uses_bare_id_in_path(
    manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    requests_mock.get(RULE_URL, json=rule_json())
    manager.ensure(only_spec(make_settings, conversion_rule_id="urn:lla:llaPartnerConversion:456"))
    assert requests_mock.last_request.url == RULE_URL


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ({"enabled": False}, ["disabled"]),
        (
            {"conversionMethod": "INSIGHT_TAG_URL_MATCH_RULES"},
            ["INSIGHT_TAG_URL_MATCH_RULES", "Conversions-API rule"],
        ),
        ({"account": "urn:li:sponsoredAccount:999"}, ["999"]),
    ],
)
def test_unusable_existing_rule_is_fatal(
    manager: RuleManager,
    requests_mock: Any,
    make_settings: MakeSettings,
    rule: dict[str, Any],
    words: list[str],
) -> None:
    requests_mock.get(RULE_URL, json=rule_json(**rule))
    with pytest.raises(FatalError) as caught:
        manager.ensure(only_spec(make_settings))
    message = str(caught.value)
    assert "456" in message  # the rule
    assert "123" in message  # the account
    for word in words:
        assert word in message
    assert writes(requests_mock) == []


def test_missing_rule_is_fatal(
    manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    requests_mock.get(RULE_URL, status_code=404, json={"status": 404, "message": "Not found"})
    with pytest.raises(FatalError) as caught:
        manager.ensure(only_spec(make_settings))
    message = str(caught.value)
    assert "456" in message
    assert "ad account 123" in message
    assert "does not exist" in message
    assert requests_mock.call_count == 1


def test_forbidden_rule_lookup_names_scopes_and_role(
    manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    requests_mock.get(
        RULE_URL,
        status_code=403,
        json={"status": 403, "code": "ACCESS_DENIED", "message": "Not enough permissions"},
    )
    with pytest.raises(FatalError) as caught:
        manager.ensure(only_spec(make_settings))
    message = str(caught.value)
    assert "456" in message
    assert "123" in message
    assert "rw_conversions" in message
    assert "r_ads" in message
    assert "role" in message


def test_other_4xx_on_lookup_is_fatal(
    manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    requests_mock.get(RULE_URL, status_code=400, json={"status": 400, "message": "Bad account"})
    with pytest.raises(FatalError) as caught:
        manager.ensure(only_spec(make_settings))
    assert "Bad account" in str(caught.value)
    assert "rw_conversions" in str(caught.value)


# -- reconcile -------------------------------------------------------------------------------


def test_no_op_reconcile_writes_nothing(
    manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    requests_mock.get(RULE_URL, json=rule_json())
    spec = only_spec(
        make_settings,
        conversion_type="PURCHASE",
        attribution_type="LAST_TOUCH_BY_CAMPAIGN",
        post_click_attribution_window_size=30,
        view_through_attribution_window_size=7,
    )
    resolved = manager.ensure(spec)
    assert writes(requests_mock) == []
    assert resolved.actions == []


def test_drift_sends_one_partial_update_with_only_changed_fields(
    manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    requests_mock.get(RULE_URL, json=rule_json())
    update = requests_mock.post(RULE_URL, status_code=204)
    spec = only_spec(
        make_settings,
        conversion_type="PURCHASE",  # unchanged
        attribution_type="LAST_TOUCH_BY_CONVERSION",
        post_click_attribution_window_size=90,
        view_through_attribution_window_size=7,  # unchanged
    )
    manager.ensure(spec)
    assert update.call_count == 1
    request = update.last_request
    assert request.url == RULE_URL
    assert request.headers["X-RestLi-Method"] == "PARTIAL_UPDATE"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "patch": {
            "$set": {
                "attributionType": "LAST_TOUCH_BY_CONVERSION",
                "postClickAttributionWindowSize": 90,
            }
        }
    }
    assert len(writes(requests_mock)) == 1


def test_name_change_with_id_is_reconciled(
    manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    requests_mock.get(RULE_URL, json=rule_json(name="Old name"))
    update = requests_mock.post(RULE_URL, status_code=204)
    manager.ensure(only_spec(make_settings, conversion_rule_name="New name"))
    assert update.last_request.json() == {"patch": {"$set": {"name": "New name"}}}


def test_defaults_never_cause_an_update(
    manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    # LinkedIn's rule differs from every default; nothing was set explicitly.
    requests_mock.get(
        RULE_URL,
        json=rule_json(
            type="LEAD",
            attributionType="LAST_TOUCH_BY_CONVERSION",
            postClickAttributionWindowSize=90,
            viewThroughAttributionWindowSize=30,
        ),
    )
    manager.ensure(only_spec(make_settings))
    assert writes(requests_mock) == []


def test_failed_update_is_fatal(
    manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    requests_mock.get(RULE_URL, json=rule_json())
    requests_mock.post(RULE_URL, status_code=400, json={"status": 400, "message": "Invalid window"})
    with pytest.raises(FatalError) as caught:
        manager.ensure(only_spec(make_settings, attribution_type="LAST_TOUCH_BY_CONVERSION"))
    assert "Invalid window" in str(caught.value)
    assert "456" in str(caught.value)


# -- find by name, create --------------------------------------------------------------------


def test_find_by_name_over_pages_ignoring_unusable_namesakes(
    manager: RuleManager,
    requests_mock: Any,
    make_settings: MakeSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    finder_pages(
        requests_mock,
        [
            [rule_json(id=1, name="Sign-ups"), rule_json(id=2, enabled=False)],
            [rule_json(id=3, conversionMethod="INSIGHT_TAG_JAVASCRIPT_EVENT")],
            [rule_json(id=4, name="purchases"), rule_json(id=5)],
        ],
    )
    with caplog.at_level(logging.WARNING):
        resolved = manager.ensure(by_name(make_settings))
    assert resolved.rule_id == "5"
    starts = [parse_qs(urlsplit(r.url).query)["start"] for r in requests_mock.request_history]
    assert starts == [["0"], ["2"], ["3"]]
    assert writes(requests_mock) == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("2" in w and "disabled" in w for w in warnings)
    assert any("3" in w and "INSIGHT_TAG_JAVASCRIPT_EVENT" in w for w in warnings)


def test_finder_query_encoding(
    manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    finder_pages(requests_mock, [[rule_json()]])
    manager.ensure(by_name(make_settings))
    url = requests_mock.request_history[0].url
    assert url.startswith(f"{FINDER_URL}?q=account&{ACCOUNT_QUERY}&start=0&count=")


def create_answer(created: list[dict[str, Any]], *, id_in_body: bool = True) -> Callable[..., Any]:
    def answer(request: Any, context: Any) -> str:
        new = {**request.json(), "id": 789 + len(created), "enabled": True, "campaigns": []}
        created.append(new)
        context.status_code = 201
        context.headers["x-restli-id"] = str(new["id"])
        return json.dumps(new) if id_in_body else ""

    return answer


def test_create_when_not_found_then_found_next_run(
    client: LinkedInClient,
    requests_mock: Any,
    make_settings: MakeSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    created: list[dict[str, Any]] = []
    requests_mock.get(
        FINDER_URL,
        json=lambda request, context: {
            "paging": {"total": -1},
            "elements": list(created) if "start=0" in request.url else [],
        },
    )
    create = requests_mock.post(FINDER_URL, text=create_answer(created))
    spec = by_name(
        make_settings,
        attribution_type="LAST_TOUCH_BY_CONVERSION",
        post_click_attribution_window_size=90,
    )
    caplog.set_level(logging.INFO)

    resolved = RuleManager(client).ensure(spec)
    assert resolved.rule_id == "789"
    assert resolved.urn == "urn:lla:llaPartnerConversion:789"
    assert create.call_count == 1
    assert create.last_request.url == FINDER_URL
    assert create.last_request.headers["Content-Type"] == "application/json"
    assert create.last_request.json() == {
        "name": "Purchases",
        "account": ACCOUNT_URN,
        "conversionMethod": "CONVERSIONS_API",
        "type": "PURCHASE",
        "postClickAttributionWindowSize": 90,
        "viewThroughAttributionWindowSize": 7,
        "attributionType": "LAST_TOUCH_BY_CONVERSION",
    }
    assert any(
        "789" in r.getMessage() and "conversion_rule_id" in r.getMessage() for r in caplog.records
    )

    # A second run (a new manager) finds the rule the first created: never a duplicate.
    again = RuleManager(client).ensure(spec)
    assert again.rule_id == "789"
    assert create.call_count == 1
    assert len(writes(requests_mock)) == 1


def test_created_id_from_x_restli_id_when_body_empty(
    manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    finder_pages(requests_mock, [])
    requests_mock.post(FINDER_URL, text=create_answer([], id_in_body=False))
    assert manager.ensure(by_name(make_settings)).rule_id == "789"


def test_create_without_any_id_is_fatal(
    manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    finder_pages(requests_mock, [])
    requests_mock.post(FINDER_URL, status_code=201, text="")
    with pytest.raises(FatalError) as caught:
        manager.ensure(by_name(make_settings))
    assert "Purchases" in str(caught.value)


def test_create_after_transient_failure_checks_before_retrying(
    manager: RuleManager, requests_mock: Any, make_settings: MakeSettings, sleeps: list[float]
) -> None:
    # The first create answers 500 but LinkedIn did create the rule: found, not duplicated.
    calls = {"finder": 0}

    def finder(request: Any, context: Any) -> dict[str, Any]:
        calls["finder"] += 1
        found = [rule_json(id=790)] if calls["finder"] >= 2 and "start=0" in request.url else []
        return {"paging": {"total": -1}, "elements": found}

    requests_mock.get(FINDER_URL, json=finder)
    create = requests_mock.post(FINDER_URL, status_code=500)
    assert manager.ensure(by_name(make_settings)).rule_id == "790"
    assert create.call_count == 1


def test_create_is_not_retried_blindly(
    manager: RuleManager, requests_mock: Any, make_settings: MakeSettings, sleeps: list[float]
) -> None:
    finder_pages(requests_mock, [])
    create = requests_mock.post(FINDER_URL, [{"status_code": 503}, {"text": create_answer([])}])
    assert manager.ensure(by_name(make_settings)).rule_id == "789"
    assert create.call_count == 2
    # between the two creates, a fresh search
    methods = [r.method for r in requests_mock.request_history]
    assert methods[methods.index("POST") + 1] == "GET"


# -- campaign links --------------------------------------------------------------------------


def test_campaign_link_encoding(
    manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    requests_mock.get(RULE_URL, json=rule_json())
    link = requests_mock.put(LINK_URL, status_code=204)
    resolved = manager.ensure(
        only_spec(make_settings, campaign_ids=["urn:li:sponsoredCampaign:123"])
    )
    assert link.call_count == 1
    request = link.last_request
    assert request.method == "PUT"
    assert request.url == LINK_URL
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "campaign": "urn:li:sponsoredCampaign:123",
        "conversion": "urn:lla:llaPartnerConversion:456",
    }
    assert resolved.linked_campaigns == {"123"}


def test_already_linked_campaigns_are_not_relinked(
    manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    requests_mock.get(
        RULE_URL,
        json=rule_json(
            campaigns=["urn:li:sponsoredCampaign:123"],
            associatedCampaigns=[{"campaign": "urn:li:sponsoredCampaign:125"}],
        ),
    )
    link = requests_mock.put(requests_mock_any_link(), status_code=204)
    manager.ensure(only_spec(make_settings, campaign_ids=["123", "124", "125"]))
    assert link.call_count == 1
    assert "urn%3Ali%3AsponsoredCampaign%3A124," in link.last_request.url


def requests_mock_any_link() -> Any:
    import re

    return re.compile(re.escape(f"{API_BASE}/campaignConversions/") + r".*")


def test_failed_link_after_create_keeps_the_rule(
    manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    finder_pages(requests_mock, [])
    requests_mock.post(FINDER_URL, text=create_answer([]))
    requests_mock.put(
        requests_mock_any_link(),
        status_code=400,
        json={"status": 400, "message": "Campaign does not exist"},
    )
    with pytest.raises(FatalError) as caught:
        manager.ensure(by_name(make_settings, campaign_ids=["77"]))
    message = str(caught.value)
    assert "77" in message
    assert "789" in message
    assert "kept" in message
    assert "campaign_ids" in message
    # The created rule is neither deleted nor disabled.
    assert [r.method for r in writes(requests_mock)] == ["POST", "PUT"]


def test_two_specs_resolving_to_one_rule_look_it_up_once(
    manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    settings = make_settings(
        conversion_rule_id=None,
        conversion_rules=[
            {"streams": ["orders"], "conversion_rule_id": "456", "campaign_ids": ["123"]},
            {"streams": ["refunds"], "conversion_rule_id": "456", "campaign_ids": ["124"]},
        ],
    )
    lookup = requests_mock.get(RULE_URL, json=rule_json())
    links = requests_mock.put(requests_mock_any_link(), status_code=204)
    first, second = manager.ensure_all(settings.rules)
    assert lookup.call_count == 1
    assert first is second
    assert first.rule_id == "456"
    assert links.call_count == 2
    # Ensuring the same spec again is free.
    manager.ensure(settings.rules[0])
    assert requests_mock.call_count == 3


# -- dry run ---------------------------------------------------------------------------------


def test_dry_run_create_plan(
    dry_manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    finder_pages(requests_mock, [[rule_json(id=9, name="Other")]])
    resolved = dry_manager.ensure(by_name(make_settings, campaign_ids=["123", "124"]))
    assert {r.method for r in requests_mock.request_history} == {"GET"}
    assert any(a.startswith("would create rule 'Purchases'") for a in resolved.actions)
    assert "would link campaigns 123, 124 to the new rule" in resolved.actions
    assert resolved.label == "rule (new) 'Purchases'"


def test_dry_run_change_plan(
    dry_manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    requests_mock.get(RULE_URL, json=rule_json(campaigns=["urn:li:sponsoredCampaign:123"]))
    resolved: ResolvedRule = dry_manager.ensure(
        only_spec(
            make_settings, attribution_type="LAST_TOUCH_BY_CONVERSION", campaign_ids=["123", "124"]
        )
    )
    assert {r.method for r in requests_mock.request_history} == {"GET"}
    (change,) = [a for a in resolved.actions if a.startswith("would change")]
    assert "attributionType LAST_TOUCH_BY_CAMPAIGN -> LAST_TOUCH_BY_CONVERSION" in change
    (link,) = [a for a in resolved.actions if a.startswith("would link campaigns")]
    assert "124" in link
    assert "123" not in link.split(" to ")[0]  # already linked


def test_dry_run_verifies_too(
    dry_manager: RuleManager, requests_mock: Any, make_settings: MakeSettings
) -> None:
    requests_mock.get(RULE_URL, json=rule_json(enabled=False))
    with pytest.raises(FatalError):
        dry_manager.ensure(only_spec(make_settings))
