"""Tests for the local LinkedIn emulator (HTTP behaviour against reference §1-§5, §10)."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from target_linkedin_capi.emulator import Emulator
from tests.constants import DAY_MS
from tests.constants import EMULATOR_ACCOUNT as ACCOUNT
from tests.constants import EMULATOR_TOKEN as TOKEN
from tests.helpers import now_ms

OTHER_ACCOUNT = 5020002
VERSION = "202609"
HASH = "a" * 64
REQUIRED = "field is required but not found and has no default value"


def headers(
    version: str | None = VERSION, token: str | None = TOKEN, **extra: str
) -> dict[str, str]:
    out = {"X-Restli-Protocol-Version": "2.0.0"}
    if version is not None:
        out["LinkedIn-Version"] = version
    if token is not None:
        out["Authorization"] = f"Bearer {token}"
    out.update({k.replace("_", "-"): v for k, v in extra.items()})
    return out


BATCH = {"X_RestLi_Method": "BATCH_CREATE"}


def event(rule_id: int, event_id: str = "evt-1", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "conversion": f"urn:lla:llaPartnerConversion:{rule_id}",
        "conversionHappenedAt": now_ms() - 60_000,
        "conversionValue": {"currencyCode": "USD", "amount": "50.0"},
        "eventId": event_id,
        "user": {"userIds": [{"idType": "SHA256_EMAIL", "idValue": HASH}]},
    }
    base.update(overrides)
    return base


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(
        accounts=[ACCOUNT, OTHER_ACCOUNT],
        campaigns={ACCOUNT: [6010001, 6010002], OTHER_ACCOUNT: [6020001]},
        token_accounts={"limited-token": [OTHER_ACCOUNT]},
        refresh_tokens=["refresh-1", "refresh-2"],
        finder_page_size=3,
    ) as emulator:
        yield emulator


@pytest.fixture
def rule(emu: Emulator) -> int:
    emu.state.reset()
    return emu.add_rule(account=ACCOUNT, name="Purchases", type="PURCHASE")


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def post_events(
    emu: Emulator, session: requests.Session, elements: list[Any], **hdr: str
) -> requests.Response:
    return session.post(
        f"{emu.base_url}/conversionEvents",
        json={"elements": elements},
        headers=headers(**{**BATCH, **hdr}),
    )


# --------------------------------------------------------------------------- gateway


def test_version_missing(emu: Emulator, rule: int, session: requests.Session) -> None:
    r = session.post(
        f"{emu.base_url}/conversionEvents", json=event(rule), headers=headers(version=None)
    )
    assert r.status_code == 400
    assert r.json() == {
        "status": 400,
        "code": "VERSION_MISSING",
        "message": "A version must be present. Please specify a version by adding the "
        "LinkedIn-Version header.",
    }
    assert "X-Restli-Gateway-Error" in r.headers
    assert emu.state.accepted_events() == []


@pytest.mark.parametrize(("version", "shown"), [("202504", "20250401"), ("202512", "20251201")])
def test_version_not_active(
    emu: Emulator, rule: int, session: requests.Session, version: str, shown: str
) -> None:
    r = session.post(
        f"{emu.base_url}/conversionEvents", json=event(rule), headers=headers(version=version)
    )
    assert r.status_code == 426
    assert r.json() == {
        "status": 426,
        "code": "NONEXISTENT_VERSION",
        "message": f"Requested version {shown} is not active",
    }


def test_version_patch_suffix_and_lowercase_header(
    emu: Emulator, rule: int, session: requests.Session
) -> None:
    hdr = {"linkedin-version": "202609.01", "authorization": f"Bearer {TOKEN}"}
    r = session.post(f"{emu.base_url}/conversionEvents", json=event(rule), headers=hdr)
    assert r.status_code == 201


def test_custom_active_versions() -> None:
    with Emulator(active_versions=["202601"]) as e:
        r = requests.get(f"{e.base_url}/adAccounts/{ACCOUNT}", headers=headers(version="202609"))
        assert r.status_code == 426
        assert requests.get(
            f"{e.base_url}/adAccounts/{ACCOUNT}", headers=headers(version="202601")
        ).ok


def _auth_error(service_code: int, code: str, message: str) -> dict[str, Any]:
    return {"status": 401, "serviceErrorCode": service_code, "code": code, "message": message}


@pytest.mark.parametrize(
    ("token", "setup", "body"),
    [
        (None, None, _auth_error(65604, "EMPTY_ACCESS_TOKEN", "Empty oauth2_access_token")),
        ("nope", None, _auth_error(65600, "INVALID_ACCESS_TOKEN", "Invalid access token")),
        (
            "t-expired",
            "expire",
            _auth_error(65602, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired"),
        ),
        (
            "t-revoked",
            "revoke",
            _auth_error(
                65601,
                "REVOKED_ACCESS_TOKEN",
                "The token used in the request has been revoked by the user",
            ),
        ),
    ],
)
def test_auth_errors(
    emu: Emulator,
    rule: int,
    session: requests.Session,
    token: str | None,
    setup: str | None,
    body: dict,
) -> None:
    if setup:
        emu.add_token(token or "")
        getattr(emu, f"{setup}_token")(token)
    r = session.post(
        f"{emu.base_url}/conversionEvents", json=event(rule), headers=headers(token=token)
    )
    assert r.status_code == 401
    assert r.json() == body
    assert r.headers["x-restli-protocol-version"] == "2.0.0"
    assert r.headers["x-li-uuid"]


def test_route_checks_come_first(emu: Emulator, session: requests.Session) -> None:
    r = session.get(f"{emu.base_url}/nope", headers=headers(version=None, token=None))
    assert r.status_code == 404
    assert r.json() == {
        "status": 404,
        "code": "RESOURCE_NOT_FOUND",
        "message": "No virtual resource found",
    }
    assert (
        session.get(f"{emu.base_url}/conversionEvents", headers=headers(token=None)).status_code
        == 405
    )
    r = session.delete(f"{emu.base_url}/conversions/1", headers=headers())
    assert r.status_code == 405


def test_throttle() -> None:
    with Emulator(rate_limit_per_minute=2) as e:
        url = f"{e.base_url}/adAccounts/{ACCOUNT}"
        assert [requests.get(url, headers=headers()).status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]
        assert requests.get(url, headers=headers()).json() == {
            "serviceErrorCode": 101,
            "message": "Resource level throttle limit for calls to this resource is reached.",
            "status": 429,
        }


def test_keep_alive_and_content_length(emu: Emulator, rule: int) -> None:
    conn = http.client.HTTPConnection(emu.host, emu.port, timeout=5)
    try:
        for _ in range(3):
            conn.request("GET", f"/rest/adAccounts/{ACCOUNT}", headers=headers())
            resp = conn.getresponse()
            assert resp.status == 200
            assert int(resp.getheader("Content-Length")) == len(resp.read())
            assert not resp.will_close
    finally:
        conn.close()


# --------------------------------------------------------------------------- conversion events


def test_batch_accepted(emu: Emulator, rule: int, session: requests.Session) -> None:
    elements = [event(rule, f"evt-{i}") for i in range(3)]
    r = post_events(emu, session, elements)
    assert r.status_code == 200
    assert r.json() == {"elements": [{"status": 201}] * 3}
    assert emu.state.accepted_events() == elements
    assert emu.state.summary()["accepted_events_by_rule"] == {
        f"urn:lla:llaPartnerConversion:{rule}": 3
    }


def test_batch_method_header_is_case_insensitive(
    emu: Emulator, rule: int, session: requests.Session
) -> None:
    r = session.post(
        f"{emu.base_url}/conversionEvents/",
        json={"elements": [event(rule)]},
        headers={**headers(), "x-restli-method": "batch_create"},
    )
    assert r.status_code == 200


def test_single_created_empty_body(emu: Emulator, rule: int, session: requests.Session) -> None:
    r = session.post(f"{emu.base_url}/conversionEvents", json=event(rule), headers=headers())
    assert r.status_code == 201
    assert r.content == b""
    assert r.headers["Content-Length"] == "0"
    assert r.headers["x-restli-id"]
    assert len(emu.state.accepted_events()) == 1


def test_single_with_elements_key_is_422(
    emu: Emulator, rule: int, session: requests.Session
) -> None:
    r = session.post(
        f"{emu.base_url}/conversionEvents", json={"elements": [event(rule)]}, headers=headers()
    )
    assert r.status_code == 422
    assert "ERROR :: /elements :: unrecognized field found but not allowed\n" in r.json()["message"]


def test_batch_422_lists_every_error_and_stores_nothing(
    emu: Emulator, rule: int, session: requests.Session
) -> None:
    bad_value = event(rule, "evt-1", conversionValue={"currencyCode": "USD", "amount": 19.9})
    bad_user = event(
        rule,
        "evt-3",
        user={"userIds": [{"idType": "EMAIL", "idValue": "x"}], "userInfo": {"title": "cto"}},
        extra=True,
    )
    bad_urn = event(rule, "evt-4", conversion="urn:li:llaPartnerConversion:1")
    del bad_urn["conversionHappenedAt"]
    elements = [event(rule, "evt-0"), bad_value, event(rule, "evt-2"), bad_user, bad_urn]
    r = post_events(emu, session, elements, LinkedIn_Version="202608")
    assert r.status_code == 422
    assert r.json() == {
        "status": 422,
        "message": (
            "Index: 1, ERROR :: /conversionValue/amount :: 19.9 cannot be coerced to String\n"
            'Index: 3, ERROR :: /user/userIds/0/idType :: "EMAIL" is not an enum symbol\n'
            f"ERROR :: /user/userInfo/firstName :: {REQUIRED}\n"
            f"ERROR :: /user/userInfo/lastName :: {REQUIRED}\n"
            "ERROR :: /extra :: unrecognized field found but not allowed\n"
            "Index: 4, ERROR :: /conversion :: Invalid Urn format. Invalid prefix.\n"
            f"ERROR :: /conversionHappenedAt :: {REQUIRED}\n"
        ),
    }
    assert emu.state.accepted_events() == []
    assert emu.state.summary()["rejected_requests"] == {"422": 1}


def test_single_422_has_no_index(emu: Emulator, rule: int, session: requests.Session) -> None:
    r = session.post(
        f"{emu.base_url}/conversionEvents",
        json=event(
            rule, user={"userInfo": {"firstName": "A", "lastName": "B"}}, conversionHappenedAt=True
        ),
        headers=headers(),
    )
    assert r.status_code == 422
    assert r.json()["message"] == (
        "ERROR :: /conversionHappenedAt :: true cannot be coerced to Long\n"
        "ERROR :: /user/userIds :: field is required but not found and has no default value\n"
    )


def test_user_info_version_gates(emu: Emulator, rule: int, session: requests.Session) -> None:
    hashed = {"userIds": [], "userInfo": {"hashedFirstName": HASH, "lastName": "Smith"}}
    r = post_events(emu, session, [event(rule, user=hashed)], LinkedIn_Version="202608")
    assert r.status_code == 422
    assert r.json()["message"] == (
        f"Index: 0, ERROR :: /user/userInfo/firstName :: {REQUIRED}\n"
        "ERROR :: /user/userInfo/hashedFirstName :: unrecognized field found but not allowed\n"
    )
    assert (
        post_events(emu, session, [event(rule, user=hashed)], LinkedIn_Version="202609").status_code
        == 200
    )
    bad_hash = {"userIds": [], "userInfo": {"hashedFirstName": HASH.upper(), "lastName": "S"}}
    assert post_events(emu, session, [event(rule, user=bad_hash)]).status_code == 422


def test_window_400_with_indices(emu: Emulator, rule: int, session: requests.Session) -> None:
    elements = [
        event(rule, "old", conversionHappenedAt=now_ms() - 91 * DAY_MS),
        event(rule, "ok"),
        event(rule, "future", conversionHappenedAt=now_ms() + 3_600_000),
    ]
    r = post_events(emu, session, elements)
    assert r.status_code == 400
    assert r.json() == {
        "message": "Conversion time should be within 90 days and not exceed current time, "
        "indices [0, 2] (0-indexed).",
        "status": 400,
    }
    assert emu.state.accepted_events() == []


def test_identity_required(emu: Emulator, rule: int, session: requests.Session) -> None:
    lead_only = event(rule, "lead", user={"userIds": [], "lead": "urn:li:leadGenFormResponse:1"})
    anonymous = event(rule, "anon", user={"userIds": [], "externalIds": []})
    r = post_events(emu, session, [lead_only, anonymous])
    assert r.status_code == 400
    assert r.json() == {
        "message": "The request must contain one of these fields: userIds, userInfo with firstName "
        "and lastName, externalIds, lead, indices [1] (0-indexed).",
        "status": 400,
    }
    assert post_events(emu, session, [lead_only]).status_code == 200


def test_unknown_rule_403(emu: Emulator, rule: int, session: requests.Session) -> None:
    r = post_events(emu, session, [event(rule), event(999)])
    assert r.status_code == 403
    assert r.json() == {"message": "No ad accounts found", "status": 403}


def test_insight_tag_and_disabled_rules(
    emu: Emulator, rule: int, session: requests.Session
) -> None:
    tag = emu.add_rule(account=ACCOUNT, name="tag", conversion_method="INSIGHT_TAG_URL_MATCH_RULES")
    off = emu.add_rule(account=ACCOUNT, name="off", enabled=False)
    r = post_events(emu, session, [event(tag), event(rule), event(tag)])
    assert r.status_code == 400
    assert r.json() == {
        "message": "Incorrect conversions information provided. Conversion's method should be "
        "CONVERSIONS_API, indices [0, 2] (0-indexed)",
        "status": 400,
    }
    r = post_events(emu, session, [event(rule), event(off)])
    assert r.status_code == 400
    assert r.json() == {
        "message": "Invalid Conversion information provided, this event(s) is associated to a "
        "conversion that's marked as deleted. Conversion enabled should be true, "
        "indices [1] (0-indexed)",
        "status": 400,
    }


def test_batch_limits(emu: Emulator, rule: int, session: requests.Session) -> None:
    one = event(rule)
    r = post_events(emu, session, [one] * 5001)
    assert r.status_code == 400
    assert r.json() == {"message": "Batch size exceeds the maximum of 5000 elements", "status": 400}
    r = post_events(emu, session, [one] * 5000)
    assert r.status_code == 200
    assert len(r.json()["elements"]) == 5000
    assert emu.state.summary()["accepted_events"] == 5000


def test_token_without_account_role(emu: Emulator, rule: int, session: requests.Session) -> None:
    r = post_events(emu, session, [event(rule)], Authorization="Bearer limited-token")
    assert r.status_code == 403
    assert r.json() == {
        "status": 403,
        "serviceErrorCode": 100,
        "code": "ACCESS_DENIED",
        "message": "Not enough permissions to access: conversionEvents.BATCH_CREATE.20260901",
    }


def test_request_log(emu: Emulator, rule: int, session: requests.Session) -> None:
    post_events(emu, session, [event(rule)])
    (entry,) = emu.state.requests()
    assert entry["method"] == "POST"
    assert entry["path"] == "/rest/conversionEvents"
    assert entry["status"] == 200
    assert entry["headers"]["linkedin-version"] == VERSION
    assert entry["headers"]["x-restli-method"] == "BATCH_CREATE"
    assert "authorization" not in entry["headers"]
    assert entry["body"]["elements"][0]["eventId"] == "evt-1"


# --------------------------------------------------------------------------- rules


def _create_rule(
    emu: Emulator, session: requests.Session, version: str = VERSION, **fields: Any
) -> requests.Response:
    body = {
        "name": "CAPI purchases",
        "account": f"urn:li:sponsoredAccount:{ACCOUNT}",
        "conversionMethod": "CONVERSIONS_API",
        "type": "PURCHASE",
        "postClickAttributionWindowSize": 30,
        "viewThroughAttributionWindowSize": 7,
        "attributionType": "LAST_TOUCH_BY_CAMPAIGN",
        **fields,
    }
    return session.post(f"{emu.base_url}/conversions", json=body, headers=headers(version=version))


def test_rule_create_get_and_update(emu: Emulator, session: requests.Session) -> None:
    emu.state.reset()
    r = _create_rule(emu, session)
    assert r.status_code == 201
    rule = r.json()
    assert list(rule) == [
        "postClickAttributionWindowSize", "conversionMethod", "viewThroughAttributionWindowSize",
        "created", "type", "enabled", "associatedCampaigns", "campaigns", "name", "id",
        "lastModified", "attributionType", "urlRules", "account",
    ]  # fmt: skip
    assert rule["id"] == 14488340
    assert r.headers["Location"] == "/conversions/14488340"
    assert r.headers["x-restli-id"] == "14488340"
    assert rule["enabled"] is True
    assert rule["account"] == f"urn:li:sponsoredAccount:{ACCOUNT}"

    url = f"{emu.base_url}/conversions/{rule['id']}"
    got = session.get(
        url, params={"account": f"urn:li:sponsoredAccount:{ACCOUNT}"}, headers=headers()
    )
    assert got.status_code == 200
    assert got.json() == rule
    # The rule keeps its own account even when queried with another one (clients must check).
    other = session.get(
        f"{url}?account=urn%3Ali%3AsponsoredAccount%3A{OTHER_ACCOUNT}", headers=headers()
    )
    assert other.json()["account"] == f"urn:li:sponsoredAccount:{ACCOUNT}"
    assert session.get(url, headers=headers()).status_code == 400
    missing = session.get(
        f"{emu.base_url}/conversions/1?account=urn%3Ali%3AsponsoredAccount%3A1", headers=headers()
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "RESOURCE_NOT_FOUND"

    patch = {"patch": {"$set": {"enabled": False, "name": "renamed"}}}
    upd = session.post(
        f"{url}?account=urn%3Ali%3AsponsoredAccount%3A{ACCOUNT}",
        json=patch,
        headers=headers(X_RestLi_Method="PARTIAL_UPDATE"),
    )
    assert upd.status_code == 204
    assert upd.content == b""
    assert emu.state.summary()["rule_updates"] == [
        {"id": rule["id"], "set": {"enabled": False, "name": "renamed"}}
    ]
    assert emu.state.rules()[0]["enabled"] is False
    assert emu.state.summary()["rules_created"] == 1


@pytest.mark.parametrize(
    ("version", "fields", "status", "message"),
    [
        (VERSION, {"type": "NOPE"}, 422, 'ERROR :: /type :: "NOPE" is not an enum symbol\n'),
        ("202607", {"type": "MARKETING_QUALIFIED_LEAD"}, 422,
         'ERROR :: /type :: "MARKETING_QUALIFIED_LEAD" is not an enum symbol\n'),
        (VERSION, {"attributionType": "FIRST_TOUCH"}, 422,
         'ERROR :: /attributionType :: "FIRST_TOUCH" is not an enum symbol\n'),
        (VERSION, {"type": "DOWNLOAD", "postClickAttributionWindowSize": 365}, 400, None),
        (VERSION, {"viewThroughAttributionWindowSize": 180}, 400, None),
        (VERSION, {"name": ""}, 400, None),
    ],
)  # fmt: skip
def test_rule_create_validation(
    emu: Emulator,
    session: requests.Session,
    version: str,
    fields: dict,
    status: int,
    message: str | None,
) -> None:
    r = _create_rule(emu, session, version=version, **fields)
    assert r.status_code == status
    if message:
        assert r.json() == {"message": message, "status": 422}


@pytest.mark.parametrize(
    ("fields", "version"),
    [
        ({"type": "MARKETING_QUALIFIED_LEAD", "postClickAttributionWindowSize": 180}, "202608"),
        ({"type": "LEAD", "postClickAttributionWindowSize": 365}, VERSION),
        ({"type": "PURCHASE", "postClickAttributionWindowSize": 180}, VERSION),
    ],
)
def test_rule_create_long_windows(
    emu: Emulator, session: requests.Session, fields: dict, version: str
) -> None:
    assert _create_rule(emu, session, version=version, **fields).status_code == 201


def test_rule_finder_paging(emu: Emulator, session: requests.Session) -> None:
    emu.state.reset()
    ids = [emu.add_rule(account=ACCOUNT, name=f"r{i}") for i in range(5)]
    emu.add_rule(account=OTHER_ACCOUNT, name="elsewhere")
    url = f"{emu.base_url}/conversions?q=account&account=urn%3Ali%3AsponsoredAccount%3A{ACCOUNT}"
    first = session.get(f"{url}&start=0&count=10", headers=headers()).json()
    # finder_page_size=3 caps the page.
    assert first["paging"] == {"start": 0, "count": 3, "links": [], "total": -1}
    assert [r["id"] for r in first["elements"]] == ids[:3]
    second = session.get(f"{url}&start=3&count=3", headers=headers()).json()
    assert [r["id"] for r in second["elements"]] == ids[3:]
    assert session.get(f"{url}&start=6&count=3", headers=headers()).json()["elements"] == []
    projected = session.get(f"{url}&count=1&fields=id,name", headers=headers()).json()
    assert projected["elements"] == [{"name": "r0", "id": ids[0]}]


# --------------------------------------------------------------------------- campaign links


def _key(campaign: int, rule_id: int) -> str:
    return (
        f"(campaign:urn%3Ali%3AsponsoredCampaign%3A{campaign},"
        f"conversion:urn%3Alla%3AllaPartnerConversion%3A{rule_id})"
    )


def _entity(campaign: int, rule_id: int) -> dict[str, str]:
    return {
        "campaign": f"urn:li:sponsoredCampaign:{campaign}",
        "conversion": f"urn:lla:llaPartnerConversion:{rule_id}",
    }


def test_campaign_link_exact_key(emu: Emulator, rule: int, session: requests.Session) -> None:
    url = f"{emu.base_url}/campaignConversions/{_key(6010001, rule)}"
    for _ in range(2):  # idempotent
        r = session.put(url, json=_entity(6010001, rule), headers=headers())
        assert r.status_code == 204
    assert emu.state.campaign_links() == [_entity(6010001, rule)]
    got = session.get(url, headers=headers())
    assert got.status_code == 200
    assert got.json()["campaign"] == "urn:li:sponsoredCampaign:6010001"
    assert isinstance(got.json()["associatedAt"], int)
    assert emu.state.rules()[0]["campaigns"] == ["urn:li:sponsoredCampaign:6010001"]


@pytest.mark.parametrize(
    "key",
    [
        "(campaign:urn:li:sponsoredCampaign:6010001,conversion:urn:lla:llaPartnerConversion:{rule})",
        "%28campaign:urn%3Ali%3AsponsoredCampaign%3A6010001,conversion:urn%3Alla%3AllaPartnerConversion%3A{rule}%29",
        "%28campaign%3Aurn%253Ali%253AsponsoredCampaign%253A6010001%2Cconversion%3Aurn%253Alla%253AllaPartnerConversion%253A{rule}%29",
        "(campaign:urn%3Ali%3AsponsoredCampaign%3A6010001%2Cconversion:urn%3Alla%3AllaPartnerConversion%3A{rule})",
        "(campaign:urn%253Ali%253AsponsoredCampaign%253A6010001,conversion:urn%253Alla%253AllaPartnerConversion%253A{rule})",
    ],
)
def test_campaign_link_wrong_encoding(
    emu: Emulator, rule: int, session: requests.Session, key: str
) -> None:
    url = f"{emu.base_url}/campaignConversions/{key.format(rule=rule)}"
    r = session.put(url, json=_entity(6010001, rule), headers=headers())
    assert r.status_code == 400
    assert r.json() == {"status": 400, "message": "Invalid key format"}
    assert emu.state.campaign_links() == []


def test_campaign_link_errors(emu: Emulator, rule: int, session: requests.Session) -> None:
    r = session.put(
        f"{emu.base_url}/campaignConversions/{_key(6020001, rule)}",
        json=_entity(6020001, rule),
        headers=headers(),
    )
    assert r.status_code == 400
    assert r.json() == {
        "status": 400,
        "message": "Campaign urn:li:sponsoredCampaign:6020001 does not exist or does not belong "
        f"to the ad account of conversion urn:lla:llaPartnerConversion:{rule}",
    }
    r = session.put(
        f"{emu.base_url}/campaignConversions/{_key(6010001, 42)}",
        json=_entity(6010001, 42),
        headers=headers(),
    )
    assert r.status_code == 404
    r = session.put(
        f"{emu.base_url}/campaignConversions/{_key(6010001, rule)}",
        json=_entity(6010002, rule),
        headers=headers(),
    )
    assert r.status_code == 400  # body does not match the key


def test_campaign_batch_link(emu: Emulator, rule: int, session: requests.Session) -> None:
    keys = [_key(6010001, rule), _key(6020001, rule), _key(6010002, rule)]
    body = {
        "entities": {
            k: _entity(c, rule) for k, c in zip(keys, [6010001, 6020001, 6010002], strict=True)
        }
    }
    r = session.put(
        f"{emu.base_url}/campaignConversions?ids=List({','.join(keys)})",
        json=body,
        headers=headers(X_RestLi_Method="BATCH_UPDATE"),
    )
    assert r.status_code == 200
    data = r.json()
    assert data["results"] == {keys[0]: {"status": 204}, keys[2]: {"status": 204}}
    assert data["errors"][keys[1]]["status"] == 400
    assert "does not exist or does not belong" in data["errors"][keys[1]]["message"]
    assert emu.state.campaign_links() == [_entity(6010001, rule), _entity(6010002, rule)]


def test_ad_accounts_and_campaigns(emu: Emulator, session: requests.Session) -> None:
    acct = session.get(f"{emu.base_url}/adAccounts/{ACCOUNT}", headers=headers()).json()
    assert acct["id"] == ACCOUNT
    assert acct["status"] == "ACTIVE"
    assert session.get(f"{emu.base_url}/adAccounts/1", headers=headers()).status_code == 404
    camp = session.get(
        f"{emu.base_url}/adAccounts/{ACCOUNT}/adCampaigns/6010002", headers=headers()
    ).json()
    assert camp["account"] == f"urn:li:sponsoredAccount:{ACCOUNT}"
    assert (
        session.get(
            f"{emu.base_url}/adAccounts/{ACCOUNT}/adCampaigns/6020001", headers=headers()
        ).status_code
        == 404
    )
    found = session.get(
        f"{emu.base_url}/adAccounts/{ACCOUNT}/adCampaigns?q=search", headers=headers()
    ).json()
    assert [c["id"] for c in found["elements"]] == [6010001, 6010002]


# --------------------------------------------------------------------------- OAuth


def _refresh(emu: Emulator, **form: str) -> requests.Response:
    data = {
        "grant_type": "refresh_token",
        "client_id": "client-id",
        "client_secret": "client-secret",
        **form,
    }
    return requests.post(emu.oauth_token_url, data=data)


def test_oauth_refresh(emu: Emulator, session: requests.Session) -> None:
    emu.state.reset()
    r = _refresh(emu, refresh_token="refresh-1")
    assert r.status_code == 200
    body = r.json()
    assert body["expires_in"] == 5184000
    assert body["refresh_token"] == "refresh-1"
    assert body["refresh_token_expires_in"] == 31536000
    assert body["scope"] == "r_ads,rw_conversions"
    assert len(body["access_token"]) >= 90
    ok = session.get(
        f"{emu.base_url}/adAccounts/{ACCOUNT}", headers=headers(token=body["access_token"])
    )
    assert ok.status_code == 200
    log = emu.state.requests()[0]
    assert log["form"]["client_secret"] == "***"


def test_oauth_errors(emu: Emulator) -> None:
    r = _refresh(emu)
    assert r.status_code == 400
    assert r.json() == {
        "error": "invalid_request",
        "error_description": 'A required parameter "refresh_token" is missing',
    }
    r = _refresh(emu, refresh_token="unknown")
    assert r.status_code == 400
    assert r.json() == {
        "error": "invalid_request",
        "error_description": "The provided authorization grant or refresh token is invalid, "
        "expired or revoked",
    }
    r = _refresh(emu, refresh_token="refresh-1", client_secret="wrong")
    assert r.status_code == 401
    assert r.json() == {
        "error": "invalid_client",
        "error_description": "Client authentication failed",
    }


def test_oauth_rotation() -> None:
    with Emulator(rotate_refresh_tokens=True) as e:
        first = _refresh(e, refresh_token="refresh-1").json()
        assert first["refresh_token"] != "refresh-1"
        assert _refresh(e, refresh_token="refresh-1").status_code == 400
        assert _refresh(e, refresh_token=first["refresh_token"]).status_code == 200


# --------------------------------------------------------------------------- faults


def test_fault_status_with_retry_after(emu: Emulator, rule: int, session: requests.Session) -> None:
    emu.add_fault({"path": "/rest/conversionEvents", "method": "POST", "times": 2, "after": 1,
                   "action": {"status": 503, "headers": {"Retry-After": "1"}}})  # fmt: skip
    statuses = [post_events(emu, session, [event(rule)]) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 503, 503, 200]
    assert statuses[1].headers["Retry-After"] == "1"
    assert statuses[1].json() == {"message": "Service Unavailable", "status": 503}
    log = emu.state.requests()
    assert [e.get("fault") is not None for e in log] == [False, True, True, False]
    assert len(emu.state.accepted_events()) == 2


def test_fault_custom_body_forever(emu: Emulator, rule: int, session: requests.Session) -> None:
    emu.add_fault({"times": 0, "action": {"status": 500, "body": {"oops": 1}}})
    for _ in range(3):
        r = post_events(emu, session, [event(rule)])
        assert (r.status_code, r.json()) == (500, {"oops": 1})
    emu.clear_faults()


def test_fault_reset(emu: Emulator, rule: int, session: requests.Session) -> None:
    emu.add_fault({"action": "reset"})
    with pytest.raises(requests.exceptions.ConnectionError):
        post_events(emu, session, [event(rule)])
    assert post_events(emu, session, [event(rule)]).status_code == 200
    assert emu.state.requests()[0]["status"] is None


def test_fault_delay(emu: Emulator, rule: int, session: requests.Session) -> None:
    emu.add_fault({"action": {"delay": 1.0}})
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.post(
            f"{emu.base_url}/conversionEvents",
            json={"elements": [event(rule)]},
            headers=headers(**BATCH),
            timeout=0.1,
        )
    assert post_events(emu, session, [event(rule)]).status_code == 200


def test_fault_expire_token(emu: Emulator, rule: int, session: requests.Session) -> None:
    emu.add_token("soon-expired")
    emu.add_fault({"action": {"expire_token": True}})
    for _ in range(2):
        r = post_events(emu, session, [event(rule)], Authorization="Bearer soon-expired")
        assert r.status_code == 401
        assert r.json()["code"] == "EXPIRED_ACCESS_TOKEN"


@pytest.mark.parametrize(
    ("style", "status", "message"),
    [
        ("422", 422, "Index: 1, ERROR :: /eventId :: rejected by emulator fault\n"
                     "Index: 3, ERROR :: /eventId :: rejected by emulator fault\n"),
        ("400", 400, "Conversion time should be within 90 days and not exceed current time, "
                     "indices [1, 3] (0-indexed)."),
        ("no_index", 400, "Invalid conversion event"),
    ],
)  # fmt: skip
def test_fault_reject_event_ids(
    emu: Emulator, rule: int, session: requests.Session, style: str, status: int, message: str
) -> None:
    emu.add_fault({"reject_event_ids": ["evt-1", "evt-3"], "style": style, "times": 0})
    elements = [event(rule, f"evt-{i}") for i in range(4)]
    for _ in range(2):
        r = post_events(emu, session, elements)
        assert r.status_code == status
        assert r.json() == {"message": message, "status": status}
    assert post_events(emu, session, [elements[0], elements[2]]).status_code == 200
    assert [e["eventId"] for e in emu.state.accepted_events()] == ["evt-0", "evt-2"]


def test_invalid_fault_rejected(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="action"):
        emu.add_fault({"path": "/rest"})


# --------------------------------------------------------------------------- control API


def test_control_api(emu: Emulator, rule: int, session: requests.Session) -> None:
    control = f"{emu.url}/_emulator"
    assert session.post(f"{control}/faults", json=[{"action": {"status": 502}}]).status_code == 200
    assert post_events(emu, session, [event(rule)]).status_code == 502
    assert post_events(emu, session, [event(rule)]).status_code == 200
    state = session.get(f"{control}/state").json()
    assert state["accepted_events"] == 1
    assert state["rejected_requests"] == {"502": 1}
    assert state["rules"][0]["id"] == rule
    assert len(session.get(f"{control}/events").json()) == 1
    assert len(session.get(f"{control}/requests").json()) == 2
    assert session.post(f"{control}/tokens/revoke", json={"token": TOKEN}).status_code == 200
    assert post_events(emu, session, [event(rule)]).json()["code"] == "REVOKED_ACCESS_TOKEN"
    assert session.post(f"{control}/latency", json={"seconds": 0}).json() == {"seconds": 0.0}
    assert session.post(f"{control}/reset").status_code == 200
    assert session.get(f"{control}/events").json() == []
    # reset rebuilds the constructor configuration: token valid again, add_rule rules gone.
    assert post_events(emu, session, [event(rule)]).json() == {
        "message": "No ad accounts found",
        "status": 403,
    }


def test_latency_applies_to_rest(emu: Emulator, session: requests.Session) -> None:
    emu.set_latency(1.0)
    try:
        with pytest.raises(requests.exceptions.ReadTimeout):
            session.get(f"{emu.base_url}/adAccounts/{ACCOUNT}", headers=headers(), timeout=0.1)
        assert session.get(f"{emu.url}/_emulator/faults", timeout=0.5).status_code == 200
    finally:
        emu.set_latency(0.0)


# --------------------------------------------------------------------------- CLI


def test_cli_prints_line_and_writes_ready_file(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    proc = subprocess.Popen(
        [sys.executable, "-m", "target_linkedin_capi.emulator", "--port", "0",
         "--ready-file", str(ready),
         "--rule", f"{ACCOUNT}:Signups:SIGN_UP", "--campaign", f"{ACCOUNT}:7000001"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        url = ready.read_text()
        assert url.startswith("http://127.0.0.1:")
        assert line == (
            f"LinkedIn emulator listening on {url}/rest "
            f"(OAuth: {url}/oauth/v2/accessToken; control: {url}/_emulator)"
        )
        state = requests.get(f"{url}/_emulator/state", timeout=5).json()
        assert [(r["name"], r["type"]) for r in state["rules"]] == [("Signups", "SIGN_UP")]
        campaign = requests.get(
            f"{url}/rest/adAccounts/{ACCOUNT}/adCampaigns/7000001", headers=headers(), timeout=5
        )
        assert campaign.status_code == 200
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_state_accessors_return_copies(emu: Emulator, rule: int, session: requests.Session) -> None:
    post_events(emu, session, [event(rule)])
    emu.state.accepted_events()[0]["eventId"] = "mutated"
    emu.state.rules()[0]["name"] = "mutated"
    assert emu.state.accepted_events()[0]["eventId"] == "evt-1"
    assert emu.state.rules()[0]["name"] == "Purchases"
    json.dumps(emu.state.summary())
    json.dumps(emu.state.requests())
