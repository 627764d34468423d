"""Running an operator command of the real CLI against the bundled emulator."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from linkedin_capi_emulator import Emulator

from target_linkedin_capi.target import TargetLinkedInCapi
from tests.constants import EMULATOR_ACCOUNT, EMULATOR_TOKEN
from tests.helpers import child_env

DEMO_RULE_NAME = "Demo purchases (CAPI)"


def credentials(emu: Emulator, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "access_token": EMULATOR_TOKEN,
        "api_base_url": emu.base_url,
        "oauth_token_url": emu.oauth_token_url,
        "retry_max_attempts": 2,
        "retry_max_wait_seconds": 2,
        "connect_timeout_seconds": 2,
        "read_timeout_seconds": 5,
    }
    config.update(overrides)
    return {k: v for k, v in config.items() if v is not None}


def demo_config(emu: Emulator, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """The demo environment's settings (meltano.yml), pointed at `emu`."""
    demo: dict[str, Any] = {
        "ad_account_id": str(EMULATOR_ACCOUNT),
        "conversion_rule_name": DEMO_RULE_NAME,
        "conversion_type": "PURCHASE",
        "campaign_ids": ["6010001", "6010002"],
        "rejected_records_path": str(tmp_path / "out" / "rejected.jsonl"),
    }
    return credentials(emu, **{**demo, **overrides})


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def check(self, name: str) -> dict[str, Any]:
        """The one JSON check line named `name`."""
        found = [c for c in self.json()["checks"] if c["check"] == name]
        assert len(found) == 1, self.stdout
        return found[0]

    def line(self, setting: str) -> dict[str, Any]:
        """The one JSON check line about `setting` (fails when there is not exactly one)."""
        found = [c for c in self.json()["checks"] if c["setting"] == setting]
        assert len(found) == 1, self.stdout
        return found[0]


def invoke(config: dict[str, Any], tmp_path: Path, *args: str) -> Outcome:
    """The CLI in this process (fast; the emulator runs in a thread)."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    result = CliRunner().invoke(
        TargetLinkedInCapi.cli, ["--config", str(path), *args], input="not singer input\n"
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)


def run_cli(config: dict[str, Any], tmp_path: Path, *args: str) -> Outcome:
    """The CLI as its own process, under a hard time limit: what a user runs."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "target_linkedin_capi", "--config", str(path), *args],
        input="not singer input\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(),
        check=False,
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def assert_nothing_written(emu: Emulator) -> None:
    """No request that changes anything reached the emulator (its own set-up calls aside)."""
    assert emu.state.summary()["accepted_events"] == 0
    requests = emu.state.requests()
    assert requests
    for request in requests:
        # Reads, and the two OAuth forms (refresh, introspection) that change nothing.
        assert request["method"] == "GET" or request["path"].startswith("/oauth/v2/"), request
