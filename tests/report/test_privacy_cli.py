"""The real CLI: what the rejected and dry-run files hold, and that they are private."""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
from pathlib import Path

import pytest

from tests.harness import base_config, record, run_target, singer

pytestmark = pytest.mark.e2e

SECRET = "cli-hmac-secret-0123456789"
# Values of the record that must never reach the rejected file (the key `id` may).
PRIVATE = {
    "email": "Private.Person@Example.ORG",
    "first_name": "Augusta",  # letters no hex run id or hash can contain
    "last_name": "Lovelace-Byron",
    "ip": "203.0.113.77",
    "company": "Analytical Engines Ltd",
}


def private_record(i: int, **overrides):
    row = record(
        i,
        email=PRIVATE["email"],
        first_name=PRIVATE["first_name"],
        last_name=PRIVATE["last_name"],
        ip=PRIVATE["ip"],
        company=PRIVATE["company"],
        event_key=f"evt-{i}",
    )
    row.update(overrides)
    return row


def config_for(emu, tmp_path: Path, *, event_ids: bool = True, **overrides):
    """`event_ids`: the records carry their event id; else the target derives `k-...` ids."""
    rule = emu.add_rule(account=5010001, name="Purchases", type="PURCHASE")
    config = base_config(emu, rule, **overrides)
    config["field_mappings"] = {**config["field_mappings"], "ip_address": "ip",
                                "company_name": "company"}  # fmt: skip
    if event_ids:
        config["field_mappings"]["event_id"] = "event_key"
    config["rejected_records_path"] = str(tmp_path / "out" / "rejects" / "rejected.jsonl")
    return config


def mixed_rows():
    return [
        private_record(0),
        private_record(1, occurred_at="2001-01-01"),  # timestamp_too_old
        private_record(2, amount=-1),  # value_negative
        private_record(3, currency=None),  # currency_missing
        private_record(4, email=None, first_name=None, ip=None),  # no_identifier
        private_record(5, amount="Lovelace-Byron owes"),  # schema_invalid
        private_record(6),  # refused by LinkedIn
        private_record(7, occurred_at=None),  # timestamp_missing
    ]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_no_private_value(text: str) -> None:
    email = PRIVATE["email"]
    for value in [*PRIVATE.values(), email.lower(), "owes"]:
        assert value.lower() not in text.lower(), value
    # Nor the hash LinkedIn gets as SHA256_EMAIL, which would link a row to the person.
    assert hashlib.sha256(email.strip().lower().encode()).hexdigest() not in text


def test_the_rejected_file_holds_reasons_keys_and_event_ids_only_and_is_private(emu, tmp_path):
    emu.add_fault({"reject_event_ids": ["evt-6"], "style": "422", "times": 0})
    config = config_for(emu, tmp_path)
    result = run_target(config, singer(mixed_rows()), tmp_path)
    assert result.returncode == 0, result.stderr
    path = Path(config["rejected_records_path"])
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700
    by_id = {line["key"]["id"]: line for line in result.rejected}
    assert {i: line["reason"] for i, line in by_id.items()} == {
        1: "timestamp_too_old", 2: "value_negative", 3: "currency_missing", 4: "no_identifier",
        5: "schema_invalid", 6: "linkedin_invalid_event", 7: "timestamp_missing",
    }  # fmt: skip
    assert by_id[6]["source"] == "linkedin" and by_id[6]["event_id"] == "evt-6"
    assert by_id[1]["event_id"] == "evt-1"  # as it is: the operator's own id
    assert_no_private_value(path.read_text())


def mac(text: str) -> str:
    return hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("event_ids", [True, False], ids=["record-ids", "derived-ids"])
def test_masked_keys_are_hmacs_the_operator_can_recompute(emu, tmp_path, event_ids):
    config = config_for(emu, tmp_path, event_ids=event_ids, rejected_records_mask_keys=True,
                        rejected_records_mask_secret=SECRET)  # fmt: skip
    rows = [private_record(1042, occurred_at="2001-01-01")]
    env = {"TARGET_LINKEDIN_CAPI_LOGLEVEL": "DEBUG"}
    result = run_target(config, singer(rows), tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    [line] = result.rejected
    assert line["key"] == {"id": mac("1042")}
    if event_ids:
        assert line["event_id"] == mac("evt-1042")
    else:  # the target's own id is an unkeyed hash of the key: masked like the key
        derived = "k-" + hashlib.sha256(b"public-conversions\x1f1042").hexdigest()[:40]
        assert line["event_id"] == mac(derived)
    written = Path(config["rejected_records_path"]).read_text()
    assert "1042" not in written
    assert_no_private_value(written)
    assert SECRET not in written + result.stderr


def test_masking_without_its_secret_is_a_config_error(emu, tmp_path):
    config = config_for(emu, tmp_path, rejected_records_mask_keys=True)
    result = run_target(config, singer([private_record(1)]), tmp_path)
    assert result.returncode == 1
    assert "rejected_records_mask_secret" in result.stderr
    assert "Traceback" not in result.stderr
    assert not Path(config["rejected_records_path"]).exists()


def test_the_dry_run_file_is_private_and_holds_what_linkedin_would_get(emu, tmp_path):
    dry = tmp_path / "dry" / "run" / "requests.jsonl"
    config = config_for(emu, tmp_path, dry_run=True, dry_run_output_path=str(dry))
    result = run_target(config, singer([private_record(1)]), tmp_path)
    assert result.returncode == 0, result.stderr
    assert mode(dry) == 0o600 and mode(dry.parent) == 0o700 and mode(dry.parent.parent) == 0o700
    [request] = [json.loads(line) for line in dry.read_text().splitlines()]
    [event] = request["body"]["elements"]
    # As documented: names and IPv4 in clear, the email only as its SHA-256.
    assert event["user"]["userInfo"]["firstName"] == PRIVATE["first_name"]
    assert {"idType": "PLAINTEXT_IP_ADDRESS", "idValue": PRIVATE["ip"]} in event["user"]["userIds"]
    assert PRIVATE["email"].lower() not in dry.read_text().lower()
    assert "Authorization" not in request["headers"]
