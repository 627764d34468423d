"""Batches of events -> LinkedIn, several in flight while the target reads on.

A batch is one unit of work: it is sent in requests of at most `batch_size` events, and
when LinkedIn refuses a request (its batches are all-or-nothing) exactly the elements it
names are rejected and the rest resent; when it names none, the request is split in halves
until the bad elements are isolated. A batch ends with every event either accepted or
rejected with a reason. The first fatal error stops all further sending and is raised in
the main thread at its next call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from target_linkedin_capi.errors import FatalError
from target_linkedin_capi.linkedin import advice
from target_linkedin_capi.linkedin.errors import BatchRefusedError
from target_linkedin_capi.report.redaction import redact_linkedin_message
from target_linkedin_capi.report.run_report import RunReport

logger = logging.getLogger(__name__)

# Single events refused without an index in a row before the refusal counts as systemic.
SYSTEMIC_AFTER = 20


class EventsClient(Protocol):
    """What delivery needs of linkedin/client.py's LinkedInClient."""

    def batch_create_events(self, body: bytes, count: int) -> None: ...

    def abort(self) -> None: ...


@dataclass(slots=True)
class Item:
    """One event bound for LinkedIn and where it came from (for the rejected file)."""

    body: bytes  # the event, JSON-encoded once
    event_id: str | None
    stream: str
    rule: str
    key: Mapping[str, Any]  # the record's key properties, raw: the report masks them
    facts: Any = None  # what the event carried, for the run report (report/facts.py)


@dataclass(slots=True)
class Batch:
    """One unit of work: records whose events `resolve()` produces (it may wait for them)."""

    min_seq: int  # the lowest record position in the batch, for checkpoints
    resolve: Callable[[], list[Item]] | None  # dropped once called: frees the raw records


class Dispatcher:
    """Sends batches on a small thread pool; tracks what is still unresolved."""

    def __init__(
        self,
        *,
        client: EventsClient,
        report: RunReport,
        batch_size: int,
        max_inflight: int,
    ) -> None:
        self.client = client
        self.report = report
        self.batch_size = batch_size
        self._pool = ThreadPoolExecutor(max_workers=max_inflight, thread_name_prefix="deliver")
        self._slots = threading.BoundedSemaphore(max_inflight)
        self._lock = threading.Condition()
        self._inflight: dict[int, int] = {}  # batch number -> lowest record seq in it
        self._next_batch = 0
        self._error: BaseException | None = None
        # Single events refused without an index since the last success: many in a row mean
        # the refusal is about something else than those events.
        self._singles_refused_without_index = 0

    # -- main thread ------------------------------------------------------------------------

    def submit(self, batch: Batch) -> None:
        """Queue a batch; blocks while `max_inflight` batches are being sent."""
        self.raise_if_failed()
        self._slots.acquire()
        if self._error is not None:
            self._slots.release()
            self.raise_if_failed()
        with self._lock:
            number = self._next_batch
            self._next_batch += 1
            self._inflight[number] = batch.min_seq
        try:
            self._pool.submit(self._run, number, batch)
        except BaseException:
            self._finish(number, resolved=False)
            raise

    def lowest_unresolved_seq(self) -> int | None:
        with self._lock:
            return min(self._inflight.values(), default=None)

    def wait_all(self) -> None:
        """Until every submitted batch is resolved; raises the first fatal error."""
        with self._lock:
            while self._inflight and self._error is None:
                self._lock.wait(timeout=1.0)
        self.raise_if_failed()

    def raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- delivery threads -------------------------------------------------------------------

    def _run(self, number: int, batch: Batch) -> None:
        delivered = False
        try:
            if (
                self._error is None and batch.resolve is not None
            ):  # after a fatal error nothing more is sent
                resolve, batch.resolve = batch.resolve, None
                items = resolve()
                del resolve
                for start in range(0, len(items), self.batch_size):
                    self._deliver(items[start : start + self.batch_size])
                delivered = self._error is None
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            with self._lock:
                if self._error is None:
                    self._error = exc
            self.client.abort()
        finally:
            self._finish(number, resolved=delivered)

    def _finish(self, number: int, *, resolved: bool) -> None:
        with self._lock:
            # A batch that failed (or was skipped after a failure) stays "in flight" for
            # good, so no checkpoint can ever cover its records.
            if resolved:
                self._inflight.pop(number, None)
            self._lock.notify_all()
        self._slots.release()

    def _deliver(self, items: Sequence[Item]) -> None:
        """Send `items` until each is accepted or rejected (iterative, never loops)."""
        pending: list[Sequence[Item]] = [items]
        while pending:
            if self._error is not None:
                return
            chunk = pending.pop()
            if chunk is items:  # its first request: counted as sent once, here
                self.report.in_request(chunk)
            body = b'{"elements":[' + b",".join(item.body for item in chunk) + b"]}"
            try:
                self.client.batch_create_events(body, len(chunk))
            except BatchRefusedError as refused:
                pending.extend(self._after_refusal(chunk, refused))
                continue
            self._accepted(chunk)

    def _after_refusal(
        self, chunk: Sequence[Item], refused: BatchRefusedError
    ) -> list[Sequence[Item]]:
        if refused.rule_level:
            raise FatalError(advice.rule_refused_events(refused))
        if len(chunk) == 1 and not refused.failures:
            self._singles_refused_without_index += 1
            if self._singles_refused_without_index >= SYSTEMIC_AFTER:
                raise FatalError(
                    advice.systemic_refusals(self._singles_refused_without_index, refused)
                )
        status = refused.http_status
        reason = "linkedin_invalid_event" if status == 422 else "linkedin_rejected_event"
        if refused.failures:
            for index, message in refused.failures.items():
                self._reject(chunk[index], reason, message)
            rest = [item for i, item in enumerate(chunk) if i not in refused.failures]
            logger.warning(
                "LinkedIn refused a batch of %d events (HTTP %d) naming %d bad element(s); "
                "rejected those and resending the other %d",
                len(chunk), status, len(refused.failures), len(rest),
            )  # fmt: skip
            return [rest] if rest else []
        if len(chunk) == 1:
            self._reject(chunk[0], reason, refused.message)
            return []
        half = len(chunk) // 2
        logger.warning(
            "LinkedIn refused a batch of %d events (HTTP %d) without naming the bad elements; "
            "splitting it in halves to isolate them",
            len(chunk), status,
        )  # fmt: skip
        return [chunk[half:], chunk[:half]]

    def _accepted(self, chunk: Sequence[Item]) -> None:
        self._singles_refused_without_index = 0
        self.report.accepted(chunk)

    def _reject(self, item: Item, reason: str, message: str) -> None:
        self.report.reject(
            stream=item.stream,
            rule=item.rule,
            reason=reason,
            message="LinkedIn: " + redact_linkedin_message(message),
            field=None,
            key=item.key,  # raw: the report writes it as the rejected-file settings say
            event_id=item.event_id,
            source="linkedin",
        )
