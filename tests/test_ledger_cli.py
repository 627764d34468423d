"""The delivery ledger through the real CLI against the emulator: nothing accepted is sent twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from tests.delivery import test_ledger as ledger_tests
from tests.harness import accepted_ids, base_config, record, run_target, singer
from tests.helpers import child_env

pytestmark = pytest.mark.e2e
# The PostgreSQL fixtures of the ledger's own tests: a schema per test, dropped afterwards.
pg_available = ledger_tests.pg_available
pg_schema = ledger_tests.pg_schema
pg_url = ledger_tests.pg_url


def test_the_same_1000_records_twice_second_run_sends_nothing(emu, tmp_path):
    rule = emu.add_rule(account=5010001, name="Purchases", type="PURCHASE")
    rows = [record(i) for i in range(1000)]
    report = tmp_path / "report.json"
    config = base_config(emu, rule, batch_size_rows=300, run_report_path=str(report))
    first = run_target(config, singer(rows), tmp_path)
    assert first.returncode == 0, first.stderr
    assert len(accepted_ids(emu)) == 1000
    second = run_target(config, singer(rows), tmp_path)
    assert second.returncode == 0, second.stderr
    assert len(accepted_ids(emu)) == 1000  # not one more event accepted
    assert f"rule {rule}: received 1000, sent 0, rejected 0, skipped as already sent 1000" in (
        second.stderr
    )
    assert (tmp_path / ".linkedin-capi" / "ledger.sqlite3").exists()
    entry = json.loads(report.read_text())["rules"][0]
    assert entry["skipped_already_sent"] == 1000 and entry["sent"] == 0
    assert entry["received"] == entry["sent"] + entry["rejected"] + entry["skipped_already_sent"]
    assert second.rejected == []


def test_ten_records_given_twice_in_one_run_are_each_sent_once(emu, tmp_path):
    rule = emu.add_rule(account=5010001, name="Purchases", type="PURCHASE")
    rows = [record(i) for i in range(10)]
    # Batches of 3: the two copies of one event fall in the same batch or in two batches
    # in flight at once.
    config = base_config(emu, rule, batch_size_rows=3, max_inflight_batches=4)
    result = run_target(config, singer(rows + rows + rows[::-1]), tmp_path)
    assert result.returncode == 0, result.stderr
    counts = Counter(accepted_ids(emu))
    assert len(counts) == 10 and set(counts.values()) == {1}, counts
    assert f"rule {rule}: received 30, sent 10, rejected 0, skipped as already sent 20" in (
        result.stderr
    )


def test_ledger_disabled_sends_again_as_before(emu, tmp_path):
    rule = emu.add_rule(account=5010001, name="Purchases", type="PURCHASE")
    rows = [record(i) for i in range(5)]
    config = base_config(emu, rule, ledger_enabled=False)
    for _ in range(2):
        result = run_target(config, singer(rows + rows), tmp_path)
        assert result.returncode == 0, result.stderr
        assert f"rule {rule}: received 10, sent 10, rejected 0, accepted" in result.stderr
    assert len(accepted_ids(emu)) == 20
    assert not (tmp_path / ".linkedin-capi").exists()


def _no_event_sent(emu) -> bool:
    return not [r for r in emu.state.requests() if r["path"] == "/rest/conversionEvents"]


@pytest.mark.parametrize(
    ("ledger", "named"),
    [
        (
            "postgresql://capi:Pw-9f3kq2z@127.0.0.1:1/ledger",
            "postgresql://capi:***@127.0.0.1:1/ledger",
        ),
        # A file where its folder should be: unwritable even for root (permissions are not).
        ("sqlite:///{tmp}/blocked/ledger.db", "blocked/ledger.db"),
        ("sqlite:///{tmp}/corrupt.db", "corrupt.db"),
    ],
    ids=["unreachable-postgres", "unwritable-sqlite", "corrupt-sqlite"],
)
def test_a_ledger_that_cannot_be_used_stops_the_run_before_any_event(emu, tmp_path, ledger, named):
    rule = emu.add_rule(account=5010001, name="Purchases", type="PURCHASE")
    (tmp_path / "blocked").write_text("a file, not a folder")
    (tmp_path / "corrupt.db").write_bytes(b"this is not a database, it is a text file" * 100)
    config = base_config(emu, rule, ledger_url=ledger.format(tmp=tmp_path))
    result = run_target(config, singer([record(i) for i in range(5)]), tmp_path)
    assert result.returncode == 1
    assert _no_event_sent(emu)
    assert result.states == []
    assert "delivery ledger" in result.stderr and named in result.stderr
    assert "ledger_enabled: false" in result.stderr  # how to run without it
    assert "Traceback" not in result.stderr
    assert "Pw-9f3kq2z" not in result.stderr


def test_a_dry_run_reports_what_it_would_skip_and_writes_nothing(emu, tmp_path):
    rule = emu.add_rule(account=5010001, name="Purchases", type="PURCHASE")
    rows = [record(i) for i in range(6)]
    config = base_config(emu, rule)
    assert run_target(config, singer(rows[:4]), tmp_path).returncode == 0
    ledger = tmp_path / ".linkedin-capi" / "ledger.sqlite3"
    before = ledger.read_bytes()
    dry = run_target({**config, "dry_run": True}, singer(rows + rows), tmp_path)
    assert dry.returncode == 0, dry.stderr
    # 4 from the earlier run, and the second copy of the other 2 within this run.
    assert f"rule {rule}: received 12, would send 2, rejected 0, would skip as already sent 10" in (
        dry.stderr
    )
    assert ledger.read_bytes() == before
    assert len(accepted_ids(emu)) == 4
    # A dry run against no ledger at all does not create one.
    other = tmp_path / "fresh"
    other.mkdir()
    assert run_target({**config, "dry_run": True}, singer(rows), other).returncode == 0
    assert not (other / ".linkedin-capi").exists()


def test_killed_mid_run_then_rerun_every_event_once_at_most_the_in_flight_twice(emu, tmp_path):
    rule = emu.add_rule(account=5010001, name="Purchases", type="PURCHASE")
    n, batch, inflight = 3000, 100, 3
    rows = [record(i) for i in range(n)]
    config = base_config(emu, rule, batch_size_rows=batch, max_inflight_batches=inflight)
    (tmp_path / "config.json").write_text(json.dumps({**config, "rejected_records_path": str(
        tmp_path / "rejected.jsonl")}))  # fmt: skip
    emu.set_latency(0.05)  # slow enough that a kill lands mid-run, with requests in flight
    proc = subprocess.Popen(
        [sys.executable, "-m", "target_linkedin_capi", "--config", str(tmp_path / "config.json")],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        cwd=tmp_path, env=child_env(), text=True,
    )  # fmt: skip
    assert proc.stdin is not None
    try:
        proc.stdin.write(singer(rows))
        proc.stdin.flush()
        deadline = time.monotonic() + 60
        while len(accepted_ids(emu)) < n // 3:
            assert time.monotonic() < deadline, "the first run never got going"
            assert proc.poll() is None, "the first run ended before it was killed"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    first = len(accepted_ids(emu))
    assert first < n, "the kill came too late to test anything"
    emu.set_latency(0)
    again = run_target(config, singer(rows), tmp_path)
    assert again.returncode == 0, again.stderr
    counts = Counter(accepted_ids(emu))
    assert len(counts) == n  # every event accepted at least once (ids derived from the key)
    twice = [event_id for event_id, seen in counts.items() if seen > 1]
    assert max(counts.values()) <= 2
    assert len(twice) <= inflight * batch, (len(twice), first)


@pytest.mark.postgres
def test_two_working_directories_share_one_postgres_ledger(emu, tmp_path, pg_schema):
    rule = emu.add_rule(account=5010001, name="Purchases", type="PURCHASE")
    rows = [record(i) for i in range(50)]
    config = base_config(emu, rule, ledger_url=pg_url(), ledger_schema=pg_schema)
    for machine in ("one", "two"):
        (tmp_path / machine).mkdir()
        result = run_target(config, singer(rows), tmp_path / machine)
        assert result.returncode == 0, result.stderr
        assert not (tmp_path / machine / ".linkedin-capi").exists()
    assert f"rule {rule}: received 50, sent 0, rejected 0, skipped as already sent 50" in (
        result.stderr
    )
    assert len(accepted_ids(emu)) == 50
