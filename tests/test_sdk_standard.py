"""The Singer SDK's standard target tests, run against a requests-mock LinkedIn.

Every standard test really goes through the target: rule lookup at the first SCHEMA,
mapping, batching and `POST /conversionEvents` on the delivery threads, all answered by a
class-scoped requests-mock `Mocker` (the `resource` fixture). The SDK's test streams carry no
email and no timestamp, so the config gives `field_defaults` that make their records valid
events: a recent epoch-ms `timestamp` (computed at import, well inside LinkedIn's 90 days)
and an `external_id`. Custom tests below assert what was actually sent or rejected.

A second class runs without those defaults: there every record must be rejected locally,
with a reason code in the rejected-records file, and nothing sent.
"""

from __future__ import annotations

import importlib.resources
import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests_mock as requests_mock_lib
from singer_sdk.testing import get_target_test_class, target_test_streams
from singer_sdk.testing.suites import SingerTestSuite
from singer_sdk.testing.templates import TargetFileTestTemplate

from target_linkedin_capi.errors import FatalError
from target_linkedin_capi.target import TargetLinkedInCapi
from tests.constants import API_BASE, RULE_URN

EVENTS_URL = f"{API_BASE}/conversionEvents"
RULE_URL = f"{API_BASE}/conversions/456?account=urn%3Ali%3AsponsoredAccount%3A123"
RECENT_MS = int(time.time() * 1000) - 3_600_000  # an hour ago
EXTERNAL_ID = "sdk-test-user"
WORK_DIR = Path(tempfile.gettempdir()) / f"target-linkedin-capi-sdk-tests-{os.getpid()}"
REJECTED = WORK_DIR / "rejected.jsonl"
REJECTED_NO_DEFAULTS = WORK_DIR / "rejected-no-defaults.jsonl"

BASE_CONFIG: dict[str, Any] = {
    "access_token": "tok-SECRET-sdk",
    "ad_account_id": "123",
    "conversion_rule_id": "456",
    "api_base_url": API_BASE,
    "api_version": "202609",
    "state_flush_interval_seconds": 0,
    # These tests count the events each SDK test file sends, duplicate keys included, and
    # the files reuse keys: without the ledger, as before it (tests/test_ledger_cli.py has
    # the ledger's own end-to-end tests).
    "ledger_enabled": False,
}
CONFIG = {
    **BASE_CONFIG,
    "field_defaults": {"timestamp": RECENT_MS, "external_id": EXTERNAL_ID},
    "rejected_records_path": str(REJECTED),
}
CONFIG_NO_DEFAULTS = {**BASE_CONFIG, "rejected_records_path": str(REJECTED_NO_DEFAULTS)}

RULE = {
    "id": 456,
    "name": "SDK tests",
    "account": "urn:li:sponsoredAccount:123",
    "conversionMethod": "CONVERSIONS_API",
    "enabled": True,
    "type": "PURCHASE",
    "campaigns": [],
}


def fake_linkedin() -> Iterator[requests_mock_lib.Mocker]:
    """LinkedIn for one test class: the rule exists; every batch is accepted."""
    with requests_mock_lib.Mocker() as mock:  # unregistered URLs raise: nothing escapes
        mock.get(RULE_URL, json=RULE)
        mock.post(
            EVENTS_URL,
            json=lambda request, context: {
                "elements": [{"status": 201} for _ in request.json()["elements"]]
            },
        )
        yield mock


def sent_events(mock: requests_mock_lib.Mocker) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for request in mock.request_history:
        if request.url == EVENTS_URL:
            assert request.method == "POST"
            assert request.headers["X-RestLi-Method"] == "BATCH_CREATE"
            assert request.headers["Authorization"] == "Bearer tok-SECRET-sdk"
            events.extend(request.json()["elements"])
    return events


def rejected_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class StandardFileTest(TargetFileTestTemplate):
    """Runs one of the SDK's standard .singer files, then checks what LinkedIn received."""

    source: str  # the SDK test stream file, without ".singer"
    rejected_path: Path = REJECTED

    @property
    def singer_filepath(self) -> Any:
        return importlib.resources.files(target_test_streams) / f"{self.source}.singer"

    def setup(self) -> None:
        self.resource.reset_mock()  # this test's requests only
        self.rejected_before = len(rejected_lines(self.rejected_path))

    def new_rejections(self) -> list[dict[str, Any]]:
        return rejected_lines(self.rejected_path)[self.rejected_before :]


class TargetSendsEveryRecord(StandardFileTest):
    """Each record becomes exactly one event; duplicates of a key share one event id."""

    name = "sends_every_record"
    source = "duplicate_records"

    def validate(self) -> None:
        history = self.resource.request_history
        assert history[0].url == RULE_URL  # the rule is verified before any event
        assert history[0].method == "GET"
        events = sent_events(self.resource)
        assert len(events) == 5
        for event in events:
            assert event == {
                "conversion": RULE_URN,
                "conversionHappenedAt": RECENT_MS,
                "eventId": event["eventId"],
                "user": {"userIds": [], "externalIds": [EXTERNAL_ID]},
            }
        ids = [event["eventId"] for event in events]
        # ids 1, 2, 1, 2, 1: the key decides the event id, so a replay dedups
        assert ids[0] == ids[2] == ids[4]
        assert ids[1] == ids[3]
        assert ids[0] != ids[1]
        assert self.new_rejections() == []


class TargetNoKeysNoEventId(StandardFileTest):
    """Without key properties and no mapped event id, no eventId is sent."""

    name = "no_keys_no_event_id"
    source = "no_primary_keys"

    def validate(self) -> None:
        events = sent_events(self.resource)
        assert len(events) == 3
        assert all("eventId" not in event for event in events)


class TargetSchemaInvalidRecordIsRejected(StandardFileTest):
    """A record that breaks its schema is rejected with a reason, not sent, run goes on."""

    name = "schema_invalid_record_rejected"
    source = "record_missing_required_property"

    def validate(self) -> None:
        assert sent_events(self.resource) == []
        (line,) = self.new_rejections()
        assert line["reason"] == "schema_invalid"
        assert line["source"] == "local"
        assert line["stream"] == "test_record_missing_required_property"


class TargetStateFollowsDelivery(StandardFileTest):
    """STATE messages are relayed in order, and the last one once everything is delivered.

    Replaces the SDK's TargetMultipleStateMessages, which the SDK itself leaves out of its
    suite (it compares the runner's parsed dicts with JSON strings, so it cannot pass).
    """

    name = "state_follows_delivery"
    source = "multiple_state_messages"

    def validate(self) -> None:
        states = self.runner.state_messages
        inputs = [
            {"test_multiple_state_messages_a": a, "test_multiple_state_messages_b": b}
            for a, b in ((1, 0), (2, 1), (3, 2), (5, 3), (5, 6))
        ]
        assert states, "no STATE was emitted"
        assert states[-1] == inputs[-1]
        positions = [inputs.index(state) for state in states]  # only states that were sent
        assert positions == sorted(set(positions))  # in order, never repeated
        assert len(sent_events(self.resource)) == 12


StandardTargetTests = get_target_test_class(
    TargetLinkedInCapi,
    config=CONFIG,
    custom_suites=[
        SingerTestSuite(
            kind="target",
            tests=[
                TargetSendsEveryRecord,
                TargetNoKeysNoEventId,
                TargetSchemaInvalidRecordIsRejected,
                TargetStateFollowsDelivery,
            ],
        )
    ],
)
# Every standard test of the SDK's target suite applies and is included:
# array data, camelCase schemas, CLI prints, duplicate records, encoded strings, invalid
# schema, no primary keys, optional attributes, pk updates, record before schema, missing
# key property, missing optional fields, schema without properties, schema updates, special
# characters. (TargetMultipleStateMessages is not part of the SDK's suite; see above.)


class TestStandardTargetTests(StandardTargetTests):  # type: ignore[misc, valid-type]
    @pytest.fixture(scope="class")
    @classmethod
    def resource(cls) -> Iterator[requests_mock_lib.Mocker]:
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        yield from fake_linkedin()
        shutil.rmtree(WORK_DIR, ignore_errors=True)


class TargetRejectsRecordsWithoutTimestamp(StandardFileTest):
    """No defaults: the SDK's records have no timestamp, so each is rejected locally."""

    name = "rejects_records_without_timestamp"
    source = "optional_attributes"
    rejected_path = REJECTED_NO_DEFAULTS

    def validate(self) -> None:
        assert sent_events(self.resource) == []
        lines = self.new_rejections()
        assert len(lines) == 4
        for line in lines:
            assert set(line) == {
                "stream", "rule", "reason", "message", "field", "key", "event_id", "source",
                "run_id", "rejected_at",
            }  # fmt: skip
            assert line["reason"] == "timestamp_missing"
            assert line["field"] == "timestamp"
            assert line["source"] == "local"
            assert line["stream"] == "test_optional_attributes"
            assert line["event_id"]  # derived from the key, so a fixed replay carries it
        assert [line["key"] for line in lines] == [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}]
        assert "tok-SECRET" not in REJECTED_NO_DEFAULTS.read_text()


WithoutDefaultsTests = get_target_test_class(
    TargetLinkedInCapi,
    config=CONFIG_NO_DEFAULTS,
    include_target_tests=False,  # the full suite runs above; this class checks rejections
    custom_suites=[SingerTestSuite(kind="target", tests=[TargetRejectsRecordsWithoutTimestamp])],
)


class TestRecordsWithoutDefaults(WithoutDefaultsTests):  # type: ignore[misc, valid-type]
    @pytest.fixture(scope="class")
    @classmethod
    def resource(cls) -> Iterator[requests_mock_lib.Mocker]:
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        yield from fake_linkedin()
        REJECTED_NO_DEFAULTS.unlink(missing_ok=True)


# -- the target in process, outside the SDK's suite ------------------------------------------


def schema_line(stream: str) -> str:
    return json.dumps(
        {
            "type": "SCHEMA",
            "stream": stream,
            "key_properties": ["id"],
            "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
        }
    )


def test_building_the_target_calls_nothing(requests_mock: Any) -> None:
    # --about/--help build the target too: LinkedIn is first called at the first SCHEMA.
    TargetLinkedInCapi(config=CONFIG_NO_DEFAULTS, validate_config=True)
    assert requests_mock.call_count == 0


def test_unmatched_stream_is_an_error_at_its_schema(requests_mock: Any) -> None:
    requests_mock.get(RULE_URL, json=RULE)
    config = {
        **{k: v for k, v in BASE_CONFIG.items() if k != "conversion_rule_id"},
        "conversion_rules": [{"streams": ["orders"], "conversion_rule_id": "456"}],
    }
    target = TargetLinkedInCapi(config=config, validate_config=True)
    target.process_lines(io.StringIO(schema_line("orders") + "\n"))
    with pytest.raises(FatalError) as caught:
        target.process_lines(io.StringIO(schema_line("refunds") + "\n"))
    message = str(caught.value)
    assert "'refunds'" in message
    assert "conversion_rules" in message
    assert all(r.method == "GET" for r in requests_mock.request_history)
