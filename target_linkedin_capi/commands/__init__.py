"""Operator commands: what the target does instead of reading Singer input.

Each command is a command-line option (`--check`, `--list accounts`, ...) and a function
that gets the checked settings and the requested output format and returns the exit code.
They read no standard input and emit no STATE. Registering one here adds its option to
`target-linkedin-capi --help` (target.py extends the SDK's command with these options);
the Meltano commands in meltano.yml call them the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from target_linkedin_capi.run import Run

# The run of an operator command: the target's Run (settings, client; nothing sent yet),
# the option's value, and the output format (`--format json`, else None for people).
CommandRun = Callable[["Run", Any, "str | None"], int]
# Whether the command, given its option's value, needs the conversion rules configured (a
# complete config); one that does not runs with the credential settings alone.
NeedsRules = Callable[[Any], bool]


def _always(value: Any) -> bool:
    return True


@dataclass(frozen=True)
class OperatorCommand:
    """One operator command: its command-line option and what it runs."""

    option: click.Option
    run: CommandRun
    needs_rules: NeedsRules = _always

    @property
    def name(self) -> str:
        assert self.option.name is not None
        return self.option.name


COMMANDS: list[OperatorCommand] = []


def register(
    option: click.Option, *, needs_rules: NeedsRules = _always
) -> Callable[[CommandRun], CommandRun]:
    """Decorator: make `run` an operator command behind `option`."""

    def add(run: CommandRun) -> CommandRun:
        COMMANDS.append(OperatorCommand(option, run, needs_rules))
        return run

    return add


def requested(options: dict[str, Any]) -> tuple[OperatorCommand, Any] | None:
    """The one operator command the command line asked for, with its value (None: none).

    Raises click.UsageError when several are given: each answers a different question.
    """
    asked = [
        (command, options[command.name])
        for command in COMMANDS
        if options.get(command.name) not in (None, False, ())
    ]
    if len(asked) > 1:
        names = ", ".join(command.option.opts[0] for command, _ in asked)
        raise click.UsageError(f"give one operator command at a time, not {names}")
    return asked[0] if asked else None


def needs_rules(options: dict[str, Any]) -> bool:
    """Whether the command line needs a complete config (rules): all but a few lookups do."""
    try:
        asked = requested(options)
    except click.UsageError:
        return True  # reported when the command would run
    return asked is None or asked[0].needs_rules(asked[1])


# The commands themselves register on import (after the names above exist).
from target_linkedin_capi.commands import check as _check  # noqa: E402, F401
from target_linkedin_capi.commands import ledger as _ledger  # noqa: E402, F401
from target_linkedin_capi.commands import lookups as _lookups  # noqa: E402, F401
