"""The Meltano setting lists and docs/settings.md are generated from the config schema.

scripts/generate_settings.py writes them from `target-linkedin-capi --about`; these tests fail
when a file differs from what it would write today, and check what it writes.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "generate_settings.py"
MELTANO_YML = ROOT / "meltano.yml"
HUB_YML = ROOT / "plugin" / "target-linkedin-capi.yml"
TARGET = "target-linkedin-capi"
SECRETS = ("access_token", "refresh_token", "client_id", "client_secret")


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_settings", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _about() -> dict[str, Any]:
    result = subprocess.run(
        [str(Path(sys.executable).parent / TARGET), "--about", "--format=json"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)["settings"]["properties"]


def _loader_settings(path: Path = MELTANO_YML) -> list[dict[str, Any]]:
    project = yaml.safe_load(path.read_text(encoding="utf-8"))
    (loader,) = (p for p in project["plugins"]["loaders"] if p["name"] == TARGET)
    return loader["settings"]


def test_generated_files_are_current() -> None:
    """meltano.yml, the Hub-style file and docs/settings.md match the schema."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_meltano_definitions_declare_every_target_setting() -> None:
    """A TARGET_LINKEDIN_CAPI_* variable reaches the target only for settings Meltano knows."""
    schema = _about()
    settings = _loader_settings()
    hub = yaml.safe_load(HUB_YML.read_text(encoding="utf-8"))
    assert settings == hub["settings"]
    project = yaml.safe_load(MELTANO_YML.read_text(encoding="utf-8"))
    (loader,) = (p for p in project["plugins"]["loaders"] if p["name"] == TARGET)
    assert loader["capabilities"] == hub["capabilities"]
    assert loader["namespace"] == hub["namespace"] == "target_linkedin_capi"
    assert [s["name"] for s in settings] == list(schema)
    for setting in settings:
        name = setting["name"]
        assert setting["label"], name
        assert setting["description"], name
        # Meltano refuses a value outside `options` (and any other case) with a traceback.
        assert setting["kind"] != "options", name
        # Meltano passes a `value` as if the user had set it: the target owns its defaults.
        assert "value" not in setting, name
        secret = schema[name].get("writeOnly") or schema[name].get("secret")
        assert setting.get("sensitive", False) is bool(secret), name
    kinds = {s["name"]: s["kind"] for s in settings}
    assert all(kinds[secret] == "string" for secret in SECRETS)
    assert kinds["campaign_ids"] == kinds["conversion_rules"] == "array"
    assert kinds["field_mappings"] == kinds["field_defaults"] == "object"
    assert kinds["max_rejected_ratio"] == kinds["connect_timeout_seconds"] == "decimal"
    assert kinds["conversion_type"] == "string"
    conversion_type = next(s for s in settings if s["name"] == "conversion_type")
    assert "Allowed values (any case): ADD_TO_CART, " in conversion_type["description"]
    batch = next(s for s in settings if s["name"] == "batch_size_rows")
    assert batch["description"].endswith(f"Default: {schema['batch_size_rows']['default']}.")


def test_settings_doc_has_a_section_per_setting() -> None:
    doc = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    for name, prop in _about().items():
        assert f"\n## `{name}`\n" in doc, name
        if prop.get("writeOnly"):
            section = doc.split(f"\n## `{name}`\n", 1)[1].split("\n## ", 1)[0]
            assert "- Secret: yes" in section, name
    section = doc.split("\n## `attribution_type`\n", 1)[1].split("\n## ", 1)[0]
    assert "- Allowed values (any case): `LAST_TOUCH_BY_CAMPAIGN`, " in section


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, Path]:
    """The script, pointed at copies of the three files."""
    module = _script()
    for name, source in (
        ("MELTANO_YML", MELTANO_YML),
        ("HUB_YML", HUB_YML),
        ("SETTINGS_MD", ROOT / "docs" / "settings.md"),
    ):
        copy = tmp_path / source.name
        shutil.copyfile(source, copy)
        monkeypatch.setattr(module, name, copy)
    monkeypatch.setattr(module, "ROOT", tmp_path)
    return module, tmp_path


def test_check_names_the_stale_file_and_says_to_run_the_script(
    scratch: tuple[ModuleType, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    module, tmp_path = scratch
    hub = tmp_path / HUB_YML.name
    hub.write_text(
        hub.read_text(encoding="utf-8").replace("kind: decimal", "kind: integer", 1),
        encoding="utf-8",
    )
    assert module.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "target-linkedin-capi.yml" in err
    assert "meltano.yml" not in err
    assert "scripts/generate_settings.py" in err
    assert module.main([]) == 0  # rewrites it
    assert module.main(["--check"]) == 0


def test_only_the_settings_block_is_rewritten(scratch: tuple[ModuleType, Path]) -> None:
    """Comments and everything outside the list stay byte for byte; a hand-added setting goes."""
    module, tmp_path = scratch
    path = tmp_path / "meltano.yml"
    original = path.read_text(encoding="utf-8")
    tampered = original.replace(
        "    - name: access_token\n",
        "    - name: made_up\n      kind: string\n    - name: access_token\n",
        1,
    ).replace("# One-command demo", "# A comment of the user's\n# One-command demo", 1)
    # `meltano config set` rewrites meltano.yml and drops the BEGIN marker: still found.
    tampered = tampered.replace(f"    {module.BEGIN}\n", "", 1)
    path.write_text(tampered, encoding="utf-8")
    assert module.main([]) == 0
    rewritten = path.read_text(encoding="utf-8")
    assert rewritten == original.replace(
        "# One-command demo", "# A comment of the user's\n# One-command demo", 1
    )
    assert "made_up" not in {s["name"] for s in _loader_settings(path)}
