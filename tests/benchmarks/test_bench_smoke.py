"""CI runs the benchmark at a smoke size: it must work end to end. No timing is asserted."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def test_benchmark_runs_at_smoke_size():
    proc = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.bench", "--records", "3000",
         "--memory-records", "6000", "--latency-ms", "50", "--skip-csv",
         "--ledger-entries", "20000"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(" ok") == 6  # every run delivered every record (or skipped it)
    assert "latency hidden" in proc.stdout and "memory: peak RSS" in proc.stdout
    assert "second run (all skipped)" in proc.stdout and "20,000 entries / fresh" in proc.stdout
