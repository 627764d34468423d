"""Operator commands plug into the target's command line and run instead of reading input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from target_linkedin_capi.commands import COMMANDS, register
from target_linkedin_capi.errors import FatalError
from target_linkedin_capi.target import TargetLinkedInCapi
from tests.helpers import base_config

SEEN: list[tuple[Any, str | None]] = []


@pytest.fixture
def commands() -> Iterator[None]:
    """Two throw-away commands, removed again after the test."""
    before = list(COMMANDS)

    @register(click.Option(["--say-hello"], is_flag=True, help="Test command."))
    def say_hello(run: Any, value: Any, output_format: str | None) -> int:
        SEEN.append((value, output_format))
        click.echo(f"hello {run.settings.api_version}")
        return 3

    @register(click.Option(["--fail-plainly"], is_flag=True, help="Test command."))
    def fail_plainly(run: Any, value: Any, output_format: str | None) -> int:
        raise FatalError("the account cannot be reached; check ad_account_id")

    yield
    COMMANDS[:] = before
    SEEN.clear()


def invoke(tmp_path: Path, *args: str) -> Any:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(base_config()), encoding="utf-8")
    return CliRunner().invoke(
        TargetLinkedInCapi.cli, ["--config", str(config), *args], input="not singer input\n"
    )


@pytest.mark.usefixtures("commands")
def test_a_registered_command_is_an_option_and_runs_instead_of_reading_input(
    tmp_path: Path,
) -> None:
    result = invoke(tmp_path, "--say-hello", "--format", "json")
    # Its exit code is the command's; the input (not Singer) was never read.
    assert result.exit_code == 3, result.output
    assert "hello 202609" in result.output
    assert SEEN == [(True, "json")]
    assert "--say-hello" in CliRunner().invoke(TargetLinkedInCapi.cli, ["--help"]).output


@pytest.mark.usefixtures("commands")
def test_a_commands_fatal_error_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = invoke(tmp_path, "--fail-plainly")
    assert result.exit_code == 1
    assert "Traceback" not in result.output


@pytest.mark.usefixtures("commands")
def test_two_commands_at_once_are_refused(tmp_path: Path) -> None:
    result = invoke(tmp_path, "--say-hello", "--fail-plainly")
    assert result.exit_code == 2
    assert SEEN == []
