"""Requests, retries and throttling answers of this run, counted where HTTP happens.

One process runs one target, so the counters are module-level: the transport
(linkedin/transport.py) increments them where requests, retries and 429s happen, without
being handed an object. `Run` resets them when it starts.
"""

from __future__ import annotations

import threading


class HttpStats:
    """Thread-safe counters: the delivery threads share them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.throttled = 0

    def reset(self) -> None:
        with self._lock:
            self.requests = self.retries = self.throttled = 0

    def request(self) -> None:
        """One HTTP request is about to be made (every attempt counts)."""
        with self._lock:
            self.requests += 1

    def throttled_answer(self) -> None:
        """LinkedIn answered 429: it is throttling this token."""
        with self._lock:
            self.throttled += 1

    def retry(self) -> None:
        """A failed attempt is about to be tried again."""
        with self._lock:
            self.retries += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"requests": self.requests, "retries": self.retries, "throttled": self.throttled}


http_stats = HttpStats()
