"""The published wheels: the target's holds only the target; the emulator is its own wheel.

Builds both wheels from the checkout with `uv build --wheel` (hatchling and hatch-vcs come
from PyPI into uv's isolated build environment, cached after the first run).
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
EMULATOR_DIR = REPO_ROOT / "packages" / "linkedin-capi-emulator"


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin
    except ImportError:
        pytest.fail("uv is not installed (it is in the `test` dependency group)", pytrace=False)
    return find_uv_bin()


def _build_wheel(project: Path, out_dir: Path) -> zipfile.ZipFile:
    proc = subprocess.run(
        [_uv(), "build", "--wheel", "--quiet", "--out-dir", str(out_dir), str(project)],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheels = list(out_dir.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return zipfile.ZipFile(wheels[0])


def _entry_points(wheel: zipfile.ZipFile) -> configparser.ConfigParser:
    name = next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
    parser = configparser.ConfigParser()
    parser.read_string(wheel.read(name).decode("utf-8"))
    return parser


@pytest.mark.xdist_group("packaging")
def test_target_wheel_holds_only_the_target(tmp_path: Path) -> None:
    with _build_wheel(REPO_ROOT, tmp_path) as wheel:
        names = wheel.namelist()
        modules = [n for n in names if not n.split("/", 1)[0].endswith(".dist-info")]
        assert "target_linkedin_capi/target.py" in modules
        assert all(n.startswith("target_linkedin_capi/") for n in modules), modules
        assert not [n for n in modules if "emulator" in n or "bootstrap" in n]
        assert not [n for n in modules if n.endswith((".jsonl", ".yml", ".yaml"))]
        scripts = _entry_points(wheel)["console_scripts"]
        assert dict(scripts) == {
            "target-linkedin-capi": "target_linkedin_capi.target:TargetLinkedInCapi.cli"
        }
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
        assert b"\nName: target-linkedin-capi\n" in metadata
        requires = [line for line in metadata.splitlines() if line.startswith(b"Requires-Dist:")]
        assert requires  # the runtime dependencies, and no development-only ones
        assert not [r for r in requires if b"emulator" in r or b"meltano" in r or b"pytest" in r]


@pytest.mark.xdist_group("packaging")
def test_emulator_wheel_holds_the_emulator_and_its_command(tmp_path: Path) -> None:
    with _build_wheel(EMULATOR_DIR, tmp_path) as wheel:
        names = wheel.namelist()
        modules = [n for n in names if not n.split("/", 1)[0].endswith(".dist-info")]
        assert "linkedin_capi_emulator/__init__.py" in modules
        assert "linkedin_capi_emulator/__main__.py" in modules
        assert all(n.startswith("linkedin_capi_emulator/") for n in modules), modules
        scripts = _entry_points(wheel)["console_scripts"]
        assert dict(scripts) == {"linkedin-capi-emulator": "linkedin_capi_emulator.__main__:main"}
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
        assert b"\nName: linkedin-capi-emulator\n" in metadata
        assert b"\nRequires-Dist:" not in metadata  # standard library only
