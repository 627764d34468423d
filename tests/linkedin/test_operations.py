"""The typed operations: the dry run as a recording transport, the lookups against the
emulator, and the layering (Rest.li and dry-run details stay inside linkedin/ and run.py)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from linkedin_capi_emulator import Emulator

from target_linkedin_capi.linkedin.auth import TokenManager
from target_linkedin_capi.linkedin.client import LinkedInClient
from target_linkedin_capi.linkedin.models import AccountUser, RuleDraft
from target_linkedin_capi.linkedin.transport import RECORDED_CREATE_ID, RecordingTransport
from tests.constants import ACCOUNT_QUERY, API_BASE

PACKAGE = Path(__file__).resolve().parents[2] / "target_linkedin_capi"


class Lines:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def write(self, line: dict[str, Any]) -> None:
        self.lines.append(json.loads(json.dumps(line)))


def test_recording_transport_sends_reads_and_records_writes(
    client: LinkedInClient, requests_mock: Any
) -> None:
    requests_mock.get(f"{API_BASE}/conversions/456?{ACCOUNT_QUERY}", json={"id": 456})
    recorded = Lines()
    dry = LinkedInClient(RecordingTransport(client.http, recorded))
    assert dry.get_rule("123", "456").id == "456"  # a real lookup
    new_id = dry.create_rule(RuleDraft("Leads", "123", "LEAD", "LAST_TOUCH_BY_CAMPAIGN", 30, 7))
    dry.partial_update_rule("456", "123", {"attribution_type": "LAST_TOUCH_BY_CONVERSION"})
    dry.link_campaign("77", "urn:lla:llaPartnerConversion:456")
    dry.batch_create_events(b'{"elements":[{"eventId":"e1"}]}', 1)
    assert new_id == RECORDED_CREATE_ID
    assert [r.method for r in requests_mock.request_history] == ["GET"]  # nothing written
    assert [(line["method"], line["url"].split("/rest", 1)[1]) for line in recorded.lines] == [
        ("POST", "/conversions"),
        ("POST", f"/conversions/456?{ACCOUNT_QUERY}"),
        (
            "PUT",
            "/campaignConversions/(campaign:urn%3Ali%3AsponsoredCampaign%3A77,"
            "conversion:urn%3Alla%3AllaPartnerConversion%3A456)",
        ),
        ("POST", "/conversionEvents"),
    ]
    assert recorded.lines[1]["body"] == {
        "patch": {"$set": {"attributionType": "LAST_TOUCH_BY_CONVERSION"}}
    }
    assert recorded.lines[1]["headers"]["X-RestLi-Method"] == "PARTIAL_UPDATE"
    assert recorded.lines[3]["headers"]["X-RestLi-Method"] == "BATCH_CREATE"
    assert "X-RestLi-Method" not in recorded.lines[0]["headers"]  # a plain CREATE
    assert recorded.lines[3]["body"] == {"elements": [{"eventId": "e1"}]}
    assert all("Authorization" not in line["headers"] for line in recorded.lines)
    assert dry.told("done", "planned") == "planned" and client.told("done", "x") == "done"


# -- lookups against the emulator ----------------------------------------------------------


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def emulator_client(emu: Emulator, **tokens: Any) -> LinkedInClient:
    session = requests.Session()
    manager = TokenManager(
        access_token=tokens.get("access_token", "emulator-token"),
        refresh_token=None,
        client_id=tokens.get("client_id"),
        client_secret=tokens.get("client_secret"),
        oauth_token_url=f"{emu.url}/oauth/v2/accessToken",
        session=session,
        timeout=(5.0, 10.0),
    )
    return LinkedInClient(
        api_base_url=emu.base_url,
        api_version="202609",
        tokens=manager,
        session=session,
        connect_timeout=5.0,
        read_timeout=10.0,
        retry_max_attempts=2,
        retry_max_wait_seconds=5,
        rate_limit_per_minute=10_000,
    )


def test_lookups_against_the_emulator(emu: Emulator) -> None:
    client = emulator_client(emu, client_id="client-id", client_secret="client-secret")
    users = list(client.find_ad_account_users())
    assert users and all(isinstance(u, AccountUser) and u.role for u in users)
    account_id = users[0].account_id
    account = client.get_ad_account(account_id)
    assert account is not None and account.id == account_id
    campaigns = list(client.find_campaigns(account_id))
    assert campaigns and len({c.id for c in campaigns}) == len(campaigns)
    info = client.introspect_token()
    assert info.active and "rw_conversions" in info.scopes


def test_rules_finder_reads_every_page_of_the_emulator(emu: Emulator) -> None:
    for n in range(7):
        emu.add_rule(account=5010001, name=f"Rule {n}", type="LEAD")
    client = emulator_client(emu)
    names = [rule.name for rule in client.find_rules("5010001")]
    assert {f"Rule {n}" for n in range(7)} <= set(names)
    assert len(names) == len(set(names))


# -- layering --------------------------------------------------------------------------------


def grep(pattern: str) -> list[str]:
    found = subprocess.run(
        ["grep", "-rnE", pattern, str(PACKAGE), "--include=*.py"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return [line for line in found.splitlines() if "/emulator/" not in line]


def test_dry_run_is_chosen_in_one_place() -> None:
    files = {
        Path(line.split(":", 1)[0]).relative_to(PACKAGE).as_posix() for line in grep("dry_run")
    }
    # Nothing that reads, maps or sends branches on it: run.py picks the recording transport.
    # report/ only says that the run was a dry run (the summary's "would send", the run
    # report's status, the mark on rejected lines), which the operator must be told.
    sending = {f for f in files if not f.startswith("report/")}
    assert sending <= {"config/settings.py", "run.py"}


@pytest.mark.parametrize(
    "pattern",
    [
        r"X-Rest[Ll]i|LinkedIn-Version|x-restli-id|x-li-uuid",
        r"\$set",
        r"marked as deleted|CONVERSIONS_API,|indices \[",
        r"\.send_events|restli_method",
    ],
)
def test_rules_and_delivery_hold_no_restli_details(pattern: str) -> None:
    hits = [
        line
        for line in grep(pattern)
        if re.search(r"/(plan/reconcile|delivery/dispatcher)\.py:", line)
    ]
    assert hits == []
