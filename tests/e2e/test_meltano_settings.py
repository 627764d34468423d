"""Settings through real Meltano: an enumerated setting's typo gets the target's own answer.

With `kind: options`, Meltano 4.4.1 refused a typo (and any lower-case value) itself, with a
long traceback and no list of valid values. The generated definitions use `kind: string`, so
the value reaches the target, which accepts any case and names the valid values in one line.
Runs in a scratch copy of the project (meltano.yml plus the installed loader), so the
checkout's meltano.yml is never rewritten by `meltano config set`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from target_linkedin_capi.linkedin.vocabulary import CONVERSION_TYPES
from tests.helpers import child_env

pytestmark = [pytest.mark.e2e]

REPO_ROOT = Path(__file__).resolve().parents[2]
TARGET = "target-linkedin-capi"


def _scratch_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / ".meltano").mkdir(parents=True)
    shutil.copyfile(REPO_ROOT / "meltano.yml", project / "meltano.yml")
    (project / ".meltano" / "loaders").symlink_to(REPO_ROOT / ".meltano" / "loaders")
    (project / "empty.env").write_text("", encoding="utf-8")
    return project


def _meltano(meltano: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = child_env("MELTANO_")
    env.update(
        {
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "NO_COLOR": "1",
            "TARGET_LINKEDIN_CAPI_ACCESS_TOKEN": "emulator-token",
            # Nothing is sent: the config is refused, or stdin is empty.
            "TARGET_LINKEDIN_CAPI_API_BASE_URL": "http://127.0.0.1:9/rest",
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        }
    )
    return subprocess.run(
        [str(meltano), "--env-file", str(project / "empty.env"), *args],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _set(meltano: Path, project: Path, setting: str, value: str) -> None:
    proc = _meltano(meltano, project, "config", "set", TARGET, setting, value)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.xdist_group("meltano")
def test_meltano_conversion_type_typo_gets_the_targets_one_line_error(
    meltano_exe: Path, tmp_path: Path
) -> None:
    project = _scratch_project(tmp_path)
    _set(meltano_exe, project, "ad_account_id", "5010001")
    _set(meltano_exe, project, "conversion_rule_name", "Typo check")
    _set(meltano_exe, project, "conversion_type", "purchse")  # Meltano itself accepts it

    proc = _meltano(meltano_exe, project, "invoke", TARGET)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    expected = (
        f"conversion_type: 'purchse' is not allowed; use one of {', '.join(CONVERSION_TYPES)}"
    )
    assert any(line.rstrip().endswith(expected) for line in output.splitlines()), output
    assert "Traceback" not in output
    assert "is not a valid choice" not in output  # Meltano's own refusal
    assert "emulator-token" not in output

    # Any case is accepted: the run starts and, with no input, ends cleanly.
    _set(meltano_exe, project, "conversion_type", "purchase")
    proc = _meltano(meltano_exe, project, "invoke", TARGET)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "No records arrived" in output
