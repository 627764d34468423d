"""Batches of events -> LinkedIn, several in flight while the target reads on.

A batch is one unit of work: it is sent in requests of at most `batch_size` events, and
when LinkedIn refuses a request (its batches are all-or-nothing) exactly the elements it
names are rejected and the rest resent; when it names none, the request is split in halves
until the bad elements are isolated. A batch ends with every event either accepted or
rejected with a reason. The first fatal error stops all further sending and is raised in
the main thread at its next call.

With the delivery ledger (`LedgerGuard`), each batch first drops the events LinkedIn
accepted before (one ledger query per rule and batch, on the delivery thread), and every
request LinkedIn answers 2xx is recorded in the ledger before the batch moves on.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Protocol

from target_linkedin_capi.errors import FatalError
from target_linkedin_capi.linkedin import advice
from target_linkedin_capi.linkedin.errors import BatchRefusedError
from target_linkedin_capi.report.redaction import redact_linkedin_message
from target_linkedin_capi.report.tally import RunTally

if TYPE_CHECKING:
    from target_linkedin_capi.delivery.ledger import Ledger

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
    rule_id: str | None = None  # LinkedIn's id of the rule: the ledger's key with event_id


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
        report: RunTally,
        batch_size: int,
        max_inflight: int,
        guard: LedgerGuard | None = None,
    ) -> None:
        self.client = client
        self.report = report
        self.batch_size = batch_size
        self.guard = guard  # None: no ledger, every event is sent
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
                self._send(items)
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

    def _send(self, items: list[Item]) -> None:
        guard = self.guard
        if guard is None:
            for start in range(0, len(items), self.batch_size):
                self._deliver(items[start : start + self.batch_size])
            return
        # Passes: each sends the first occurrence of every event no other batch is sending;
        # a later occurrence waits for that one to end, then is decided by the ledger.
        pending = items
        while pending and self._error is None:
            claimed, pending = guard.claim(pending)
            try:
                fresh = guard.drop_sent(claimed)
                for start in range(0, len(fresh), self.batch_size):
                    self._deliver(fresh[start : start + self.batch_size])
            finally:
                guard.release(claimed)
            if pending:
                guard.wait_free(pending, lambda: self._error is not None)

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
        if self.guard is not None:
            # Before anything else: a crash from here on resends at most this chunk.
            self.guard.record(chunk)
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


# (rule id, event id) of an item, built in C: the guard's per-event work runs for every
# event of every batch, on the delivery threads, beside the main thread's reading.
_RULE_AND_EVENT = attrgetter("rule_id", "event_id")


def _ids_by_rule(items: Sequence[Item]) -> dict[str, list[str]]:
    """The event ids of `items` per rule id (items without either are left out)."""
    rules = {item.rule_id for item in items}
    if len(rules) == 1:  # the usual case: one rule per stream
        (rule_id,) = rules
        if rule_id is None:
            return {}
        ids = [item.event_id for item in items if item.event_id is not None]
        return {rule_id: ids} if ids else {}
    by_rule: dict[str, list[str]] = {}
    for item in items:
        if item.event_id is not None and item.rule_id is not None:
            by_rule.setdefault(item.rule_id, []).append(item.event_id)
    return by_rule


class LedgerGuard:
    """The delivery ledger as the dispatcher uses it, plus the events now in flight.

    Two occurrences of one (rule, eventId) can be in different batches in flight at once,
    before the first is recorded. So an event is claimed by the batch sending it until
    LinkedIn's answer for it is recorded (accepted) or it is rejected; an occurrence met
    while it is claimed waits, then asks the ledger: skipped if the first was accepted,
    sent if it was rejected. Claims never outnumber the events in flight.

    A dry run reads the real ledger and records nothing in it: what it would record goes
    to a throwaway SQLite file, so its in-run duplicates are counted as a real run's.
    """

    def __init__(self, ledger: Ledger, report: RunTally, *, scratch_writes: bool = False) -> None:
        self.ledger = ledger
        self.report = report
        self._scratch_dir: str | None = None
        self._writes: Ledger = ledger
        if scratch_writes:  # a dry run
            from target_linkedin_capi.delivery.ledger import open_ledger

            self._scratch_dir = tempfile.mkdtemp(prefix="linkedin-capi-dry-run-")
            self._writes = open_ledger(f"sqlite:///{self._scratch_dir}/would-record.sqlite3")
        self._claims: set[tuple[str, str]] = set()
        self._changed = threading.Condition()
        self.recorded = 0  # entries written this run (prune's allowance)

    def claim(self, items: list[Item]) -> tuple[list[Item], list[Item]]:
        """(claimed now, to decide later): the second list holds events already claimed."""
        keys = list(map(_RULE_AND_EVENT, items))
        with self._changed:
            claims = self._claims
            # The usual batch: every event has an id, none twice, none claimed elsewhere.
            if (
                not any(None in key for key in keys)
                and len(set(keys)) == len(keys)
                and claims.isdisjoint(keys)
            ):
                claims.update(keys)
                return items, []
            claimed: list[Item] = []
            later: list[Item] = []
            undeduplicated: dict[str, int] = {}
            for item, key in zip(items, keys, strict=True):
                if None in key:
                    undeduplicated[item.rule] = undeduplicated.get(item.rule, 0) + 1
                    claimed.append(item)
                elif key in claims:
                    later.append(item)
                else:
                    claims.add(key)
                    claimed.append(item)
        if undeduplicated:
            self.report.not_deduplicated(undeduplicated)
        return claimed, later

    def drop_sent(self, items: list[Item]) -> list[Item]:
        """`items` minus those accepted before (counted as skipped; claims released)."""
        by_rule = _ids_by_rule(items)
        if not by_rule:
            return items
        sent: set[tuple[str, str]] = set()
        for rule_id, ids in by_rule.items():
            found = self.ledger.already_sent(rule_id, ids)
            if self._writes is not self.ledger:
                found |= self._writes.already_sent(rule_id, ids)
            sent.update((rule_id, event_id) for event_id in found)
        if not sent:
            return items
        keep: list[Item] = []
        skipped: dict[str, int] = {}
        for item, key in zip(items, map(_RULE_AND_EVENT, items), strict=True):
            if key in sent:
                skipped[item.rule] = skipped.get(item.rule, 0) + 1
            else:
                keep.append(item)
        self.report.skipped_already_sent(skipped)
        return keep

    def record(self, items: Sequence[Item]) -> None:
        """LinkedIn accepted `items`: into the ledger, one statement per rule."""
        by_rule = _ids_by_rule(items)
        now = datetime.now(timezone.utc)
        for rule_id, ids in by_rule.items():
            self._writes.record(rule_id, ids, now)
            with self._changed:
                self.recorded += len(ids)

    def release(self, items: Sequence[Item]) -> None:
        with self._changed:
            # Keys with no event id were never claimed: removing them is a no-op.
            self._claims.difference_update(map(_RULE_AND_EVENT, items))
            self._changed.notify_all()

    def wait_free(self, items: Sequence[Item], stop: Callable[[], bool]) -> None:
        """Until no event of `items` is claimed (by another batch), or `stop()`."""
        keys = {key for key in map(_RULE_AND_EVENT, items) if None not in key}
        with self._changed:
            while not stop() and not keys.isdisjoint(self._claims):
                # The timeout only re-checks `stop`: a fatal error ends every wait.
                self._changed.wait(timeout=1.0)

    def close(self) -> None:
        if self._writes is not self.ledger:
            self._writes.close()
        if self._scratch_dir is not None:
            shutil.rmtree(self._scratch_dir, ignore_errors=True)
            self._scratch_dir = None
