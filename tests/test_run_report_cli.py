"""The operator's view of a run, through the real CLI against the emulator: Campaign Manager
links, the JSON run report, progress lines, dry runs that say what they are."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from linkedin_capi_emulator import Emulator

from tests.harness import base_config, hashed_email, record, run_target, singer

pytestmark = pytest.mark.e2e

CM = "https://www.linkedin.com/campaignmanager/accounts"


@pytest.fixture
def emu():
    with Emulator(port=0, tokens=["emulator-token"], accounts=[5010001, 7020002],
                  campaigns={5010001: [6010001]}) as emulator:  # fmt: skip
        yield emulator


def assert_counts_add_up(report: dict) -> None:
    for entry in report["rules"]:
        assert entry["received"] == (
            entry["sent"] + entry["rejected"] + entry["skipped_already_sent"]
        ), entry
        assert entry["accepted"] <= entry["sent"], entry
        assert entry["rejected"] == sum(entry["rejected_by_reason"].values()), entry


# -- Campaign Manager links ---------------------------------------------------------------------


def test_a_rule_given_as_a_link_is_used_like_its_id(emu, rule, tmp_path):
    config = base_config(
        emu, rule, ad_account_id=None, conversion_rule_id=f"{CM}/5010001/conversions/{rule}/details"
    )
    result = run_target(config, singer([record(i) for i in range(5)]), tmp_path)
    assert result.returncode == 0, result.stderr
    events = emu.state.accepted_events()
    assert len(events) == 5
    assert {e["conversion"] for e in events} == {f"urn:lla:llaPartnerConversion:{rule}"}


def test_a_link_for_another_account_is_a_config_error_naming_both(emu, rule, tmp_path):
    config = base_config(emu, rule, conversion_rule_id=f"{CM}/7020002/conversions/{rule}")
    result = run_target(config, singer([record(i) for i in range(5)]), tmp_path)
    assert result.returncode == 1
    assert "conversion_rule_id" in result.stderr and "ad_account_id" in result.stderr
    assert "7020002" in result.stderr and "5010001" in result.stderr
    assert "Traceback" not in result.stderr
    assert emu.state.accepted_events() == []


# -- the run report -----------------------------------------------------------------------------


def test_the_run_report_adds_up_matches_the_input_and_holds_no_personal_data(emu, rule, tmp_path):
    n = 60
    rows, expected = [], {"accepted": [], "names": 0, "ip": 0, "dropped_ip": 0}
    linkedin_refuses = {"evt-5", "evt-13"}
    for i in range(n):
        row = record(i, event_key=f"evt-{i}", ip="203.0.113.9" if i % 3 == 0 else None)
        if i % 4 == 0:
            row["occurred_at"] = "2001-01-01T00:00:00Z"  # rejected here
        elif i % 5 == 1 and f"evt-{i}" not in linkedin_refuses:
            row["ip"] = "not an ip"  # dropped; the event still goes out by its email
            expected["dropped_ip"] += 1
        if i % 2:
            row.update(first_name="Grace", last_name="Hopper")
        rows.append(row)
        if i % 4 and f"evt-{i}" not in linkedin_refuses:
            expected["accepted"].append(i)
            expected["names"] += i % 2
            expected["ip"] += row["ip"] == "203.0.113.9"
    emu.add_fault({"reject_event_ids": sorted(linkedin_refuses), "style": "422", "times": 0})
    mappings = {**base_config(emu, rule)["field_mappings"], "event_id": "event_key",
                "ip_address": "ip"}  # fmt: skip
    report_path = tmp_path / "reports" / "run.json"
    config = base_config(
        emu, rule, field_mappings=mappings, run_report_path=str(report_path), batch_size_rows=20
    )
    result = run_target(config, singer(rows), tmp_path)
    assert result.returncode == 0, result.stderr

    text = report_path.read_text()
    report = json.loads(text)
    assert (report_path.stat().st_mode & 0o777, report_path.parent.stat().st_mode & 0o777) == (
        0o600, 0o700,
    )  # fmt: skip
    assert report["status"] == "succeeded" and report["error"] is None
    assert report["records_read"] == n
    assert report["requests"] >= 3 and report["retries"] == 0 and report["throttled"] == 0
    assert report["duration_seconds"] >= 0 and report["started_at"] <= report["finished_at"]
    [entry] = report["rules"]
    assert_counts_add_up(report)
    accepted = expected["accepted"]
    assert (entry["rule_id"], entry["streams"]) == (str(rule), ["public-conversions"])
    assert entry["received"] == n
    assert entry["accepted"] == entry["sent"] == len(accepted) == len(emu.state.accepted_events())
    assert entry["rejected_by_reason"] == {"timestamp_too_old": n // 4, "linkedin_invalid_event": 2}
    assert entry["identifiers_dropped"] == {"ip_address_unusable_dropped": expected["dropped_ip"]}
    coverage = entry["identifier_coverage"]
    assert coverage["SHA256_EMAIL"] == len(accepted)
    assert coverage["userInfo"] == expected["names"]
    assert coverage["PLAINTEXT_IP_ADDRESS"] == expected["ip"]
    assert entry["value_totals"] == {"USD": str(sum(Decimal(10 + i % 7) for i in accepted))}
    happened = sorted(e["conversionHappenedAt"] for e in emu.state.accepted_events())
    assert entry["first_conversion_at"] < entry["last_conversion_at"]
    assert entry["first_conversion_at"].endswith("Z")

    # The log says the same in words, coverage included.
    names_share = expected["names"] * 100 // len(accepted)
    assert re.search(rf"email 100%.*names {names_share}%", result.stderr)
    # Nothing personal, in any form, and no token.
    lowered = text.lower()
    for forbidden in ("example.com", "person", "grace", "hopper", "203.0.113.9", "not an ip",
                      "emulator-token"):  # fmt: skip
        assert forbidden not in lowered, forbidden
    assert not any(hashed_email(i) in text for i in range(n))
    assert happened  # the report's times come from these, not from the records' text

    # Rejected lines say which run they belong to.
    assert {line["run_id"] for line in result.rejected} == {report["run_id"]}
    assert all(line["rejected_at"].endswith("Z") for line in result.rejected)
    assert not any("dry_run" in line for line in result.rejected)


def test_after_a_revoked_token_the_report_says_failed_with_the_error(emu, rule, tmp_path):
    emu.add_fault({"path": "/rest/conversionEvents", "after": 4, "times": 0,
                   "action": {"status": 401, "body": {"status": 401, "serviceErrorCode": 65601,
                              "code": "REVOKED_ACCESS_TOKEN", "message": "revoked"}}})  # fmt: skip
    n = 3000
    report_path = tmp_path / "run.json"
    config = base_config(emu, rule, batch_size_rows=200, max_inflight_batches=2,
                         run_report_path=str(report_path))  # fmt: skip
    rows = [record(i, occurred_at="2001-01-01") if i % 10 == 0 else record(i) for i in range(n)]
    result = run_target(config, singer(rows, state_every=200), tmp_path, pace=(400, 0.05))
    assert result.returncode == 1
    report = json.loads(report_path.read_text())
    assert report["status"] == "failed"
    assert "revoked" in report["error"] and "access token" in report["error"]
    assert "\n" not in report["error"] and "Traceback" not in report["error"]
    assert_counts_add_up(report)
    [entry] = report["rules"]
    assert entry["accepted"] == len(emu.state.accepted_events())
    assert entry["sent"] > entry["accepted"]  # the refused request's events got no 2xx
    assert 0 < report["records_read"] <= n
    assert "emulator-token" not in report_path.read_text()


def test_an_unwritable_report_path_is_a_warning_not_a_failure(emu, rule, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    config = base_config(emu, rule, run_report_path=str(blocker / "run.json"))
    result = run_target(config, singer([record(i) for i in range(3)]), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "run report could not be written" in result.stderr
    assert len(emu.state.accepted_events()) == 3


# -- progress -----------------------------------------------------------------------------------


def test_long_runs_log_progress_once_per_interval_never_per_record(emu, rule, tmp_path):
    n = 3000
    config = base_config(emu, rule, batch_size_rows=100, progress_interval_seconds=0.2)
    result = run_target(config, singer([record(i) for i in range(n)]), tmp_path,
                        pace=(250, 0.15))  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "Progress:" in line]
    assert 2 <= len(lines) < 100, result.stderr
    assert re.search(
        r"Progress: \d+ records read; events sent \d+, accepted \d+, rejected \d+, in flight "
        r"\d+; \d+ events per second",
        lines[-1],
    )


def test_short_runs_log_no_progress(emu, rule, tmp_path):
    result = run_target(base_config(emu, rule), singer([record(i) for i in range(50)]), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Progress:" not in result.stderr


# -- dry runs -----------------------------------------------------------------------------------


def test_a_dry_run_says_so_first_and_logs_each_planned_change_once(emu, tmp_path):
    dry = tmp_path / "dry.jsonl"
    report_path = tmp_path / "run.json"
    config = base_config(
        emu, "0", conversion_rule_id=None, conversion_rule_name="New rule",
        conversion_type="PURCHASE", campaign_ids=[6010001], dry_run=True,
        dry_run_output_path=str(dry), run_report_path=str(report_path),
    )  # fmt: skip
    rows = [record(i) for i in range(4)] + [record(9, occurred_at="2001-01-01")]
    result = run_target(config, singer(rows), tmp_path)
    assert result.returncode == 0, result.stderr
    own = [line for line in result.stderr.splitlines() if "target_linkedin_capi" in line]
    assert "DRY RUN" in own[0] and str(dry) in own[0]
    assert sum("would create" in line for line in result.stderr.splitlines()) == 1
    assert sum("would link" in line for line in result.stderr.splitlines()) == 1
    assert "Dry-run plan" not in result.stderr
    assert [line["dry_run"] for line in result.rejected] == [True]
    report = json.loads(report_path.read_text())
    assert report["status"] == "dry_run"
    [entry] = report["rules"]
    assert (entry["sent"], entry["accepted"], entry["rejected"]) == (4, 0, 1)
    assert_counts_add_up(report)
    assert emu.state.accepted_events() == []
