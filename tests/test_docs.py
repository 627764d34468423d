"""The documentation stays in shape: a short README for users, every setting documented once.

Users read the README first; the settings reference is generated (docs/settings.md) so that a
setting's description never drifts from the schema the target checks. These tests catch a
README that grows back into a manual, a setting table copied out of the reference, and links
that point at files or headings that moved.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from target_linkedin_capi.target import TargetLinkedInCapi

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SETTINGS_MD = ROOT / "docs" / "settings.md"
# The hand-written documents; docs/settings.md is generated and checked elsewhere.
HAND_WRITTEN = [
    README,
    ROOT / "CONTRIBUTING.md",
    ROOT / "CHANGELOG.md",
    ROOT / "SECURITY.md",
    *sorted(p for p in (ROOT / "docs").glob("*.md") if p != SETTINGS_MD),
]
TWO_COMMANDS = [
    "python3 -m pip install --quiet uv nox && python3 -m nox -s demo",
    "python3 -m pip install --quiet uv nox && python3 -m nox -s tests",
]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _settings() -> list[str]:
    return list(TargetLinkedInCapi.config_jsonschema["properties"])


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        heading = line.lstrip("#").strip().lower()
        anchors.add(re.sub(r"[^\w\- ]", "", heading).replace(" ", "-"))
    return anchors


def test_readme_starts_with_the_two_commands() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    first_block = lines[lines.index("```bash") + 1 : lines.index("```bash") + 3]
    assert [line.split("#")[0].strip() for line in first_block] == TWO_COMMANDS
    assert "```bash" in lines[:4], "the two commands come first"


def test_readme_is_short() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) < 200


def test_new_documents_exist() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "https://keepachangelog.com/en/1.1.0/" in changelog
    assert "## [Unreleased]" in changelog
    contributing = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert "scripts/generate_settings.py" in contributing
    for page in ("architecture", "field-mapping", "operations", "emulator", "performance"):
        assert (ROOT / "docs" / f"{page}.md").is_file(), page


@pytest.mark.parametrize("path", HAND_WRITTEN, ids=lambda p: p.name)
def test_no_setting_table_outside_the_reference(path: Path) -> None:
    """A table row describing a setting belongs only to the generated docs/settings.md."""
    names = set(_settings())
    # A row whose first cell is one or more setting names: `a`, or `a` / `b`, or `a`, `b`.
    first_cell = re.compile(r"\|\s*`(\w+)`(?:\s*[,/]\s*`(\w+)`)*\s*(?:\(secrets?\))?\s*\|")
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = first_cell.match(line)
        if match and names.intersection(re.findall(r"`(\w+)`", match.group(0))):
            rows.append(line)
    assert rows == [], f"{path.name} repeats the settings reference: {rows[:3]}"


@pytest.mark.parametrize("path", HAND_WRITTEN, ids=lambda p: p.name)
def test_relative_links_resolve(path: Path) -> None:
    broken = []
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target) or target.startswith("../../"):
            continue  # a URL, or a GitHub page relative to the repository (security advisories)
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists() or (
            anchor and linked.suffix == ".md" and anchor not in _anchors(linked)
        ):
            broken.append(target)
    assert broken == [], f"{path.name}: broken links {broken}"


def test_every_setting_is_in_the_reference() -> None:
    reference = SETTINGS_MD.read_text(encoding="utf-8")
    missing = [name for name in _settings() if f"## `{name}`" not in reference]
    assert missing == []


def test_layout_names_every_package_folder() -> None:
    """The README's layout and docs/architecture.md name each folder of the package."""
    folders = sorted(
        p.name + "/"
        for p in (ROOT / "target_linkedin_capi").iterdir()
        if p.is_dir() and (p / "__init__.py").exists()
    )
    for path in (README, ROOT / "docs" / "architecture.md"):
        text = path.read_text(encoding="utf-8")
        assert [f for f in folders if f not in text] == [], path.name


def test_documented_nox_sessions_exist() -> None:
    sessions = set(re.findall(r"^def (\w+)\(session", (ROOT / "noxfile.py").read_text(), re.M))
    for path in HAND_WRITTEN:
        named = set(re.findall(r"nox -s (\w+)", path.read_text(encoding="utf-8")))
        assert named <= sessions, f"{path.name}: {named - sessions}"


def test_meltano_commands_use_the_current_syntax() -> None:
    """Meltano 4 takes `config set PLUGIN NAME VALUE`; `config PLUGIN set` is an error there."""
    for path in HAND_WRITTEN:
        assert not re.search(r"meltano config [\w-]+ set", path.read_text(encoding="utf-8"))
