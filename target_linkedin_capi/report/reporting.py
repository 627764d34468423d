"""Where a run's reporting starts and ends: the dry-run notice, progress, the JSON report.

Called from the target at construction, at the end of the input and after a fatal error,
one line each, so the target's code stays about Singer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from target_linkedin_capi.report.http_stats import http_stats
from target_linkedin_capi.report.progress import Progress
from target_linkedin_capi.report.run_report import DRY_RUN, FAILED, SUCCEEDED, write_run_report

if TYPE_CHECKING:
    from target_linkedin_capi.run import Run

logger = logging.getLogger("target_linkedin_capi")


def start_reporting(run: Run, records_read: Callable[[], int]) -> Progress:
    """Say what kind of run this is, reset the HTTP counters, start the progress clock."""
    settings = run.settings
    if settings.dry_run:
        where = (
            f"the requests it would send are written to {settings.dry_run_output_path}"
            if settings.dry_run_output_path
            else "the requests it would send are not written anywhere (set "
            "dry_run_output_path to see them)"
        )
        logger.info(
            "DRY RUN: nothing is sent to LinkedIn, no rule is created or changed and no "
            "checkpoint is written; %s.",
            where,
        )
    http_stats.reset()
    progress = Progress(settings.progress_interval, run.report, records_read)
    run.report.on_accepted = progress.tick
    return progress


def finish_reporting(run: Run, records_read: int, error: BaseException | None) -> None:
    """Write the JSON run report (when run_report_path is set)."""
    status = FAILED if error is not None else DRY_RUN if run.settings.dry_run else SUCCEEDED
    resolved = run._rules_ready or []
    rule_ids: dict[str, str | None] = {
        rule.label: (None if rule.label.startswith("rule (new)") else rule.rule_id)
        for rule in resolved
    }
    write_run_report(
        run.settings.run_report_path,
        run.report,
        status=status,
        error=error,
        records_read=records_read,
        rule_ids=rule_ids,
        secrets=run.secrets,
    )
