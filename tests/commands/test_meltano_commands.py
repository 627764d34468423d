"""The Meltano commands `check`, `accounts`, `campaigns` and `rules`, in the repository's demo
environment, against the emulator (as `nox -s demo` points Meltano at it)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from linkedin_capi_emulator import Emulator

from tests.commands.emulated import assert_nothing_written
from tests.constants import EMULATOR_TOKEN, TARGET_ENV_PREFIX
from tests.e2e.conftest import REPO_ROOT, meltano_exe  # noqa: F401 - the fixture
from tests.helpers import child_env

COMMANDS = {
    "check": "--config=ENV --check",
    "accounts": "--config=ENV --list accounts",
    "campaigns": "--config=ENV --list campaigns",
    "rules": "--config=ENV --list rules",
}


def meltano_invoke(exe: Path, emu: Emulator, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **child_env("MELTANO_"),
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "NO_COLOR": "1",
        f"{TARGET_ENV_PREFIX}API_BASE_URL": emu.base_url,
        f"{TARGET_ENV_PREFIX}OAUTH_TOKEN_URL": emu.oauth_token_url,
        f"{TARGET_ENV_PREFIX}ACCESS_TOKEN": EMULATOR_TOKEN,
    }
    return subprocess.run(
        [str(exe), "--environment", "demo", "invoke", *args],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.xdist_group("meltano")
def test_meltano_check_and_rules_work_in_the_demo_environment(meltano_exe: Path) -> None:  # noqa: F811
    with Emulator() as emu:
        rule = emu.add_rule(5010001, "Demo purchases (CAPI)", type="PURCHASE")
        check = meltano_invoke(meltano_exe, emu, "target-linkedin-capi:check")
        assert check.returncode == 0, check.stdout + check.stderr
        assert "FAIL" not in check.stdout
        assert f"rule {rule} " in check.stdout  # the demo rule, found by name
        assert EMULATOR_TOKEN not in check.stdout + check.stderr

        rules = meltano_invoke(meltano_exe, emu, "target-linkedin-capi:rules", "--format", "json")
        assert rules.returncode == 0, rules.stdout + rules.stderr
        listed = json.loads(rules.stdout)["rules"]
        assert [row["id"] for row in listed] == [str(rule)]
        assert_nothing_written(emu)

        emu.revoke_token(EMULATOR_TOKEN)
        failed = meltano_invoke(meltano_exe, emu, "target-linkedin-capi:check")
        assert failed.returncode == 1
        assert "FAIL  access token [access_token]" in failed.stdout


@pytest.mark.parametrize(
    ("path", "commands"),
    [
        ("meltano.yml", lambda doc: _loader(doc["plugins"]["loaders"])["commands"]),
        ("plugin/target-linkedin-capi.yml", lambda doc: doc["commands"]),
    ],
)
def test_the_commands_are_declared_for_meltano(path: str, commands) -> None:
    declared = commands(yaml.safe_load((REPO_ROOT / path).read_text(encoding="utf-8")))
    for name, args in COMMANDS.items():
        assert declared[name]["args"] == args
        assert declared[name]["description"]


def _loader(loaders: list[dict]) -> dict:
    (loader,) = [plugin for plugin in loaders if plugin["name"] == "target-linkedin-capi"]
    return loader
