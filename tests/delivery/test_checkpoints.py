"""Checkpoints: STATE is written only once every record before it is resolved.

Plain unit tests with explicit sequence numbers (no threads, no sleeps), then a model
check: every interleaving of records, STATE messages, batches, completions and failures up
to a small length, and a fixed-seed sample of longer ones. hypothesis is not a dependency
of the project, so the small cases are enumerated exhaustively instead.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import pytest

from target_linkedin_capi.delivery.checkpoints import Checkpoints


def checkpoints() -> tuple[Checkpoints, list[dict[str, Any]]]:
    written: list[dict[str, Any]] = []
    return Checkpoints(written.append), written


def records(cp: Checkpoints, n: int) -> list[int]:
    return [cp.next_seq() for _ in range(n)]


# -- explicit cases ----------------------------------------------------------------------------


def test_sequence_numbers_count_up_from_zero() -> None:
    cp, _ = checkpoints()
    assert records(cp, 3) == [0, 1, 2]


def test_a_state_waits_until_every_record_before_it_is_resolved() -> None:
    cp, written = checkpoints()
    records(cp, 3)  # seqs 0, 1, 2
    cp.remember({"n": 3})  # covers 0..2
    records(cp, 2)  # seqs 3, 4: after the state, they do not hold it back
    for lowest in (0, 1, 2):
        cp.emit_ready(lowest)
        assert written == [], f"written while record {lowest} was unresolved"
    cp.emit_ready(3)  # 0..2 resolved, 3 not: exactly what the state covers
    assert written == [{"n": 3}]


def test_a_state_before_any_record_is_ready_at_once() -> None:
    cp, written = checkpoints()
    cp.remember({"n": 0})
    records(cp, 1)
    cp.emit_ready(0)
    assert written == [{"n": 0}]


def test_nothing_unresolved_writes_the_newest_state_only() -> None:
    cp, written = checkpoints()
    for n in range(1, 4):
        records(cp, 1)
        cp.remember({"n": n})
    cp.emit_ready(None)
    assert written == [{"n": 3}]  # the older ones are superseded, not written


def test_only_the_newest_emittable_state_is_written_and_the_rest_waits() -> None:
    cp, written = checkpoints()
    for before, mark in ((1, 1), (1, 2), (3, 5)):  # states after 1, 2 and 5 records
        records(cp, before)
        cp.remember({"n": mark})
    cp.emit_ready(3)  # records 0..2 resolved: the states at 1 and 2 are earned, 5 is not
    assert written == [{"n": 2}]
    cp.emit_ready(4)
    assert written == [{"n": 2}]
    cp.emit_ready(5)
    assert written == [{"n": 2}, {"n": 5}]


def test_an_unchanged_state_is_not_written_twice() -> None:
    cp, written = checkpoints()
    records(cp, 1)
    cp.remember({"n": 1})
    cp.emit_ready(None)
    cp.remember({"n": 1})  # the tap repeats itself
    cp.emit_ready(None)
    cp.write({"n": 1})  # the SDK's drain writes the same state again
    assert written == [{"n": 1}]
    cp.write({"n": 2})
    cp.write({"n": 1})  # a change back is a change: written
    assert written == [{"n": 1}, {"n": 2}, {"n": 1}]


def test_a_superseded_state_equal_to_the_last_written_is_not_rewritten() -> None:
    cp, written = checkpoints()
    cp.write({"n": "a"})
    records(cp, 1)
    cp.remember({"n": "b"})
    records(cp, 1)
    cp.remember({"n": "a"})
    cp.emit_ready(None)  # "b" is superseded by "a", which is already written
    assert written == [{"n": "a"}]


def test_the_state_remembered_is_a_copy() -> None:
    cp, written = checkpoints()
    state = {"bookmarks": {"orders": {"last_id": 1}}}
    cp.remember(state)
    state["bookmarks"]["orders"]["last_id"] = 99  # the caller's dict moves on
    cp.emit_ready(None)
    assert written == [{"bookmarks": {"orders": {"last_id": 1}}}]


def test_closed_writes_nothing_more() -> None:
    cp, written = checkpoints()
    records(cp, 1)
    cp.remember({"n": 1})
    cp.closed = True  # a fatal error
    cp.emit_ready(None)
    cp.write({"n": 2})
    assert written == []
    assert cp.last_written is None


def test_clear_forgets_the_pending_states() -> None:
    cp, written = checkpoints()
    records(cp, 1)
    cp.remember({"n": 1})
    cp.clear()
    cp.emit_ready(None)
    assert written == []


def test_a_failed_write_is_not_taken_as_written() -> None:
    calls: list[dict[str, Any]] = []

    def write(state: dict[str, Any]) -> None:
        calls.append(state)
        if len(calls) == 1:
            raise BrokenPipeError

    cp = Checkpoints(write)
    with pytest.raises(BrokenPipeError):
        cp.write({"n": 1})
    assert cp.last_written is None
    cp.write({"n": 1})  # so the same state is tried again
    assert calls == [{"n": 1}, {"n": 1}]
    assert cp.last_written == {"n": 1}


# -- model check: random interleavings ---------------------------------------------------------

# One step of a run, as the target drives Checkpoints:
#   "ra"/"rb": a record for sink a / b (numbered, buffered);  "v": an invalid record
#   (numbered, rejected at once);  "s": a STATE message;  "fa"/"fb": sink a / b hands its
#   buffer to the dispatcher as a batch;  "c0"/"c1": the oldest / second in-flight batch
#   is delivered;  "x": the oldest in-flight batch fails (it stays unresolved for good);
#   "d": the SDK's full drain (everything sent and waited for, then the latest state
#   written directly).
# After every step the target asks for the states that are ready, as it does.
OPS = ("ra", "rb", "v", "s", "fa", "fb", "c0", "c1", "x", "d")


@dataclass
class Model:
    """The target's bookkeeping, kept independently of Checkpoints, checking each write."""

    steps: tuple[str, ...]
    buffers: dict[str, list[int]] = field(default_factory=lambda: {"a": [], "b": []})
    inflight: list[list[int]] = field(default_factory=list)
    failed: list[list[int]] = field(default_factory=list)
    marks: dict[int, int] = field(default_factory=dict)  # state "n" -> records before it
    states: int = 0
    seen: int = 0
    latest: dict[str, int] | None = None
    written: list[dict[str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cp = Checkpoints(self.on_write)

    def unresolved(self) -> list[int]:
        batches = [seq for batch in (*self.inflight, *self.failed) for seq in batch]
        return [*self.buffers["a"], *self.buffers["b"], *batches]

    def lowest(self) -> int | None:
        # What Run.lowest_unresolved_seq computes: buffer heads and in-flight minimums
        # (a failed batch stays in flight).
        heads = [buf[0] for buf in self.buffers.values() if buf]
        heads += [batch[0] for batch in (*self.inflight, *self.failed)]
        return min(heads, default=None)

    def on_write(self, state: dict[str, Any]) -> None:
        mark = self.marks[state["n"]]
        covered = [seq for seq in self.unresolved() if seq < mark]
        assert not covered, f"{self.steps}: state {state} covers unresolved records {covered}"
        assert not self.failed or not self.cp.closed
        self.written.append(dict(state))

    def step(self, op: str) -> None:
        if op in ("ra", "rb"):
            self.buffers[op[1]].append(self.cp.next_seq())
            self.seen += 1
        elif op == "v":
            self.cp.next_seq()
            self.seen += 1
        elif op == "s":
            self.states += 1
            self.marks[self.states] = self.seen
            self.latest = {"n": self.states}
            self.cp.remember(self.latest)
        elif op in ("fa", "fb"):
            buffer = self.buffers[op[1]]
            if buffer:
                self.inflight.append(buffer[:])
                buffer.clear()
        elif op in ("c0", "c1"):
            index = int(op[1])
            if index < len(self.inflight):
                self.inflight.pop(index)
        elif op == "x":
            if self.inflight:
                self.failed.append(self.inflight.pop(0))
        elif op == "d":
            if self.failed:
                return  # the dispatcher raises: the target stops (see finish)
            for name in ("a", "b"):
                self.step("f" + name)
            self.inflight.clear()
            self.cp.clear()
            if self.latest is not None:
                self.cp.write(self.latest)
            return
        self.cp.emit_ready(self.lowest())

    def finish(self) -> None:
        """End of input: everything sent; a failure stops the run as Target.fail does."""
        for name in ("a", "b"):
            self.step("f" + name)
        if self.failed:
            self.cp.emit_ready(self.lowest())  # the checkpoints already earned
            self.cp.closed = True
            before = list(self.written)
            self.cp.emit_ready(None)
            self.cp.write({"n": self.states})
            assert self.written == before, f"{self.steps}: written after the fatal error"
            return
        while self.inflight:
            self.step("c0")
        self.cp.emit_ready(self.lowest())
        if self.latest is not None:
            assert self.written, f"{self.steps}: the last state was never written"
            assert self.written[-1] == self.latest, (
                f"{self.steps}: all resolved, but the last state written is "
                f"{self.written[-1]}, not {self.latest}"
            )
        assert all(a != b for a, b in pairwise(self.written)), (
            f"{self.steps}: a state written twice in a row: {self.written}"
        )


def run_model(steps: tuple[str, ...]) -> Model:
    model = Model(steps)
    for op in steps:
        model.step(op)
    model.finish()
    return model


def sequences(length: int) -> Iterator[tuple[str, ...]]:
    """Every sequence of `length` steps in which each step can act (no idle steps)."""

    def extend(prefix: tuple[str, ...], a: int, b: int, inflight: int) -> Iterator[tuple[str, ...]]:
        if len(prefix) == length:
            yield prefix
            return
        for op in OPS:
            na, nb, ni = a, b, inflight
            if op == "ra":
                na += 1
            elif op == "rb":
                nb += 1
            elif op == "fa":
                if not a:
                    continue
                na, ni = 0, inflight + 1
            elif op == "fb":
                if not b:
                    continue
                nb, ni = 0, inflight + 1
            elif op in ("c0", "x"):
                if not inflight:
                    continue
                ni = inflight - 1
            elif op == "c1":
                if inflight < 2:
                    continue
                ni = inflight - 1
            elif op == "d":
                na = nb = ni = 0
            yield from extend((*prefix, op), na, nb, ni)

    yield from extend((), 0, 0, 0)


@pytest.mark.parametrize("length", range(1, 7))
def test_every_short_interleaving_keeps_state_behind_delivery(length: int) -> None:
    count = 0
    for steps in sequences(length):
        run_model(steps)
        count += 1
    assert count > 0


@pytest.mark.parametrize("seed", range(4))
def test_long_random_interleavings_keep_state_behind_delivery(seed: int) -> None:
    rng = random.Random(seed)  # fixed seeds: the same cases on every run
    weights = (6, 6, 1, 3, 2, 2, 3, 1, 1, 1)  # mostly records and states, as in a real run
    for _ in range(300):
        steps = tuple(rng.choices(OPS, weights=weights, k=rng.randint(10, 60)))
        run_model(steps)


def test_the_model_itself_sees_a_state_that_runs_ahead() -> None:
    """The check above would catch a Checkpoints that wrote states too early."""

    class Eager(Checkpoints):
        def emit_ready(self, lowest_unresolved: int | None) -> None:
            super().emit_ready(None)

    model = Model(("ra", "s"))
    model.cp = Eager(model.on_write)
    model.step("ra")
    with pytest.raises(AssertionError, match="covers unresolved records"):
        model.step("s")  # written at once, while record 0 is still buffered
