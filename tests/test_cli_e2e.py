"""The real CLI on Singer input against the emulator: wire format, batching, rule lifecycle."""

from __future__ import annotations

import hashlib
import json

import pytest
from linkedin_capi_emulator import Emulator

from tests.harness import SCHEMA, base_config, hashed_email, record, run_target, singer

pytestmark = pytest.mark.e2e


@pytest.fixture
def emu():
    with Emulator(port=0, tokens=["emulator-token"], accounts=[5010001, 7020002],
                  campaigns={5010001: [6010001, 6010002], 7020002: [8010001]}) as emulator:  # fmt: skip
        yield emulator


def event_posts(emu):
    return [r for r in emu.state.requests() if r["path"] == "/rest/conversionEvents"]


def test_12000_records_go_out_in_batches_of_at_most_5000_each_event_once(emu, tmp_path):
    rule = emu.add_rule(account=5010001, name="Purchases", type="PURCHASE")
    n = 12_000
    result = run_target(base_config(emu, rule), singer([record(i) for i in range(n)]), tmp_path)
    assert result.returncode == 0, result.stderr
    posts = event_posts(emu)
    sizes = [len(p["body"]["elements"]) for p in posts]
    assert len(posts) >= 3 and max(sizes) <= 5000 and sum(sizes) == n
    hashes = [e["user"]["userIds"][0]["idValue"] for e in emu.state.accepted_events()]
    assert sorted(hashes) == sorted(hashed_email(i) for i in range(n))
    headers = posts[0]["headers"]
    assert headers["linkedin-version"] == "202609"
    assert headers["x-restli-protocol-version"] == "2.0.0"
    assert headers["x-restli-method"] == "BATCH_CREATE"
    assert headers["content-type"] == "application/json"
    assert f"rule {rule}: received {n}, sent {n}, rejected 0" in result.stderr
    assert "ORACLE_MOAT_ID" not in result.stderr  # warned about only when it is mapped


def test_the_event_matches_linkedins_schema(emu, tmp_path):
    rule = emu.add_rule(account=5010001, name="Leads", type="LEAD")
    row = record(7, first_name=" Ada ", last_name="Lovelace", amount=19.99, currency="eur",
                 company="Analytical Engines", country="gb", ip="203.0.113.9", lead="123456",
                 fat="df5gf5-gh6t7", external=42, title="Countess")  # fmt: skip
    mappings = {
        "timestamp": "occurred_at", "value_amount": "amount", "value_currency": "currency",
        "company_name": "company", "country_code": "country", "ip_address": "ip",
        "lead_id": "lead", "linkedin_first_party_ads_tracking_uuid": "fat",
        "external_id": "external",
    }  # fmt: skip
    schema = {"type": "object", "properties": {**SCHEMA["properties"], **{
        k: {"type": ["string", "integer", "null"]} for k in
        ("company", "country", "ip", "lead", "fat", "external", "title")}}}  # fmt: skip
    lines = [
        json.dumps(
            {"type": "SCHEMA", "stream": "leads", "schema": schema, "key_properties": ["id"]}
        ),
        json.dumps({"type": "RECORD", "stream": "leads", "record": row}),
    ]
    config = base_config(emu, rule, field_mappings=mappings)
    result = run_target(config, "\n".join(lines) + "\n", tmp_path)
    assert result.returncode == 0, result.stderr
    [event] = emu.state.accepted_events()
    assert event["conversion"] == f"urn:lla:llaPartnerConversion:{rule}"
    assert event["conversionValue"] == {"currencyCode": "EUR", "amount": "19.99"}
    assert isinstance(event["conversionHappenedAt"], int)
    assert event["eventId"].startswith("k-")
    assert event["user"]["userIds"] == [
        {"idType": "SHA256_EMAIL", "idValue": hashed_email(7)},
        {"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": "df5gf5-gh6t7"},
        {"idType": "PLAINTEXT_IP_ADDRESS", "idValue": "203.0.113.9"},
    ]
    assert event["user"]["userInfo"] == {"firstName": "Ada", "lastName": "Lovelace",
                                         "companyName": "Analytical Engines", "title": "Countess",
                                         "countryCode": "GB"}  # fmt: skip
    assert event["user"]["lead"] == "urn:li:leadGenFormResponse:123456"
    assert event["user"]["externalIds"] == ["42"]


def test_invalid_records_are_rejected_while_valid_ones_in_the_same_batch_go_out(emu, tmp_path):
    rule = emu.add_rule(account=5010001, name="Purchases", type="PURCHASE")
    rows = [record(0), record(1, occurred_at="2001-01-01"), record(2, amount=-1),
            record(3, currency=None), record(4, email="nobody"), record(5)]  # fmt: skip
    result = run_target(base_config(emu, rule), singer(rows), tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(event_posts(emu)) == 1
    assert len(emu.state.accepted_events()) == 2
    reasons = {line["key"]["id"]: line["reason"] for line in result.rejected}
    assert reasons == {1: "timestamp_too_old", 2: "value_negative", 3: "currency_missing",
                       4: "no_identifier"}  # fmt: skip
    for line in result.rejected:
        assert set(line) == {
            "stream",
            "rule",
            "reason",
            "message",
            "field",
            "key",
            "event_id",
            "source",
            "run_id",
            "rejected_at",
        }
        assert line["source"] == "local" and line["stream"] == "public-conversions"
        assert "@" not in json.dumps(line)


def test_a_record_that_breaks_its_schema_is_rejected_not_fatal(emu, tmp_path):
    rule = emu.add_rule(account=5010001, name="Purchases", type="PURCHASE")
    rows = [record(0), record(1, amount="a lot"), record(2)]
    result = run_target(base_config(emu, rule), singer(rows), tmp_path)
    assert result.returncode == 0, result.stderr
    assert [line["reason"] for line in result.rejected] == ["schema_invalid"]
    assert "a lot" not in result.stderr + json.dumps(result.rejected)
    assert len(emu.state.accepted_events()) == 2


def named_rule_config(emu, **overrides):
    config = base_config(emu, "", conversion_rule_name="Signups (CAPI)", conversion_type="SIGN_UP",
                         campaign_ids=["6010001", "urn:li:sponsoredCampaign:6010002"])  # fmt: skip
    config.pop("conversion_rule_id")
    config.update(overrides)
    return config


def test_a_named_rule_is_created_once_across_runs_and_its_campaigns_linked(emu, tmp_path):
    first = run_target(named_rule_config(emu), singer([record(i) for i in range(5)]), tmp_path)
    assert first.returncode == 0, first.stderr
    [rule] = emu.state.rules()
    assert rule["name"] == "Signups (CAPI)" and rule["conversionMethod"] == "CONVERSIONS_API"
    assert "conversion_rule_id" in first.stderr  # suggests pinning the id
    links = {(link["campaign"], link["conversion"]) for link in emu.state.campaign_links()}
    urn = f"urn:lla:llaPartnerConversion:{rule['id']}"
    assert links == {
        ("urn:li:sponsoredCampaign:6010001", urn),
        ("urn:li:sponsoredCampaign:6010002", urn),
    }
    puts = [r for r in emu.state.requests() if r["method"] == "PUT"]
    assert puts[0]["path"] == (
        "/rest/campaignConversions/(campaign:urn%3Ali%3AsponsoredCampaign%3A6010001,"
        f"conversion:urn%3Alla%3AllaPartnerConversion%3A{rule['id']})"
    )
    writes_before = len([r for r in emu.state.requests() if r["method"] != "GET"])

    second = run_target(named_rule_config(emu), singer([record(i) for i in range(5, 9)]), tmp_path)
    assert second.returncode == 0, second.stderr
    assert len(emu.state.rules()) == 1
    writes = [r for r in emu.state.requests() if r["method"] != "GET"][writes_before:]
    assert [w["path"] for w in writes] == ["/rest/conversionEvents"]  # nothing but events


def test_drift_gives_exactly_one_partial_update_with_only_changed_fields(emu, tmp_path):
    rule = emu.add_rule(account=5010001, name="Trials", type="START_TRIAL",
                        attribution_type="LAST_TOUCH_BY_CAMPAIGN", post_click=30, view_through=7)  # fmt: skip
    config = base_config(emu, rule, attribution_type="LAST_TOUCH_BY_CONVERSION",
                         view_through_attribution_window_size=7)  # fmt: skip
    result = run_target(config, singer([record(1)]), tmp_path)
    assert result.returncode == 0, result.stderr
    assert emu.state.summary()["rule_updates"] == [
        {"id": rule, "set": {"attributionType": "LAST_TOUCH_BY_CONVERSION"}}
    ]
    again = run_target(config, singer([record(2)]), tmp_path)
    assert again.returncode == 0, again.stderr
    assert len(emu.state.summary()["rule_updates"]) == 1  # no drift, no write


@pytest.mark.parametrize(
    ("rule_kwargs", "problem"),
    [
        ({"enabled": False}, "disabled"),
        ({"conversion_method": "INSIGHT_TAG_URL_MATCH_RULES"}, "Conversions API"),
        ({"account": 7020002}, "belongs to ad account"),
    ],
)
def test_an_unusable_existing_rule_stops_the_run_before_any_event(
    emu, tmp_path, rule_kwargs, problem
):
    kwargs = {"account": 5010001, "name": "x", "type": "LEAD", **rule_kwargs}
    rule = emu.add_rule(**kwargs)
    result = run_target(base_config(emu, rule), singer([record(1)]), tmp_path)
    assert result.returncode == 1
    assert problem in result.stderr and str(rule) in result.stderr
    assert "Error initializing target sink" not in result.stderr  # one message, the right one
    assert event_posts(emu) == []
    assert "Traceback" not in result.stderr


def test_a_missing_rule_stops_the_run(emu, tmp_path):
    result = run_target(base_config(emu, 999), singer([record(1)]), tmp_path)
    assert result.returncode == 1
    assert "999 does not exist in ad account 5010001" in result.stderr


def test_two_streams_feed_two_rules_in_one_run(emu, tmp_path):
    purchases = emu.add_rule(account=5010001, name="Purchases", type="PURCHASE")
    config = base_config(emu, "", conversion_rules=[
        {"streams": ["public-orders"], "conversion_rule_id": str(purchases)},
        {"streams": ["public-signup*"], "conversion_rule_name": "Signups", "conversion_type": "SIGN_UP",
         "ad_account_id": "urn:li:sponsoredAccount:7020002", "campaign_ids": ["8010001"]},
    ])  # fmt: skip
    config.pop("conversion_rule_id")
    text = singer([record(i) for i in range(3)], stream="public-orders") + singer(
        [record(i) for i in range(10, 14)], stream="public-signups"
    )
    result = run_target(config, text, tmp_path)
    assert result.returncode == 0, result.stderr
    by_rule = emu.state.summary()["accepted_events_by_rule"]
    signups = next(r for r in emu.state.rules() if r["name"] == "Signups")
    assert by_rule == {f"urn:lla:llaPartnerConversion:{purchases}": 3,
                       f"urn:lla:llaPartnerConversion:{signups['id']}": 4}  # fmt: skip
    assert signups["account"] == "urn:li:sponsoredAccount:7020002"


def test_a_stream_no_rule_takes_is_an_error_at_its_schema(emu, tmp_path):
    purchases = emu.add_rule(account=5010001, name="Purchases", type="PURCHASE")
    config = base_config(
        emu, "", conversion_rules=[{"streams": ["orders"], "conversion_rule_id": str(purchases)}]
    )
    config.pop("conversion_rule_id")
    result = run_target(config, singer([record(1)], stream="refunds"), tmp_path)
    assert result.returncode == 1
    assert "'refunds'" in result.stderr and "conversion_rules" in result.stderr


def test_dry_run_writes_nothing_to_linkedin_and_prints_the_plan(emu, tmp_path):
    rule = emu.add_rule(account=5010001, name="Old name", type="LEAD")
    config = base_config(emu, rule, dry_run=True, conversion_rule_name="New name",
                         campaign_ids=["6010001"], dry_run_output_path=str(tmp_path / "dry.jsonl"))  # fmt: skip
    result = run_target(config, singer([record(1)]), tmp_path)
    assert result.returncode == 0, result.stderr
    assert all(r["method"] == "GET" for r in emu.state.requests())
    assert "would change rule" in result.stderr and "name Old name -> New name" in result.stderr
    assert "would link campaigns 6010001" in result.stderr
    planned = [json.loads(x) for x in (tmp_path / "dry.jsonl").read_text().splitlines()]
    writes = [(p["method"], p["url"].split("/rest", 1)[1]) for p in planned]
    assert writes[:2] == [
        ("POST", f"/conversions/{rule}?account=urn%3Ali%3AsponsoredAccount%3A5010001"),
        ("PUT", "/campaignConversions/(campaign:urn%3Ali%3AsponsoredCampaign%3A6010001,"
                f"conversion:urn%3Alla%3AllaPartnerConversion%3A{rule})"),
    ]  # fmt: skip
    assert planned[0]["headers"]["X-RestLi-Method"] == "PARTIAL_UPDATE"
    assert planned[0]["body"] == {"patch": {"$set": {"name": "New name"}}}
    assert all("Authorization" not in p["headers"] for p in planned)
    created = named_rule_config(emu, dry_run=True)
    result = run_target(created, singer([record(1)]), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "would create rule 'Signups (CAPI)'" in result.stderr
    assert emu.state.rules() == [r for r in emu.state.rules() if r["name"] == "Old name"]


def test_an_event_id_that_is_an_email_is_masked_in_the_rejected_file(emu, tmp_path):
    rule = emu.add_rule(account=5010001, name="Purchases", type="PURCHASE")
    config = base_config(emu, rule)
    config["field_mappings"] = {**config["field_mappings"], "event_id": "event_key"}
    rows = [record(1, event_key="buyer@example.com", occurred_at=None)]
    result = run_target(config, singer(rows), tmp_path)
    assert result.returncode == 0, result.stderr
    [line] = result.rejected
    assert line["reason"] == "timestamp_missing"
    # Unmasked, an email-like id is withheld: neither the address nor its SHA-256 (the value
    # LinkedIn gets as SHA256_EMAIL, which would link the row to the person) is written.
    assert line["event_id"].startswith("<withheld")
    written = json.dumps(result.rejected) + result.stderr
    assert "buyer@example.com" not in written
    assert hashlib.sha256(b"buyer@example.com").hexdigest() not in written
