"""The JSON run report's parts: event facts, counts, HTTP counters, the file, progress."""

from __future__ import annotations

import json
import logging
import os
import stat
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from target_linkedin_capi.report.facts import FactTotals, event_facts
from target_linkedin_capi.report.http_stats import http_stats
from target_linkedin_capi.report.progress import Progress
from target_linkedin_capi.report.run_report import build, write_atomically, write_run_report
from target_linkedin_capi.report.tally import RunTally
from tests.conftest import API_BASE as API


def item(rule: str = "rule 1", facts: Any = None) -> SimpleNamespace:
    return SimpleNamespace(rule=rule, stream="orders", facts=facts)


def test_event_facts_name_identifiers_never_their_values() -> None:
    event = {
        "conversionHappenedAt": 1_700_000_000_000,
        "conversionValue": {"currencyCode": "EUR", "amount": "19.99"},
        "user": {
            "userIds": [{"idType": "SHA256_EMAIL", "idValue": "ab" * 32},
                        {"idType": "PLAINTEXT_IP_ADDRESS", "idValue": "203.0.113.9"}],
            "userInfo": {"firstName": "Ada", "lastName": "Lovelace"},
        },
    }  # fmt: skip
    facts = event_facts(event)
    assert "203.0.113.9" not in repr(facts) and "Ada" not in repr(facts)
    totals = FactTotals()
    totals.add([facts, event_facts({"conversionHappenedAt": 5, "user": {"userIds": [],
                                    "externalIds": ["c"]}})])  # fmt: skip
    coverage = totals.coverage()
    assert (coverage["SHA256_EMAIL"], coverage["PLAINTEXT_IP_ADDRESS"]) == (1, 1)
    assert (coverage["userInfo"], coverage["externalIds"], coverage["lead"]) == (1, 1, 0)
    assert totals.values == {"EUR": Decimal("19.99")}
    assert (totals.first_ms, totals.last_ms) == (5, 1_700_000_000_000)


def test_counts_add_up_when_linkedin_refuses_and_when_a_request_gets_no_answer() -> None:
    report = RunTally(None)
    report.received("rule 1", 11)  # one record never reached a request
    for _ in range(2):  # rejected locally
        report.reject(stream="orders", rule="rule 1", reason="timestamp_missing", message="m",
                      field=None, key={}, event_id=None, source="local")  # fmt: skip
    report.in_request([item() for _ in range(5)])  # one request of 5: 4 accepted, 1 refused
    report.reject(stream="orders", rule="rule 1", reason="linkedin_invalid_event", message="m",
                  field=None, key={}, event_id=None, source="linkedin")  # fmt: skip
    report.accepted([item(facts=(1, "USD", "2.50", 1000)) for _ in range(4)])
    report.in_request([item() for _ in range(3)])  # then the run stopped: no answer
    document = build(report, status="failed", error="x", records_read=10, rule_ids={})
    [entry] = document["rules"]
    assert (entry["received"], entry["sent"], entry["accepted"], entry["rejected"]) == (10, 7, 4, 3)
    assert entry["received"] == entry["sent"] + entry["rejected"] + entry["skipped_already_sent"]
    assert entry["not_sent_after_failure"] == 1
    assert entry["value_totals"] == {"USD": "10.00"}
    assert entry["first_conversion_at"] == "1970-01-01T00:00:01.000Z"
    assert report.totals()["in_flight"] == 3


def test_the_file_is_private_replaced_atomically_and_masks_secrets(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "run.json"
    write_atomically(path, {"a": 1})
    write_run_report(str(path), RunTally(None), status="failed",
                     error="LinkedIn refused token tok-SECRET-abc123 (HTTP 401).",
                     records_read=0, rule_ids={}, secrets=lambda: {"tok-SECRET-abc123"})  # fmt: skip
    document = json.loads(path.read_text())
    assert document["status"] == "failed" and "tok-SECRET" not in path.read_text()
    assert "***" in document["error"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    assert os.listdir(path.parent) == ["run.json"]  # no temporary file left behind


def test_the_client_counts_requests_retries_and_throttling(
    make_client: Any, requests_mock: Any, sleeps: list[float]
) -> None:
    http_stats.reset()
    requests_mock.post(f"{API}/conversionEvents", [
        {"status_code": 429, "headers": {"Retry-After": "0"}},
        {"status_code": 503},
        {"status_code": 201, "json": {}},
    ])  # fmt: skip
    make_client().batch_create_events(b'{"elements":[]}', 0)
    assert http_stats.snapshot() == {"requests": 3, "retries": 2, "throttled": 1}


def test_progress_is_logged_once_per_interval(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [100.0]
    monkeypatch.setattr("target_linkedin_capi.report.progress.time.monotonic", lambda: now[0])
    report = RunTally(None)
    progress = Progress(30, report, lambda: 1234)
    caplog.set_level(logging.INFO)
    for _ in range(1000):
        progress.tick()
    now[0] += 31
    for _ in range(1000):
        progress.tick()
    lines = [r.getMessage() for r in caplog.records if "Progress" in r.getMessage()]
    assert len(lines) == 1 and "1234 records read" in lines[0]
