"""The emulator's lookup endpoints for the operator commands: ad accounts with the token's role,
campaigns of an account, rules with their campaigns, token introspection; paging per endpoint
as LinkedIn documents it (cursor for adAccounts/adCampaigns search, start/count elsewhere)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from target_linkedin_capi.emulator import Emulator
from tests.constants import EMULATOR_ACCOUNT as ACCOUNT
from tests.constants import EMULATOR_TOKEN as TOKEN

OTHER_ACCOUNT = 5010002
VERSION = "202609"
SIXTY_DAYS = 60 * 86400


def headers(token: str = TOKEN, version: str = VERSION) -> dict[str, str]:
    return {
        "X-Restli-Protocol-Version": "2.0.0",
        "LinkedIn-Version": version,
        "Authorization": f"Bearer {token}",
    }


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:  # the defaults the demo and the CLI use
        yield emulator


def get(emu: Emulator, path: str, token: str = TOKEN, **kw: Any) -> requests.Response:
    return requests.get(f"{emu.base_url}{path}", headers=headers(token, **kw), timeout=10)


def control(emu: Emulator, path: str, body: Any) -> requests.Response:
    return requests.post(f"{emu.control_url}{path}", json=body, timeout=10)


def introspect(emu: Emulator, **form: str) -> requests.Response:
    data = {"client_id": "client-id", "client_secret": "client-secret", "token": TOKEN, **form}
    return requests.post(f"{emu.url}/oauth/v2/introspectToken", data=data, timeout=10)


def all_cursor_pages(emu: Emulator, path: str, page_size: int) -> list[list[Any]]:
    """Follow metadata.nextPageToken until it is absent; return each page's ids."""
    pages: list[list[Any]] = []
    token = ""
    while True:
        query = f"&pageSize={page_size}" + (f"&pageToken={token}" if token else "")
        body = get(emu, path + query).json()
        pages.append([e["id"] for e in body["elements"]])
        token = body["metadata"].get("nextPageToken", "")
        if not token:
            return pages
        assert len(pages) < 100, "paging never ended"


# --------------------------------------------------------------------------- ad accounts


def test_account_users_default_role_per_reachable_account(emu: Emulator) -> None:
    body = get(emu, "/adAccountUsers?q=authenticatedUser").json()
    assert [(e["account"], e["role"]) for e in body["elements"]] == [
        (f"urn:li:sponsoredAccount:{ACCOUNT}", "ACCOUNT_BILLING_ADMIN"),
        (f"urn:li:sponsoredAccount:{OTHER_ACCOUNT}", "ACCOUNT_BILLING_ADMIN"),
    ]
    element = body["elements"][0]
    assert element["user"].startswith("urn:li:person:")
    assert set(element["changeAuditStamps"]) == {"created", "lastModified"}
    assert body["paging"]["total"] == 2


def test_account_users_role_configurable_by_python_api(emu: Emulator) -> None:
    emu.add_token("viewer-token", accounts=[ACCOUNT], role="VIEWER")
    emu.add_token("mixed-token", accounts={ACCOUNT: "CAMPAIGN_MANAGER", OTHER_ACCOUNT: "VIEWER"})
    viewer = get(emu, "/adAccountUsers?q=authenticatedUser", token="viewer-token").json()
    assert [(e["account"], e["role"]) for e in viewer["elements"]] == [
        (f"urn:li:sponsoredAccount:{ACCOUNT}", "VIEWER")
    ]
    mixed = get(emu, "/adAccountUsers?q=authenticatedUser", token="mixed-token").json()
    assert [e["role"] for e in mixed["elements"]] == ["CAMPAIGN_MANAGER", "VIEWER"]
    with pytest.raises(ValueError, match="unknown role"):
        emu.add_token("bad", role="OWNER")


def test_account_users_role_configurable_by_control_api(emu: Emulator) -> None:
    r = control(emu, "/tokens", {"token": "t2", "accounts": [OTHER_ACCOUNT], "role": "VIEWER"})
    assert r.status_code == 200
    body = get(emu, "/adAccountUsers?q=authenticatedUser", token="t2").json()
    assert [(e["account"], e["role"]) for e in body["elements"]] == [
        (f"urn:li:sponsoredAccount:{OTHER_ACCOUNT}", "VIEWER")
    ]
    r = control(emu, "/tokens", {"token": "t3", "accounts": {str(ACCOUNT): "ACCOUNT_MANAGER"}})
    assert r.status_code == 200
    body = get(emu, "/adAccountUsers?q=authenticatedUser", token="t3").json()
    assert [e["role"] for e in body["elements"]] == ["ACCOUNT_MANAGER"]
    assert control(emu, "/tokens", {"token": "t4", "role": "OWNER"}).status_code == 400
    assert control(emu, "/tokens", {"accounts": [1]}).status_code == 400


def test_account_users_start_count_paging(emu: Emulator) -> None:
    for n in range(5):
        assert control(emu, "/accounts", {"account": 5030000 + n}).status_code == 200
    first = get(emu, "/adAccountUsers?q=authenticatedUser&start=0&count=3").json()
    assert first["paging"]["start"] == 0
    assert first["paging"]["count"] == 3
    assert first["paging"]["total"] == 7
    (link,) = first["paging"]["links"]
    assert link["rel"] == "next"
    assert "start=3" in link["href"]
    assert "count=3" in link["href"]
    second = get(emu, "/adAccountUsers?q=authenticatedUser&start=3&count=3").json()
    third = get(emu, "/adAccountUsers?q=authenticatedUser&start=6&count=3").json()
    assert third["paging"]["links"] == []
    accounts = [e["account"] for page in (first, second, third) for e in page["elements"]]
    assert len(accounts) == len(set(accounts)) == 7
    assert get(emu, "/adAccountUsers?q=authenticatedUser&start=x").status_code == 400


def test_ad_account_get_fields(emu: Emulator) -> None:
    emu.add_account(5040001, "Acme EU", currency="EUR", status="CANCELED")
    acct = get(emu, "/adAccounts/5040001").json()
    assert acct == {
        "id": 5040001,
        "name": "Acme EU",
        "status": "CANCELED",
        "currency": "EUR",
        "type": "BUSINESS",
        "test": False,
        "reference": "urn:li:organization:5040001",
    }
    assert get(emu, "/adAccounts/5040001?fields=id,currency").json() == {
        "id": 5040001,
        "currency": "EUR",
    }
    emu.add_token("other-only", accounts=[OTHER_ACCOUNT])
    assert get(emu, f"/adAccounts/{ACCOUNT}", token="other-only").status_code == 403


def test_ad_accounts_search_cursor_paging(emu: Emulator) -> None:
    for n in range(7):
        control(emu, "/accounts", {"account": 5030000 + n, "name": f"Bulk {n}"})
    pages = all_cursor_pages(emu, "/adAccounts?q=search", page_size=4)
    assert [len(p) for p in pages] == [4, 4, 1]
    ids = [i for page in pages for i in page]
    assert ids == sorted({ACCOUNT, OTHER_ACCOUNT, *range(5030000, 5030007)})
    first = get(emu, "/adAccounts?q=search&pageSize=4").json()
    assert "paging" not in first
    assert set(first["elements"][0]) >= {"id", "name", "status", "currency", "type", "reference"}
    # The documented default page size (100) returns all nine on one page, without a token.
    assert get(emu, "/adAccounts?q=search").json()["metadata"] == {}
    bad = get(emu, "/adAccounts?q=search&pageToken=not-a-token")
    assert bad.status_code == 400
    assert "pageToken" in bad.json()["message"]


def test_ad_accounts_search_only_reachable_and_filtered(emu: Emulator) -> None:
    emu.add_account(5040001, status="CANCELED")
    emu.add_token("other-only", accounts=[OTHER_ACCOUNT, 5040001])
    found = get(emu, "/adAccounts?q=search", token="other-only").json()
    assert [a["id"] for a in found["elements"]] == [OTHER_ACCOUNT, 5040001]
    active = get(
        emu, "/adAccounts?q=search&search=(status:(values:List(ACTIVE,DRAFT)))", token="other-only"
    ).json()
    assert [a["id"] for a in active["elements"]] == [OTHER_ACCOUNT]
    by_test = get(emu, "/adAccounts?q=search&search=(test:false,type:(values:List(BUSINESS)))")
    assert [a["id"] for a in by_test.json()["elements"]] == [ACCOUNT, OTHER_ACCOUNT, 5040001]
    assert get(emu, "/adAccounts?q=search&search=(nope:(values:List(1)))").status_code == 400
    assert get(emu, "/adAccounts?q=search&search=status:ACTIVE)").status_code == 400
    # Rest.li 2.0: grammar characters must stay literal.
    encoded = "/adAccounts?q=search&search=%28status%3A%28values%3AList%28ACTIVE%29%29%29"
    assert get(emu, encoded).status_code == 400


def test_ad_accounts_search_index_paging_before_202401() -> None:
    with Emulator(active_versions=["202312", "202609"], finder_page_size=2) as emu:
        old = get(emu, "/adAccounts?q=search&start=0&count=1", version="202312").json()
        assert old["paging"]["total"] == 2
        assert len(old["elements"]) == 1
        new = get(emu, "/adAccounts?q=search&pageSize=1", version="202609").json()
        assert "nextPageToken" in new["metadata"]


# --------------------------------------------------------------------------- campaigns


def test_demo_defaults_have_another_account_with_a_campaign(emu: Emulator) -> None:
    found = get(emu, f"/adAccounts/{ACCOUNT}/adCampaigns?q=search").json()
    assert [c["id"] for c in found["elements"]][:2] == [6010001, 6010002]
    campaign = found["elements"][0]
    assert set(campaign) >= {"id", "name", "status", "type", "account"}
    assert campaign["account"] == f"urn:li:sponsoredAccount:{ACCOUNT}"
    other = get(emu, f"/adAccounts/{OTHER_ACCOUNT}/adCampaigns?q=search").json()
    assert [c["id"] for c in other["elements"]] == [6020001]
    # A campaign of another account is not found under this one.
    assert get(emu, f"/adAccounts/{ACCOUNT}/adCampaigns/6020001").status_code == 404
    assert get(emu, f"/adAccounts/{OTHER_ACCOUNT}/adCampaigns/6020001").status_code == 200
    assert get(emu, f"/adAccounts/{ACCOUNT}/adCampaigns/6010002").json()["id"] == 6010002


def test_campaign_search_cursor_paging_and_status_filter(emu: Emulator) -> None:
    for n in range(6):
        r = control(
            emu,
            "/campaigns",
            {
                "account": ACCOUNT,
                "campaign": 6019000 + n,
                "status": "PAUSED" if n % 2 else "ACTIVE",
            },
        )
        assert r.status_code == 200
    pages = all_cursor_pages(emu, f"/adAccounts/{ACCOUNT}/adCampaigns?q=search", page_size=4)
    assert [len(p) for p in pages] == [4, 4, 1]
    assert sorted(i for p in pages for i in p) == [
        6010001, 6010002, 6010003, *range(6019000, 6019006)
    ]  # fmt: skip
    paused = get(
        emu, f"/adAccounts/{ACCOUNT}/adCampaigns?q=search&search=(status:(values:List(PAUSED)))"
    ).json()
    assert [c["id"] for c in paused["elements"]] == [6019001, 6019003, 6019005]
    assert all(c["status"] == "PAUSED" for c in paused["elements"])
    by_urn = get(
        emu,
        f"/adAccounts/{ACCOUNT}/adCampaigns?q=search"
        "&search=(id:(values:List(urn%3Ali%3AsponsoredCampaign%3A6010002)))",
    ).json()
    assert [c["id"] for c in by_urn["elements"]] == [6010002]
    assert control(emu, "/campaigns", {"account": 1, "campaign": 2, "x": 1}).status_code == 400


def test_campaigns_server_page_cap() -> None:
    with Emulator(finder_page_size=2) as emu:
        pages = all_cursor_pages(emu, f"/adAccounts/{ACCOUNT}/adCampaigns?q=search", page_size=50)
        assert pages == [[6010001, 6010002], [6010003]]


# --------------------------------------------------------------------------- rules


def test_rules_listing_has_what_the_table_needs_and_pages(emu: Emulator) -> None:
    for n in range(4):
        r = control(
            emu,
            "/rules",
            {"account": ACCOUNT, "name": f"Rule {n}", "type": "LEAD", "campaigns": [6010001]},
        )
        assert r.status_code == 200
    control(emu, "/rules", {"account": OTHER_ACCOUNT, "name": "Elsewhere", "campaigns": [6020001]})
    acct = f"urn%3Ali%3AsponsoredAccount%3A{ACCOUNT}"
    first = get(emu, f"/conversions?q=account&account={acct}&start=0&count=3").json()
    second = get(emu, f"/conversions?q=account&account={acct}&start=3&count=3").json()
    rules = first["elements"] + second["elements"]
    assert [r["name"] for r in rules] == ["Rule 0", "Rule 1", "Rule 2", "Rule 3"]
    assert len(second["elements"]) == 1
    needed = {
        "id", "name", "type", "attributionType", "postClickAttributionWindowSize",
        "viewThroughAttributionWindowSize", "enabled", "conversionMethod", "campaigns",
        "associatedCampaigns",
    }  # fmt: skip
    assert all(needed <= set(r) for r in rules)
    assert rules[0]["campaigns"] == ["urn:li:sponsoredCampaign:6010001"]
    links = get(
        emu,
        "/campaignConversions?q=campaigns&campaigns=List(urn%3Ali%3AsponsoredCampaign%3A6010001)",
    ).json()
    assert sorted(e["conversion"] for e in links["elements"]) == sorted(
        f"urn:lla:llaPartnerConversion:{r['id']}" for r in rules
    )


def test_viewer_role_reads_accounts_but_not_the_conversions_api(emu: Emulator) -> None:
    emu.add_token("viewer", accounts=[ACCOUNT], role="VIEWER")
    assert get(emu, f"/adAccounts/{ACCOUNT}", token="viewer").status_code == 200
    acct = f"urn%3Ali%3AsponsoredAccount%3A{ACCOUNT}"
    r = get(emu, f"/conversions?q=account&account={acct}", token="viewer")
    assert r.status_code == 403
    assert r.json()["code"] == "ACCESS_DENIED"
    rule = emu.add_rule(account=ACCOUNT, name="Purchases")
    event = {
        "conversion": f"urn:lla:llaPartnerConversion:{rule}",
        "conversionHappenedAt": int(time.time() * 1000) - 60_000,
        "eventId": "e1",
        "user": {"userIds": [{"idType": "SHA256_EMAIL", "idValue": "a" * 64}]},
    }
    posted = requests.post(
        f"{emu.base_url}/conversionEvents", json=event, headers=headers("viewer"), timeout=10
    )
    assert posted.status_code == 403
    assert emu.state.accepted_count() == 0


def test_scopes_gate_the_endpoints(emu: Emulator) -> None:
    emu.add_token("ads-only", scopes="r_ads")
    emu.add_token("conv-only", scopes=["rw_conversions"])
    acct = f"urn%3Ali%3AsponsoredAccount%3A{ACCOUNT}"
    assert get(emu, "/adAccounts?q=search", token="ads-only").status_code == 200
    assert get(emu, f"/conversions?q=account&account={acct}", token="ads-only").status_code == 403
    assert get(emu, "/adAccounts?q=search", token="conv-only").status_code == 403
    assert get(emu, "/adAccountUsers?q=authenticatedUser", token="conv-only").status_code == 403


# --------------------------------------------------------------------------- introspection


def test_introspect_default_token(emu: Emulator) -> None:
    before = int(time.time())
    r = introspect(emu)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {
        "active", "client_id", "authorized_at", "created_at", "status", "expires_at", "scope",
        "auth_type",
    }  # fmt: skip
    assert body["active"] is True
    assert body["status"] == "active"
    assert body["client_id"] == "client-id"
    assert body["scope"].split(",") == ["rw_conversions", "r_ads"]
    assert body["auth_type"] == "3L"
    assert before - 5 <= body["created_at"] <= body["authorized_at"] <= int(time.time())
    assert abs(body["expires_at"] - (body["created_at"] + SIXTY_DAYS)) <= 5


def test_introspect_errors_and_other_apps(emu: Emulator) -> None:
    assert introspect(emu, client_id="nope").status_code == 400
    assert introspect(emu, token="unknown-token").status_code == 400
    r = introspect(emu, client_secret="wrong")
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    missing = requests.post(
        f"{emu.url}/oauth/v2/introspectToken", data={"client_id": "client-id"}, timeout=10
    )
    assert missing.status_code == 400
    emu.add_token("other-app-token", client_id="another-app")
    r = introspect(emu, token="other-app-token")
    assert r.status_code == 200
    assert r.json() == {"active": False}


def test_introspect_expired_revoked_and_configured(emu: Emulator) -> None:
    emu.add_token("short", expires_in=3600, scopes="r_ads")
    body = introspect(emu, token="short").json()
    assert body["scope"] == "r_ads"
    assert 3590 <= body["expires_at"] - int(time.time()) <= 3600
    emu.add_token("past", expires_at=int(time.time()) - 10)
    body = introspect(emu, token="past").json()
    assert (body["active"], body["status"]) == (False, "expired")
    # A token past its expiry time is refused like an expired one.
    r = get(emu, f"/adAccounts/{ACCOUNT}", token="past")
    assert r.status_code == 401
    assert r.json()["code"] == "EXPIRED_ACCESS_TOKEN"
    emu.revoke_token("short")
    assert introspect(emu, token="short").json()["status"] == "revoked"
    emu.expire_token(TOKEN)
    assert introspect(emu).json()["status"] == "expired"
    r = control(
        emu, "/tokens", {"token": "ctl", "scopes": "r_ads,rw_conversions", "expires_in": 60}
    )
    assert r.status_code == 200
    assert introspect(emu, token="ctl").json()["scope"] == "r_ads,rw_conversions"


def test_introspect_refreshed_token_belongs_to_its_app() -> None:
    with Emulator(oauth_clients={"client-id": "client-secret", "app-2": "s2"}) as emu:
        issued = requests.post(
            emu.oauth_token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": "refresh-1",
                "client_id": "app-2",
                "client_secret": "s2",
            },
            timeout=10,
        ).json()["access_token"]
        mine = introspect(emu, token=issued, client_id="app-2", client_secret="s2").json()
        assert mine["active"] is True
        assert mine["client_id"] == "app-2"
        assert introspect(emu, token=issued).json() == {"active": False}


def test_introspection_log_masks_the_secret(emu: Emulator) -> None:
    introspect(emu)
    (entry,) = emu.state.requests()
    assert entry["form"]["client_secret"] == "***"
    assert "client-secret" not in str(entry)


# --------------------------------------------------------------------------- CLI defaults


def test_cli_defaults_serve_the_demo_setup(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    proc = subprocess.Popen(
        [sys.executable, "-m", "target_linkedin_capi.emulator", "--port", "0",
         "--ready-file", str(ready)],
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert time.monotonic() < deadline, "emulator did not start"
            assert proc.poll() is None
            time.sleep(0.05)
        url = ready.read_text()
        rule = {
            "name": "Demo",
            "account": f"urn:li:sponsoredAccount:{ACCOUNT}",
            "conversionMethod": "CONVERSIONS_API",
            "type": "PURCHASE",
        }
        created = requests.post(f"{url}/rest/conversions", json=rule, headers=headers(), timeout=10)
        assert created.status_code == 201
        ids = [
            c["id"]
            for c in requests.get(
                f"{url}/rest/adAccounts/{ACCOUNT}/adCampaigns?q=search",
                headers=headers(),
                timeout=10,
            ).json()["elements"]
        ]
        assert {6010001, 6010002} <= set(ids)
        other = requests.get(
            f"{url}/rest/adAccounts/{OTHER_ACCOUNT}/adCampaigns?q=search",
            headers=headers(),
            timeout=10,
        ).json()["elements"]
        assert [c["id"] for c in other] == [6020001]
        users = requests.get(
            f"{url}/rest/adAccountUsers?q=authenticatedUser", headers=headers(), timeout=10
        ).json()["elements"]
        assert f"urn:li:sponsoredAccount:{ACCOUNT}" in [u["account"] for u in users]
        assert all(u["role"] != "VIEWER" for u in users)
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
