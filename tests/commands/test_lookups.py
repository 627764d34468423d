"""`--list accounts|campaigns|rules`: what the emulator holds, paged through to the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from linkedin_capi_emulator import Emulator

from target_linkedin_capi.linkedin import client as client_module
from target_linkedin_capi.linkedin.client import LinkedInClient
from tests.commands.emulated import (
    assert_nothing_written,
    credentials,
    demo_config,
    invoke,
    run_cli,
)
from tests.constants import API_BASE, EMULATOR_ACCOUNT, EMULATOR_TOKEN, TOKEN

PAGE = 2  # small pages on both sides, so every lookup spans several


@pytest.fixture
def paged(monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setattr(client_module, "FINDER_PAGE_SIZE", PAGE)
    emulator = Emulator(finder_page_size=PAGE)
    emulator.start()
    yield emulator  # type: ignore[misc]
    emulator.stop()


def finder_calls(emu: Emulator, path: str) -> int:
    return sum(1 for request in emu.state.requests() if request["path"] == path)


def test_list_accounts_needs_only_the_credentials(paged: Emulator, tmp_path: Path) -> None:
    for account in range(5010003, 5010006):
        paged.add_account(account, f"Account {account}", currency="EUR")
    # No ad account, no rule: what a user has before looking the account id up.
    outcome = invoke(credentials(paged), tmp_path, "--list", "accounts", "--format", "json")
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    accounts = outcome.json()["accounts"]
    assert [row["id"] for row in accounts] == [str(a) for a in range(5010001, 5010006)]
    third = accounts[2]
    assert third["name"] == "Account 5010003" and third["currency"] == "EUR"
    assert third["status"] == "ACTIVE" and third["role"] == "ACCOUNT_BILLING_ADMIN"
    assert finder_calls(paged, "/rest/adAccountUsers") >= 3  # 5 accounts, pages of 2
    assert finder_calls(paged, "/rest/adAccounts") >= 3
    assert_nothing_written(paged)


def test_list_accounts_shows_the_tokens_role_in_a_table(emu: Emulator, tmp_path: Path) -> None:
    emu.add_token("viewer-token", {EMULATOR_ACCOUNT: "VIEWER"})
    config = credentials(emu, access_token="viewer-token")
    outcome = invoke(config, tmp_path, "--list", "accounts")
    assert outcome.exit_code == 0
    heading, *rows = outcome.stdout.splitlines()
    assert heading.split() == ["ID", "NAME", "STATUS", "CURRENCY", "TYPE", "ROLE"]
    assert len(rows) == 1 and rows[0].startswith(str(EMULATOR_ACCOUNT))
    assert rows[0].endswith("VIEWER")


def test_list_campaigns_lists_every_campaign_of_the_configured_account(
    paged: Emulator, tmp_path: Path
) -> None:
    for campaign in range(6010004, 6010008):
        paged.add_campaign(EMULATOR_ACCOUNT, campaign, f"Campaign {campaign}", status="PAUSED")
    outcome = invoke(
        demo_config(paged, tmp_path), tmp_path, "--list", "campaigns", "--format", "json"
    )
    assert outcome.exit_code == 0
    campaigns = outcome.json()["campaigns"]
    assert [row["id"] for row in campaigns] == [str(c) for c in range(6010001, 6010008)]
    assert "6020001" not in {row["id"] for row in campaigns}  # another account's
    assert campaigns[-1] == {
        "account_id": str(EMULATOR_ACCOUNT),
        "id": "6010007",
        "name": "Campaign 6010007",
        "status": "PAUSED",
        "type": campaigns[-1]["type"],
    }
    assert campaigns[-1]["type"]
    assert finder_calls(paged, f"/rest/adAccounts/{EMULATOR_ACCOUNT}/adCampaigns") >= 4
    assert_nothing_written(paged)


def test_list_rules_lists_every_rule_with_its_settings(paged: Emulator, tmp_path: Path) -> None:
    made = [
        paged.add_rule(EMULATOR_ACCOUNT, f"Rule {n}", type="LEAD", campaigns=[6010001])
        for n in range(4)
    ]
    off = paged.add_rule(
        EMULATOR_ACCOUNT, "Tag rule", type="PURCHASE", enabled=False,
        conversion_method="INSIGHT_TAG", post_click=90, view_through=1,
    )  # fmt: skip
    paged.add_rule(5010002, "Not this account", type="LEAD")
    outcome = invoke(demo_config(paged, tmp_path), tmp_path, "--list", "rules", "--format", "json")
    assert outcome.exit_code == 0
    rules = {row["id"]: row for row in outcome.json()["rules"]}
    assert set(rules) == {str(rule) for rule in [*made, off]}
    assert rules[str(made[0])]["campaigns"] == ["6010001"]
    assert rules[str(off)] == {
        "account_id": str(EMULATOR_ACCOUNT),
        "id": str(off),
        "name": "Tag rule",
        "type": "PURCHASE",
        "attribution_type": rules[str(off)]["attribution_type"],
        "post_click_window": 90,
        "view_through_window": 1,
        "enabled": False,
        "method": "INSIGHT_TAG",
        "campaigns": [],
    }
    assert finder_calls(paged, "/rest/conversions") >= 3
    assert_nothing_written(paged)


def test_list_rules_table_and_an_empty_account(emu: Emulator, tmp_path: Path) -> None:
    outcome = invoke(demo_config(emu, tmp_path), tmp_path, "--list", "rules")
    assert outcome.exit_code == 0
    assert outcome.stdout.strip() == f"No conversion rules in ad account {EMULATOR_ACCOUNT}."
    emu.add_rule(EMULATOR_ACCOUNT, "Line\nbreak\x1b[31m", type="LEAD")
    outcome = invoke(demo_config(emu, tmp_path), tmp_path, "--list", "rules")
    heading, row = outcome.stdout.splitlines()
    assert heading.split()[:4] == ["ACCOUNT", "ID", "NAME", "TYPE"]
    assert "Line break?[31m" in row  # no line break or escape reaches the terminal


def test_list_campaigns_without_an_ad_account_says_which_setting_is_missing(
    emu: Emulator, tmp_path: Path
) -> None:
    outcome = run_cli(credentials(emu), tmp_path, "--list", "campaigns")
    assert outcome.exit_code == 1
    assert "ad_account_id" in outcome.stdout + outcome.stderr


def test_a_refused_token_is_one_clear_error(emu: Emulator, tmp_path: Path) -> None:
    emu.revoke_token(EMULATOR_TOKEN)
    outcome = invoke(credentials(emu), tmp_path, "--list", "accounts")
    assert outcome.exit_code == 1
    assert outcome.stdout == ""


def test_account_users_without_a_total_are_paged_by_full_pages_and_next_links(
    requests_mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "FINDER_PAGE_SIZE", 2)

    def element(n: int) -> dict[str, str]:
        return {"account": f"urn:li:sponsoredAccount:{n}", "role": "ACCOUNT_MANAGER"}

    pages = [
        {"elements": [element(1), element(2)], "paging": {"start": 0, "count": 2}},
        # A short page that still announces a next one.
        {
            "elements": [element(3)],
            "paging": {"start": 2, "count": 2, "links": [{"rel": "next", "href": "/x"}]},
        },
        {"elements": [element(4)], "paging": {"start": 3, "count": 2}},
        {"elements": [element(5)], "paging": {"start": 4, "count": 2}},  # never asked for
    ]
    requests_mock.get(f"{API_BASE}/adAccountUsers", [{"json": page} for page in pages])
    client = LinkedInClient(
        api_base_url=API_BASE, api_version="202609", tokens=_tokens(), session=_session(),
        connect_timeout=2, read_timeout=2, retry_max_attempts=1, retry_max_wait_seconds=1,
        rate_limit_per_minute=600,
    )  # fmt: skip
    assert [user.account_id for user in client.find_ad_account_users()] == ["1", "2", "3", "4"]


def _session() -> Any:
    return LinkedInClient.new_session(2)


def _tokens() -> Any:
    from target_linkedin_capi.linkedin.auth import TokenManager

    return TokenManager(
        access_token=TOKEN, refresh_token=None, client_id=None, client_secret=None,
        oauth_token_url="https://www.linkedin.test/oauth/v2/accessToken",
        session=_session(), timeout=(2, 2),
    )  # fmt: skip


@pytest.mark.parametrize("lookup", ["rules", "campaigns"])
def test_an_unknown_ad_account_is_named_as_the_setting_to_fix(
    emu: Emulator, tmp_path: Path, lookup: str
) -> None:
    outcome = run_cli(demo_config(emu, tmp_path, ad_account_id="123"), tmp_path, "--list", lookup)
    assert outcome.exit_code == 1
    assert "Ad account 123 does not exist" in outcome.stderr
    assert "ad_account_id" in outcome.stderr and "conversion rule id" not in outcome.stderr
