"""The dispatcher's bookkeeping with a fake client and explicit events: no HTTP, no sleeps.

Waits use the dispatcher's own condition (notified whenever a batch finishes) or events the
fake client sets, each under a generous limit that only matters if the code hangs.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from target_linkedin_capi.delivery.dispatcher import SYSTEMIC_AFTER, Batch, Dispatcher, Item
from target_linkedin_capi.errors import FatalError
from target_linkedin_capi.linkedin.errors import BatchRefusedError

LIMIT = 20.0  # seconds; only reached if something hangs
RULE = "rule 456"


def item(n: int) -> Item:
    return Item(json.dumps({"eventId": f"e{n}"}).encode(), f"e{n}", "orders", RULE, {"id": n})


def ids_of(body: bytes) -> list[str]:
    return [e["eventId"] for e in json.loads(body)["elements"]]


class FakeReport:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent_ids: list[str] = []
        self.sent_count = 0  # events LinkedIn accepted
        self.in_request_count = 0  # events put in a first request
        self.rejected: list[dict[str, Any]] = []

    def in_request(self, items: Sequence[Any]) -> None:
        with self.lock:
            self.in_request_count += len(items)

    def accepted(self, items: Sequence[Any]) -> None:
        with self.lock:
            self.sent_count += len(items)

    def reject(self, **fields: Any) -> None:
        with self.lock:
            self.rejected.append(fields)


class FakeClient:
    """Answers each request with `decide(ids)`: None accepts, an exception is raised."""

    def __init__(self, decide: Callable[[list[str]], BaseException | None] | None = None) -> None:
        self.decide = decide or (lambda ids: None)
        self.calls: list[list[str]] = []
        self.aborts = 0
        self.lock = threading.Lock()

    def batch_create_events(self, body: bytes, count: int) -> None:
        ids = ids_of(body)
        assert len(ids) == count
        with self.lock:
            self.calls.append(ids)
        error = self.decide(ids)
        if error is not None:
            raise error

    def abort(self) -> None:
        self.aborts += 1


def refused(
    *, status: int = 422, message: str = "ERROR :: /x :: bad", failures: dict[int, str] | None
) -> BatchRefusedError:
    return BatchRefusedError(http_status=status, message=message, failures=failures)


def dispatcher(
    client: FakeClient, report: FakeReport, *, batch_size: int = 100, max_inflight: int = 2
) -> Dispatcher:
    return Dispatcher(
        client=client,
        report=report,  # type: ignore[arg-type]
        batch_size=batch_size,
        max_inflight=max_inflight,
    )


def batch(min_seq: int, items: list[Item], called: list[int] | None = None) -> Batch:
    def resolve() -> list[Item]:
        if called is not None:
            called.append(min_seq)
        return items

    return Batch(min_seq=min_seq, resolve=resolve)


def wait_for(d: Dispatcher, condition: Callable[[], bool]) -> None:
    with d._lock:
        assert d._lock.wait_for(condition, timeout=LIMIT)


# -- checkpoints: the lowest unresolved record -------------------------------------------------


def test_lowest_unresolved_seq_follows_batches_in_flight() -> None:
    gates = {"e0": threading.Event(), "e10": threading.Event()}

    def decide(ids: list[str]) -> None:
        assert gates[ids[0]].wait(LIMIT)

    report, client = FakeReport(), FakeClient(decide)
    d = dispatcher(client, report)
    try:
        assert d.lowest_unresolved_seq() is None
        d.submit(batch(0, [item(0)]))
        d.submit(batch(10, [item(10)]))
        assert d.lowest_unresolved_seq() == 0
        gates["e10"].set()  # the later batch finishes first: records 0.. are still out
        wait_for(d, lambda: 1 not in d._inflight)
        assert d.lowest_unresolved_seq() == 0
        gates["e0"].set()
        d.wait_all()
        assert d.lowest_unresolved_seq() is None
        assert report.sent_count == 2
    finally:
        for gate in gates.values():
            gate.set()
        d.close()


def test_a_failed_batch_stays_pinned_and_aborts_the_rest() -> None:
    called: list[int] = []
    report = FakeReport()
    client = FakeClient(lambda ids: FatalError("stop") if ids == ["e5"] else None)
    d = dispatcher(client, report, max_inflight=1)
    try:
        d.submit(batch(5, [item(5)], called))
        with pytest.raises(FatalError, match="stop"):
            d.wait_all()
        # The failed batch's records are never covered by a checkpoint.
        assert d.lowest_unresolved_seq() == 5
        assert client.aborts == 1  # retry waits elsewhere end at once
        with pytest.raises(FatalError, match="stop"):
            d.submit(batch(7, [item(7)], called))
        assert called == [5]  # nothing after the first fatal error was resolved or sent
        assert d.lowest_unresolved_seq() == 5
    finally:
        d.close()


def test_batches_queued_behind_a_fatal_one_are_not_sent() -> None:
    gate = threading.Event()
    called: list[int] = []

    def decide(ids: list[str]) -> BaseException | None:
        assert gate.wait(LIMIT)
        return FatalError("first") if ids == ["e1"] else None

    client, report = FakeClient(decide), FakeReport()
    d = dispatcher(client, report, max_inflight=1)
    try:
        d.submit(batch(1, [item(1)], called))
        outcome: list[BaseException | None] = []

        def submit_second() -> None:
            try:
                d.submit(batch(2, [item(2)], called))
                outcome.append(None)
            except FatalError as exc:
                outcome.append(exc)

        blocked = threading.Thread(target=submit_second)
        blocked.start()  # waits for the one slot
        gate.set()
        blocked.join(LIMIT)
        assert not blocked.is_alive()
        # Either refused at submit (the slot freed after the failure) or queued and skipped.
        assert called == [1]
        with pytest.raises(FatalError, match="first"):
            d.wait_all()
        wait_for(d, lambda: d._slots._value == 1)  # type: ignore[attr-defined]
        assert client.calls == [["e1"]]
        assert report.sent_count == 0
        assert d.lowest_unresolved_seq() == 1
    finally:
        gate.set()
        d.close()


# -- refusals -------------------------------------------------------------------------------


def test_refusal_naming_elements_rejects_exactly_those_and_resends_the_rest() -> None:
    def decide(ids: list[str]) -> BaseException | None:
        if "e1" in ids:
            return refused(failures={1: "ERROR :: /a :: bad", 3: "ERROR :: /b :: worse"})
        return None

    client, report = FakeClient(decide), FakeReport()
    d = dispatcher(client, report)
    try:
        d.submit(batch(0, [item(n) for n in range(5)]))
        d.wait_all()
    finally:
        d.close()
    assert client.calls == [["e0", "e1", "e2", "e3", "e4"], ["e0", "e2", "e4"]]
    assert sorted(r["event_id"] for r in report.rejected) == ["e1", "e3"]
    assert {r["reason"] for r in report.rejected} == {"linkedin_invalid_event"}
    assert {r["source"] for r in report.rejected} == {"linkedin"}
    by_id = {r["event_id"]: r["message"] for r in report.rejected}
    assert by_id["e1"] == "LinkedIn: ERROR :: /a :: bad"
    assert report.sent_count == 3
    assert d.lowest_unresolved_seq() is None


def test_refusal_naming_no_element_bisects_to_the_bad_one() -> None:
    def decide(ids: list[str]) -> BaseException | None:
        return refused(status=400, message="Bad", failures=None) if "e5" in ids else None

    client, report = FakeClient(decide), FakeReport()
    d = dispatcher(client, report)
    try:
        d.submit(batch(0, [item(n) for n in range(8)]))
        d.wait_all()
    finally:
        d.close()
    assert [r["event_id"] for r in report.rejected] == ["e5"]
    assert report.rejected[0]["reason"] == "linkedin_rejected_event"
    assert report.sent_count == 7
    sent_once = Counter(i for call in client.calls if "e5" not in call for i in call)
    assert set(sent_once.values()) == {1}  # every good event accepted exactly once
    # Halves, first half first, never the whole batch again: 8 -> 4 (ok) + 4 -> 2 -> 1 + 1,
    # then the other 2 (ok).
    assert [len(c) for c in client.calls] == [8, 4, 4, 2, 1, 1, 2]


def test_requests_hold_at_most_batch_size_events() -> None:
    client, report = FakeClient(), FakeReport()
    d = dispatcher(client, report, batch_size=3)
    try:
        d.submit(batch(0, [item(n) for n in range(7)]))
        d.wait_all()
    finally:
        d.close()
    assert [len(c) for c in client.calls] == [3, 3, 1]
    assert report.sent_count == 7


def test_a_rule_level_refusal_is_fatal_and_rejects_nothing() -> None:
    message = (
        "Invalid Conversion information provided, this event(s) is associated to a conversion "
        "that's marked as deleted. Conversion enabled should be true, indices [0, 1] (0-indexed)"
    )
    client = FakeClient(lambda ids: refused(status=400, message=message, failures={0: "x", 1: "x"}))
    report = FakeReport()
    d = dispatcher(client, report)
    try:
        d.submit(batch(3, [item(0), item(1)]))
        with pytest.raises(FatalError, match="because of their conversion rule"):
            d.wait_all()
    finally:
        d.close()
    assert report.rejected == []
    assert len(client.calls) == 1
    assert d.lowest_unresolved_seq() == 3


def test_twenty_single_refusals_in_a_row_are_fatal() -> None:
    client = FakeClient(lambda ids: refused(status=400, message="Bad", failures=None))
    report = FakeReport()
    d = dispatcher(client, report, batch_size=1)
    try:
        d.submit(batch(0, [item(n) for n in range(SYSTEMIC_AFTER + 5)]))
        with pytest.raises(FatalError, match=f"refused {SYSTEMIC_AFTER} events one by one"):
            d.wait_all()
    finally:
        d.close()
    assert len(client.calls) == SYSTEMIC_AFTER  # stopped at once
    assert len(report.rejected) == SYSTEMIC_AFTER - 1
    assert d.lowest_unresolved_seq() == 0


def test_an_accepted_event_resets_the_count_of_single_refusals() -> None:
    good = f"e{SYSTEMIC_AFTER - 1}"
    client = FakeClient(
        lambda ids: None if ids == [good] else refused(status=400, message="Bad", failures=None)
    )
    report = FakeReport()
    d = dispatcher(client, report, batch_size=1)
    try:
        d.submit(batch(0, [item(n) for n in range(2 * SYSTEMIC_AFTER - 1)]))
        d.wait_all()
    finally:
        d.close()
    assert len(report.rejected) == 2 * SYSTEMIC_AFTER - 2
    assert report.sent_count == 1
    assert d.lowest_unresolved_seq() is None
