"""How operator commands print: aligned tables and check lines for people, JSON for scripts.

Everything goes to standard output (logs go to standard error), so `--format json` output
can be piped as it is. No value printed here is a secret: commands hand over LinkedIn's
names and ids and the target's own texts, never a token.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import click

PASS = "PASS"  # noqa: S105 - a check status, not a password
WARN = "WARN"
FAIL = "FAIL"
# A check that could not be run because one it depends on failed (its FAIL says why).
SKIP = "SKIP"


def wants_json(output_format: str | None) -> bool:
    return (output_format or "").lower() == "json"


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


@dataclass(frozen=True)
class CheckLine:
    """One check's outcome: what was checked, the setting it concerns, what to do."""

    status: str
    check: str
    message: str
    setting: str | None = None

    def as_text(self) -> str:
        about = f" [{self.setting}]" if self.setting else ""
        return f"{self.status}  {self.check}{about}: {self.message}"


def print_checks(lines: Sequence[CheckLine], output_format: str | None) -> None:
    if wants_json(output_format):
        print_json(
            {
                "ok": not any(line.status == FAIL for line in lines),
                "counts": {
                    status: sum(1 for line in lines if line.status == status)
                    for status in (PASS, WARN, FAIL, SKIP)
                },
                "checks": [asdict(line) for line in lines],
            }
        )
        return
    for line in lines:
        click.echo(line.as_text())
    failed = sum(1 for line in lines if line.status == FAIL)
    warned = sum(1 for line in lines if line.status == WARN)
    verdict = "FAILED" if failed else "OK"
    click.echo(f"{verdict}: {failed} failed, {warned} warning(s), {len(lines)} checks")


def print_table(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[tuple[str, str]], empty: str
) -> None:
    """Rows as aligned columns; `columns` are (key, heading) pairs."""
    cells = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    if not cells:
        click.echo(empty)
        return
    headings = [heading for _, heading in columns]
    widths = [max(len(text) for text in column) for column in zip(headings, *cells, strict=True)]
    for line in (headings, *cells):
        click.echo(
            "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        )


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(str(item) for item in value) or "-"
    # A name with a line break, tab or terminal escape would break the table (or the
    # terminal): whitespace runs become one space, other unprintable characters "?".
    text = " ".join(str(value).split())
    return "".join(char if char.isprintable() else "?" for char in text)
