"""The real pipeline: `meltano run tap-postgres target-linkedin-capi` into the LinkedIn emulator.

A `public.conversions` table in PostgreSQL (a scratch database per test) holds recent valid
rows and a few invalid ones. Meltano runs the project's own meltano.yml (tap-postgres with
INCREMENTAL replication on `updated_at`, the target's field_mappings) as a subprocess; the
target is pointed at an in-process emulator through TARGET_LINKEDIN_CAPI_* variables.

Checks: every valid row arrives exactly once as the right LinkedIn event, invalid rows are in
the rejected-records file with their reasons, and a second run after new inserts and an
update sends only the new rows: tap-postgres' replay of the boundary row and the updated row
carry eventIds LinkedIn already accepted, and the delivery ledger (PostgreSQL, a schema of
the test's own) skips them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.constants import EMULATOR_ACCOUNT as ACCOUNT
from tests.constants import EMULATOR_TOKEN
from tests.delivery.test_ledger import pg_admin, pg_url
from tests.helpers import child_env

pytestmark = [pytest.mark.e2e]

CAMPAIGNS = [6010001, 6010002, 6010003]
RULE_NAME = "E2E Postgres purchases (CAPI)"
TAP = "tap-postgres"
TARGET = "target-linkedin-capi"
RUN_TIMEOUT = 600
REPO_ROOT = Path(__file__).resolve().parents[2]

CREATE_TABLE = """
CREATE TABLE public.conversions (
    id          bigint PRIMARY KEY,
    email       text,
    occurred_at timestamptz,
    amount      numeric(12, 2),
    currency    char(3),
    first_name  text,
    last_name   text,
    company     text,
    title       text,
    country     text,
    li_fat_id   text,
    updated_at  timestamptz NOT NULL
)
"""
COLUMNS = (
    "id", "email", "occurred_at", "amount", "currency", "first_name", "last_name", "company",
    "title", "country", "li_fat_id", "updated_at",
)  # fmt: skip


def _now() -> dt.datetime:
    # Millisecond precision: LinkedIn's conversionHappenedAt is epoch milliseconds.
    now = dt.datetime.now(dt.timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _row(row_id: int, **values: Any) -> dict[str, Any]:
    row = dict.fromkeys(COLUMNS)
    row["id"] = row_id
    row.update(values)
    return row


def _initial_rows(now: dt.datetime) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """Valid rows 1..10 and invalid rows 101..105 (id -> expected reason)."""
    h = dt.timedelta(hours=1)
    m = dt.timedelta(minutes=1)
    lead = {"first_name": "Pat", "last_name": "Jones", "company": "Initech"}
    valid = [
        _row(1, email="  Alice.Smith@Example.COM ", occurred_at=now - 30 * h,
             amount=Decimal("19.99"), currency="USD", first_name="Alice", last_name="Smith",
             company="Acme Analytics", title="Head of Growth", country="US",
             updated_at=now - 50 * m),
        _row(2, email="bob@example.org", occurred_at=now - 2 * h, amount=Decimal("1234.50"),
             currency="EUR", updated_at=now - 49 * m),
        _row(3, email=None, li_fat_id="6f1c2f6e-8a0b-4c55-9d7e-2b1d3c4e5f60",
             occurred_at=now - 75 * 24 * h, amount=Decimal("5.00"), currency="GBP",
             updated_at=now - 48 * m, **lead),
        _row(4, email="carol@example.net", occurred_at=now - 5 * 24 * h, amount=None,
             currency=None, updated_at=now - 47 * m),
        _row(5, email="dave+promo@example.com", occurred_at=now - 3 * m, amount=Decimal("0.01"),
             currency="USD", country="DE", updated_at=now - 46 * m),
        _row(6, email="erin@example.com", occurred_at=now - 89 * 24 * h, amount=Decimal("42.00"),
             currency="USD", updated_at=now - 45 * m),
        _row(7, email="frank@example.com", occurred_at=now - 12 * h, amount=Decimal("999999.99"),
             currency="CHF", title="CTO", updated_at=now - 44 * m),
        _row(8, email="grace@example.com", occurred_at=now - 36 * h, amount=Decimal("75.25"),
             currency="CAD", updated_at=now - 43 * m),
        _row(9, email="heidi@example.com", occurred_at=now - 7 * 24 * h, amount=Decimal("12.00"),
             currency="USD", updated_at=now - 42 * m),
        # The newest updated_at: tap-postgres sends this boundary row again on the next run.
        _row(10, email="ivan@example.com", occurred_at=now - 20 * m, amount=Decimal("300.00"),
             currency="USD", updated_at=now - 10 * m),
    ]  # fmt: skip
    invalid_reasons = {
        101: "no_identifier",  # malformed email, the only identifier, is dropped
        102: "timestamp_in_future",
        103: "value_negative",
        104: "no_identifier",
        105: "timestamp_too_old",
    }
    invalid = [
        _row(101, email="not-an-email", occurred_at=now - 3 * h, amount=Decimal("10.00"),
             currency="USD", updated_at=now - 40 * m),
        _row(102, email="future@example.com", occurred_at=now + 2 * 24 * h,
             amount=Decimal("10.00"), currency="USD", updated_at=now - 39 * m),
        _row(103, email="refund@example.com", occurred_at=now - 3 * h, amount=Decimal("-5.00"),
             currency="USD", updated_at=now - 38 * m),
        _row(104, email=None, occurred_at=now - 3 * h, amount=Decimal("10.00"), currency="USD",
             company="Nobody Inc", updated_at=now - 37 * m),
        _row(105, email="stale@example.com", occurred_at=now - 100 * 24 * h,
             amount=Decimal("10.00"), currency="USD", updated_at=now - 36 * m),
    ]  # fmt: skip
    return valid + invalid, invalid_reasons


def _new_rows(now: dt.datetime) -> tuple[list[dict[str, Any]], dict[int, str]]:
    s = dt.timedelta(seconds=1)
    valid = [
        _row(11, email="judy@example.com", occurred_at=now - 60 * s, amount=Decimal("15.00"),
             currency="USD", updated_at=now),
        _row(12, email="Mallory@Example.com", occurred_at=now - 50 * s, amount=Decimal("16.50"),
             currency="EUR", updated_at=now + s),
        _row(13, email=None, li_fat_id="0b6c7a8e-1f2d-4e3c-9a8b-7c6d5e4f3a21",
             first_name="Niaj", last_name="Brown", occurred_at=now - 40 * s, amount=None,
             currency=None, updated_at=now + 2 * s),
    ]  # fmt: skip
    invalid = [
        _row(
            106,
            email="oscar@example.com",
            occurred_at=now - 30 * s,
            amount=Decimal("-1.00"),
            currency="USD",
            updated_at=now + 3 * s,
        ),
    ]
    return valid + invalid, {106: "value_negative"}


def _insert(db: Any, rows: list[dict[str, Any]]) -> None:
    conn = db.connect()
    try:
        cur = conn.cursor()
        placeholders = ", ".join(["%s"] * len(COLUMNS))
        cur.executemany(
            f"INSERT INTO public.conversions ({', '.join(COLUMNS)}) VALUES ({placeholders})",  # noqa: S608
            [tuple(row[c] for c in COLUMNS) for row in rows],
        )
    finally:
        conn.close()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _meltano_env(
    db: Any, emu: Any, rejected_path: Path, ledger_schema: str | None = None
) -> dict[str, str]:
    env = child_env("TAP_POSTGRES_", "MELTANO_")
    if ledger_schema is not None:
        # Meltano runs the target in the repository: its default ledger would land there.
        env["TARGET_LINKEDIN_CAPI_LEDGER_URL"] = pg_url()
        env["TARGET_LINKEDIN_CAPI_LEDGER_SCHEMA"] = ledger_schema
    env.update(db.tap_env())
    env.update(
        {
            "MELTANO_ENVIRONMENT": "dev",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "NO_COLOR": "1",
            "TARGET_LINKEDIN_CAPI_API_BASE_URL": emu.base_url,
            "TARGET_LINKEDIN_CAPI_OAUTH_TOKEN_URL": emu.oauth_token_url,
            "TARGET_LINKEDIN_CAPI_ACCESS_TOKEN": EMULATOR_TOKEN,
            "TARGET_LINKEDIN_CAPI_AD_ACCOUNT_ID": str(ACCOUNT),
            "TARGET_LINKEDIN_CAPI_CONVERSION_RULE_NAME": RULE_NAME,
            "TARGET_LINKEDIN_CAPI_CONVERSION_TYPE": "PURCHASE",
            "TARGET_LINKEDIN_CAPI_CAMPAIGN_IDS": json.dumps([str(c) for c in CAMPAIGNS[:2]]),
            "TARGET_LINKEDIN_CAPI_REJECTED_RECORDS_PATH": str(rejected_path),
            "TARGET_LINKEDIN_CAPI_RETRY_MAX_WAIT_SECONDS": "30",
        }
    )
    # Keep the venv's meltano and Python first on PATH.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _meltano_cmd(meltano: Path, env_file: Path, *args: str) -> list[str]:
    # The project's .env (a developer's real credentials, say) must not leak into the test.
    return [str(meltano), "--env-file", str(env_file), *args]


def _meltano_run(meltano: Path, env: dict[str, str], state_suffix: str, log: Path) -> str:
    cmd = _meltano_cmd(
        meltano, log.parent / "empty.env", "run", "--state-id-suffix", state_suffix, TAP, TARGET
    )
    started = time.monotonic()
    proc = subprocess.run(
        cmd,
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        timeout=RUN_TIMEOUT,
        check=False,
    )
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(cmd)}  # {time.monotonic() - started:.1f}s\n{proc.stdout}\n")
    assert proc.returncode == 0, f"meltano run failed ({proc.returncode}):\n{proc.stdout[-12000:]}"
    return proc.stdout


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _rejected_id(item: dict[str, Any]) -> int:
    key = item.get("key") or {}
    return int(key["id"] if key.get("id") is not None else item["event_id"])


def _check_event(event: dict[str, Any], row: dict[str, Any], rule_urn: str) -> None:
    """One LinkedIn conversion event matches the PostgreSQL row it came from."""
    rid = row["id"]
    assert event["conversion"] == rule_urn, rid
    assert event["eventId"] == str(rid)
    expected_ms = int(row["occurred_at"].timestamp() * 1000)
    assert event["conversionHappenedAt"] == expected_ms, (rid, event["conversionHappenedAt"])
    if row["amount"] is None:
        assert "conversionValue" not in event, rid
    else:
        value = event["conversionValue"]
        assert isinstance(value["amount"], str), (rid, value)
        assert Decimal(value["amount"]) == row["amount"], (rid, value)
        assert value["currencyCode"] == row["currency"], (rid, value)
    user_ids = {(u["idType"], u["idValue"]) for u in event["user"]["userIds"]}
    expected_ids = set()
    if row["email"]:
        expected_ids.add(("SHA256_EMAIL", _sha256(row["email"].strip().lower())))
    if row["li_fat_id"]:
        expected_ids.add(("LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", row["li_fat_id"]))
    assert user_ids == expected_ids, (rid, event["user"])
    info = event["user"].get("userInfo")
    if row["first_name"] and row["last_name"]:
        assert info["firstName"] == row["first_name"], rid
        assert info["lastName"] == row["last_name"], rid
        if row["company"]:
            assert info["companyName"] == row["company"], rid
        if row["title"]:
            assert info["title"] == row["title"], rid
        if row["country"]:
            assert info["countryCode"] == row["country"], rid
    else:
        assert info is None, (rid, info)


@pytest.mark.postgres
@pytest.mark.xdist_group("meltano")
def test_meltano_run_tap_postgres_to_linkedin(
    scratch_database: Any, meltano_exe: Path, tmp_path: Path
) -> None:
    from linkedin_capi_emulator import Emulator

    db = scratch_database
    conn = db.connect()
    conn.cursor().execute(CREATE_TABLE)
    conn.close()
    rows, invalid_reasons = _initial_rows(_now())
    _insert(db, rows)
    valid_rows = {row["id"]: row for row in rows if row["id"] not in invalid_reasons}
    boundary_id = max(rows, key=lambda row: row["updated_at"])["id"]
    assert boundary_id == 10

    rejected_path = tmp_path / "rejected" / "rejected-records.jsonl"
    log = tmp_path / "meltano.log"
    (tmp_path / "empty.env").write_text("", encoding="utf-8")
    state_suffix = f"e2e-{uuid.uuid4().hex[:10]}"
    ledger_schema = f"ledger_e2e_{uuid.uuid4().hex[:10]}"

    with Emulator(
        port=0,
        tokens=[EMULATOR_TOKEN],
        accounts=[ACCOUNT],
        campaigns={ACCOUNT: CAMPAIGNS},
    ) as emu:
        env = _meltano_env(db, emu, rejected_path, ledger_schema)

        # ---- run 1: everything in the table --------------------------------------------------
        _meltano_run(meltano_exe, env, state_suffix, log)

        rules = [rule for rule in emu.state.rules() if rule["name"] == RULE_NAME]
        assert len(rules) == 1, emu.state.rules()
        rule = rules[0]
        assert rule["type"] == "PURCHASE"
        assert rule["conversionMethod"] == "CONVERSIONS_API"
        rule_urn = f"urn:lla:llaPartnerConversion:{rule['id']}"
        linked = {
            link["campaign"]
            for link in emu.state.campaign_links()
            if link["conversion"] == rule_urn
        }
        assert linked == {f"urn:li:sponsoredCampaign:{c}" for c in CAMPAIGNS[:2]}

        events = emu.state.accepted_events()
        counts = Counter(event["eventId"] for event in events)
        assert counts == Counter({str(rid): 1 for rid in valid_rows}), counts
        for event in events:
            _check_event(event, valid_rows[int(event["eventId"])], rule_urn)

        rejected = _read_jsonl(rejected_path)
        by_id = {_rejected_id(item): item for item in rejected}
        assert len(rejected) == len(invalid_reasons), rejected
        assert {rid: by_id[rid]["reason"] for rid in by_id} == invalid_reasons
        for item in rejected:
            assert item["stream"] == "public-conversions"
            assert item["message"]
            assert "@" not in json.dumps(item), f"a plaintext email leaked: {item}"

        # ---- run 2: only rows changed since the bookmark -------------------------------------
        new_rows, new_invalid = _new_rows(_now())
        _insert(db, new_rows)
        new_valid = {row["id"]: row for row in new_rows if row["id"] not in new_invalid}
        # An order changed after it was sent: the tap reads it again, with its eventId.
        conn = db.connect()
        try:
            conn.cursor().execute(
                "UPDATE public.conversions SET amount = 1300.00, updated_at = %s WHERE id = 2",
                (max(row["updated_at"] for row in new_rows) - dt.timedelta(milliseconds=500),),
            )
        finally:
            conn.close()
        first_run_count = len(events)

        output = _meltano_run(meltano_exe, env, state_suffix, log)

        delta = emu.state.accepted_events()[first_run_count:]
        delta_counts = Counter(event["eventId"] for event in delta)
        new_ids = {str(rid) for rid in new_valid}
        replayed = set(delta_counts) - new_ids
        assert {eid for eid in delta_counts if eid in new_ids} == new_ids, delta_counts
        assert all(delta_counts[eid] == 1 for eid in new_ids), delta_counts
        # Nothing old is sent again: tap-postgres' boundary row (updated_at >= bookmark) and
        # the updated row 2 were accepted before, and LinkedIn cannot update a conversion.
        assert replayed == set(), delta_counts
        assert "skipped as already sent 2" in output, output[-6000:]
        for event in delta:
            row_id = int(event["eventId"])
            _check_event(event, {**valid_rows, **new_valid}[row_id], rule_urn)

        rejected_after = _read_jsonl(rejected_path)[len(rejected) :]
        assert {_rejected_id(item): item["reason"] for item in rejected_after} == new_invalid

        # Still one rule and the same links: a second run finds the rule instead of creating one.
        assert len([r for r in emu.state.rules() if r["name"] == RULE_NAME]) == 1

    state_id = f"dev:{TAP}-to-{TARGET}:{state_suffix}"
    try:
        bookmark = _meltano_state(meltano_exe, env, log.parent / "empty.env", "get", state_id)
        bookmark = json.loads(bookmark)["singer_state"]["bookmarks"]["public-conversions"]
        assert bookmark["replication_key"] == "updated_at"
        newest = max(row["updated_at"] for row in new_rows)
        assert dt.datetime.fromisoformat(bookmark["replication_key_value"]) == newest
    finally:
        _meltano_state(meltano_exe, env, log.parent / "empty.env", "clear", "--force", state_id)
        with pg_admin() as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{ledger_schema}" CASCADE')


def _meltano_state(meltano: Path, env: dict[str, str], env_file: Path, *args: str) -> str:
    proc = subprocess.run(
        _meltano_cmd(meltano, env_file, "state", *args),
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"meltano state {args}: {proc.stdout}{proc.stderr}"
    return proc.stdout


# The Meltano definitions' agreement with the config schema: tests/config/test_generated_settings.py.


@pytest.mark.xdist_group("meltano")
def test_demo_script(meltano_exe: Path) -> None:
    """`scripts/demo.py` (what `nox -s demo` runs) succeeds and reports what arrived.

    The demo checks its own outcome (every valid sample row arrives with the right hashed
    email, timestamp and value; every invalid one is rejected) and exits 1 otherwise.
    """
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "demo.py")],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-12000:]
    assert "Conversion rule: id " in output
    assert "'Demo purchases (CAPI)'  type PURCHASE" in output
    assert "Campaigns linked to the rule: 6010001, 6010002" in output
    assert "All 33 valid rows arrived and all 7 invalid rows were rejected" in output
