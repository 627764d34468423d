"""The JSON run report (`run_report_path`): what one run did, for monitoring.

Written at the end of every run, after a fatal error too, atomically (a temporary file in
the same folder, then a rename), 0600 in 0700 folders. It holds counts, rule ids, stream
names, currencies and times, never a record's values: no email, name, IP, key or token.
The error paragraph is the target's own message, which never quotes record values; the
secrets of the run are masked in it all the same.

Counts per rule (see RuleTally for the exact meaning): received = sent + rejected +
skipped_already_sent, accepted <= sent. Coverage, value totals and conversion times are
of the accepted events (a dry run: of the events written to the dry-run file).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from target_linkedin_capi.report.files import FILE_MODE, make_private_folders
from target_linkedin_capi.report.http_stats import http_stats
from target_linkedin_capi.report.redaction import mask_secrets
from target_linkedin_capi.report.tally import RunTally, utc_text

SUCCEEDED, FAILED, DRY_RUN = "succeeded", "failed", "dry_run"


def _ms_text(ms: int | None) -> str | None:
    if ms is None:
        return None
    return utc_text(datetime.fromtimestamp(ms / 1000, tz=timezone.utc))


def build(
    report: RunTally,
    *,
    status: str,
    error: str | None,
    records_read: int,
    rule_ids: Mapping[str, str | None],
) -> dict[str, Any]:
    """The report as a JSON-ready dict. `rule_ids`: report label -> LinkedIn rule id."""
    finished = datetime.now(timezone.utc)
    rules = []
    with report._lock:  # a consistent view while delivery threads may still count
        for label, tally in report.rules.items():
            rejected = sum(tally.rejected.values())
            rules.append(
                {
                    "rule": label,
                    "rule_id": rule_ids.get(label),
                    "streams": sorted(tally.streams),
                    "received": tally.received,
                    "sent": tally.sent,
                    "accepted": tally.accepted,
                    "rejected": rejected,
                    "rejected_by_reason": dict(sorted(tally.rejected.items())),
                    "skipped_already_sent": tally.skipped_already_sent,
                    "not_deduplicated": tally.not_deduplicated,
                    "not_sent_after_failure": max(0, tally.routed - tally.received),
                    "identifiers_dropped": dict(sorted(tally.notes.items())),
                    "identifier_coverage": tally.facts.coverage(),
                    "value_totals": {
                        currency: str(total)
                        for currency, total in sorted(tally.facts.values.items())
                    },
                    "first_conversion_at": _ms_text(tally.facts.first_ms),
                    "last_conversion_at": _ms_text(tally.facts.last_ms),
                }
            )
    return {
        "run_id": report.run_id,
        "status": status,
        "error": error,
        "started_at": utc_text(report.started_at),
        "finished_at": utc_text(finished),
        "duration_seconds": round(time.monotonic() - report.started_monotonic, 3),
        "records_read": records_read,
        **http_stats.snapshot(),
        "rules": rules,
    }


def write_atomically(path: str | Path, document: Mapping[str, Any]) -> None:
    """Write `document` as JSON to `path`: 0600, folders 0700, temp file + rename."""
    path = Path(path)
    make_private_folders(path.parent)
    # mkstemp creates the file 0600 (and exclusively), in the target folder so the rename
    # stays on one file system and is atomic.
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=2)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, FILE_MODE)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def write_run_report(
    path: str | None,
    report: RunTally,
    *,
    status: str,
    error: BaseException | str | None,
    records_read: int,
    rule_ids: Mapping[str, str | None],
    secrets: Callable[[], Iterable[str]] = set,
) -> None:
    """Build and write the report; a failure to write is logged, never raised."""
    if not path:
        return
    import logging

    logger = logging.getLogger(__name__)
    text = None if error is None else mask_secrets(str(error), secrets())
    try:
        document = build(
            report, status=status, error=text, records_read=records_read, rule_ids=rule_ids
        )
        write_atomically(path, document)
    except OSError as exc:
        logger.warning(
            "The run report could not be written to %s (%s); check run_report_path and the "
            "folder's permissions.",
            path,
            exc.strerror or type(exc).__name__,
        )
