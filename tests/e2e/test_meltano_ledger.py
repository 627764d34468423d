"""The `ledger-stats` Meltano command: real Meltano, the project's default ledger file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from target_linkedin_capi.delivery.ledger import open_ledger
from tests.e2e.test_meltano_settings import REPO_ROOT, TARGET, _meltano, _scratch_project, _set

pytestmark = [pytest.mark.e2e]


@pytest.mark.xdist_group("meltano")
def test_meltano_ledger_stats_command_reads_the_projects_ledger(
    meltano_exe: Path, tmp_path: Path
) -> None:
    project = _scratch_project(tmp_path)
    _set(meltano_exe, project, "ad_account_id", "5010001")
    _set(meltano_exe, project, "conversion_rule_id", "4242")
    # Where the target's default ledger lives when Meltano runs it: the project root.
    path = project / ".linkedin-capi" / "ledger.sqlite3"
    with open_ledger(f"sqlite:///{path}") as ledger:
        ledger.record("4242", ["a", "b", "c"], time.time() * 1000)

    proc = _meltano(meltano_exe, project, "invoke", f"{TARGET}:ledger-stats")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "rule 4242: 3 entries" in proc.stdout, output
    assert str(path) in proc.stdout
    assert "Traceback" not in output and "emulator-token" not in output


def test_the_hub_definition_declares_the_same_ledger_stats_command() -> None:
    ours = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())
    loader = next(p for p in ours["plugins"]["loaders"] if p["name"] == TARGET)
    hub = yaml.safe_load((REPO_ROOT / "plugin" / "target-linkedin-capi.yml").read_text())
    assert loader["commands"]["ledger-stats"]["args"] == "--config=ENV --ledger-stats"
    assert hub["commands"]["ledger-stats"]["args"] == loader["commands"]["ledger-stats"]["args"]
