"""The tests' shared values and helpers live in one place (tests/constants.py, tests/helpers.py).

A copy in a test module drifts: the config a test builds and the one it checks against
stop being the same thing without anyone noticing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests import constants
from tests.helpers import base_config, child_env

TESTS = Path(__file__).resolve().parent
HOME = {TESTS / "constants.py", TESTS / "helpers.py"}
# The values a copy of would go unnoticed (a URN or a version that merely looks the same,
# in a test of the emulator's own parsing, is not a copy).
SHARED_VALUES = {
    constants.API_BASE,
    constants.OAUTH_URL,
    constants.TOKEN,
    constants.ACCOUNT_QUERY,
    constants.EMULATOR_TOKEN,
    constants.EMULATOR_ACCOUNT,
    constants.DAY_MS,
}
SHARED_FUNCTIONS = {"now_ms", "child_env", "settings_of", "in_ci"}
# Modules allowed to keep their own copy (none: every test imports the shared ones).
NOT_YET: set[Path] = set()


def copies_in(path: Path) -> list[str]:
    found = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant):
            if node.value.value in SHARED_VALUES:
                found.append(f"line {node.lineno}: {node.value.value!r}")
        elif isinstance(node, ast.FunctionDef) and node.name in SHARED_FUNCTIONS:
            found.append(f"line {node.lineno}: def {node.name}")
    return found


def test_no_test_module_keeps_its_own_copy_of_a_shared_value() -> None:
    copies = {
        str(path.relative_to(TESTS)): found
        for path in sorted(TESTS.rglob("*.py"))
        if path not in HOME | NOT_YET and (found := copies_in(path))
    }
    assert copies == {}, "import these from tests/constants.py or tests/helpers.py"


def test_the_unit_config_is_built_from_the_shared_values() -> None:
    config = base_config(rejected_records_path=None, api_version=None)
    assert config["api_base_url"] == constants.API_BASE
    assert config["access_token"] == constants.TOKEN
    assert "api_version" not in config  # None removes a key


def test_a_child_gets_none_of_the_targets_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TARGET_LINKEDIN_CAPI_ACCESS_TOKEN", "a-developers-real-token")
    monkeypatch.setenv("MELTANO_ENVIRONMENT", "prod")
    monkeypatch.setenv("KEEP_ME", "1")
    env = child_env()
    assert "TARGET_LINKEDIN_CAPI_ACCESS_TOKEN" not in env
    assert env["MELTANO_ENVIRONMENT"] == "prod" and env["KEEP_ME"] == "1"
    env = child_env("MELTANO_")
    assert "MELTANO_ENVIRONMENT" not in env and "TARGET_LINKEDIN_CAPI_ACCESS_TOKEN" not in env
