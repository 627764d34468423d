"""STATE that never runs ahead of delivery.

Every record gets a sequence number as it arrives; a STATE message is remembered with the
number of records that came before it. It may be emitted once every record before it is
resolved (delivered to LinkedIn or rejected with a reason), i.e. once the lowest
unresolved sequence number (in a sink's buffer or in a batch in flight) is past its mark.
Only the newest emittable state is written: it supersedes the older ones.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable
from typing import Any


class Checkpoints:
    def __init__(self, write: Callable[[dict[str, Any]], None]) -> None:
        self._write = write
        self._pending: deque[tuple[int, dict[str, Any]]] = deque()
        self._lock = threading.Lock()
        self._next_seq = 0
        self.last_written: dict[str, Any] | None = None
        self.closed = False  # set on a fatal error: nothing more is written

    def next_seq(self) -> int:
        seq = self._next_seq
        self._next_seq = seq + 1
        return seq

    def remember(self, state: dict[str, Any]) -> None:
        """A STATE message arrived after the records numbered so far."""
        with self._lock:
            self._pending.append((self._next_seq, copy.deepcopy(state)))

    def emit_ready(self, lowest_unresolved: int | None) -> None:
        """Write the newest state whose records are all resolved."""
        ready = None
        with self._lock:
            while self._pending and (
                lowest_unresolved is None or self._pending[0][0] <= lowest_unresolved
            ):
                ready = self._pending.popleft()[1]
        if ready is not None:
            self.write(ready)

    def write(self, state: dict[str, Any]) -> None:
        if self.closed or state == self.last_written:
            return
        self._write(state)
        self.last_written = state

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
