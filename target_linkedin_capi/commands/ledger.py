"""Operator commands for the delivery ledger: what it holds, and forgetting entries.

    target-linkedin-capi --config FILE --ledger-stats [--format json]
    target-linkedin-capi --config FILE --ledger-forget rule=123456
    target-linkedin-capi --config FILE --ledger-forget rule=123456,since=2026-05-01,until=2026-05-08
    target-linkedin-capi --config FILE --ledger-forget since=2026-05-01T10:00:00Z

Both use the ledger the settings name (ledger_url, ledger_schema; else the default SQLite
file in the working directory), even when ledger_enabled is false. `--ledger-stats` only
reads (it creates nothing). `--ledger-forget` deletes the entries of one rule and/or those
accepted in [since, until) - times of acceptance, in UTC, a date meaning its midnight - so
the next run sends those events again (and LinkedIn counts them again).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import click

from target_linkedin_capi.commands import register
from target_linkedin_capi.delivery.ledger import open_ledger
from target_linkedin_capi.errors import FatalError
from target_linkedin_capi.linkedin import vocabulary
from target_linkedin_capi.report.tally import utc_text

if TYPE_CHECKING:
    from target_linkedin_capi.run import Run


@register(
    click.Option(
        ["--ledger-stats"],
        is_flag=True,
        help="Print, per conversion rule, the delivery ledger's entries and the oldest and "
        "newest acceptance time, then exit.",
    )
)
def ledger_stats(run: Run, value: Any, output_format: str | None) -> int:
    s = run.settings
    with open_ledger(s.ledger_url, s.ledger_schema, read_only=True) as ledger:
        stats = ledger.stats()
        where = ledger.url
    if output_format == "json":
        click.echo(
            json.dumps(
                {
                    "ledger": where,
                    "ledger_enabled": s.ledger_enabled,
                    "rules": [
                        {
                            "rule_id": rule.rule_id,
                            "entries": rule.entries,
                            "oldest": utc_text(rule.oldest),
                            "newest": utc_text(rule.newest),
                        }
                        for rule in stats
                    ],
                },
                indent=2,
            )
        )
        return 0
    click.echo(
        f"Delivery ledger: {where}" + ("" if s.ledger_enabled else " (ledger_enabled: false)")
    )
    if not stats:
        click.echo("No entries: no event has been recorded as accepted.")
    for rule in stats:
        click.echo(
            f"rule {rule.rule_id}: {rule.entries:,} entries, accepted from "
            f"{utc_text(rule.oldest)} to {utc_text(rule.newest)}"
        )
    return 0


@register(
    click.Option(
        ["--ledger-forget"],
        metavar="rule=ID,since=TIME,until=TIME|all",
        help="Delete delivery-ledger entries of a rule and/or accepted in [since, until) "
        "(UTC dates or times), so the next run sends those events again; `all` deletes "
        "every entry.",
    )
)
def ledger_forget(run: Run, value: Any, output_format: str | None) -> int:
    rule, since, until = parse_forget(str(value))
    s = run.settings
    with open_ledger(s.ledger_url, s.ledger_schema) as ledger:
        removed = ledger.forget(rule, since, until)
        where = ledger.url
    if output_format == "json":
        click.echo(json.dumps({"ledger": where, "forgotten": removed}))
    else:
        click.echo(
            f"Forgot {removed:,} entries of the delivery ledger at {where}; the next run "
            "sends those events again if its input holds them."
        )
    return 0


def parse_forget(text: str) -> tuple[str | None, datetime | None, datetime | None]:
    """`rule=ID,since=TIME,until=TIME` (any of them, at least one) or `all`."""
    if text.strip().lower() == "all":
        return None, None, None
    found: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, raw = part.partition("=")
        name = name.strip().lower()
        if not sep or name not in ("rule", "since", "until") or name in found:
            raise FatalError(
                f"--ledger-forget takes rule=ID, since=TIME and until=TIME separated by "
                f"commas, or `all`; {part!r} is not one of them (or is repeated)."
            )
        found[name] = raw.strip()
    if not found:
        raise FatalError("--ledger-forget needs rule=ID, since=TIME, until=TIME or `all`.")
    rule = None
    if "rule" in found:
        rule = vocabulary.rule_id(found["rule"])
        if rule is None:
            raise FatalError(
                f"--ledger-forget rule={found['rule']!r} is not a conversion rule id (digits or "
                "urn:lla:llaPartnerConversion:<digits>; see --ledger-stats)."
            )
    since, until = (_moment(name, found.get(name)) for name in ("since", "until"))
    if since is not None and until is not None and since >= until:
        raise FatalError("--ledger-forget: since must be before until.")
    return rule, since, until


def _moment(name: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FatalError(
            f"--ledger-forget {name}={text!r} is not a date or time (2026-05-01 or "
            "2026-05-01T10:00:00Z)."
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
