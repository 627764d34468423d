"""One INFO line per interval on long runs: how far the run is, never per record.

`tick()` is called every few hundred records and when a batch is answered; between lines
it costs one clock read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from target_linkedin_capi.report.tally import RunTally

logger = logging.getLogger("target_linkedin_capi.progress")


class Progress:
    def __init__(self, interval: float, report: RunTally, records_read: Callable[[], int]) -> None:
        self.interval = interval
        self.report = report
        self.records_read = records_read
        self._started = time.monotonic()
        self._next = self._started + interval
        self._lock = threading.Lock()

    def tick(self) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        with self._lock:  # the main thread and delivery threads both tick
            if now < self._next:
                return
            self._next = now + self.interval
        self.log(now)

    def log(self, now: float | None = None) -> None:
        elapsed = max((now or time.monotonic()) - self._started, 1e-9)
        totals = self.report.totals()
        verb = "would send" if self.report.dry_run else "sent"
        logger.info(
            "Progress: %d records read; events %s %d, accepted %d, rejected %d, in flight %d; "
            "%.0f events per second",
            self.records_read(),
            verb,
            totals["sent"],
            totals["accepted"],
            totals["rejected"],
            totals["in_flight"],
            totals["sent"] / elapsed,
        )
