"""Fault injection: scripted failures for retry, timeout, re-auth and bisection tests.

A fault matches requests by path prefix and optional method; ``after`` skips the first N
matching requests and ``times`` bounds how often it applies (0 = forever). Instances are not
thread-safe on their own: :class:`~.state.State` guards them with its lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import errors

REQUEST_KINDS = ("status", "reset", "delay", "expire_token")
REJECT_STYLES = ("422", "400", "no_index")
_REJECT_MESSAGE = "rejected by emulator fault"


@dataclass
class Fault:
    """One parsed fault; ``spec`` keeps the original dict for the request log."""

    kind: str
    spec: dict[str, Any]
    path: str = "/rest"
    method: str | None = None
    times: int = 1
    after: int = 0
    status: int = 503
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reject_ids: frozenset[str] = frozenset()
    style: str = "422"
    seen: int = 0
    applied: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Path-prefix and method match (no counting)."""
        return path.startswith(self.path) and (self.method is None or self.method == method)

    def take(self) -> bool:
        """Count one matching request; True when the fault applies to it."""
        self.seen += 1
        if self.seen <= self.after or (self.times and self.applied >= self.times):
            return False
        self.applied += 1
        return True

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable view including the counters."""
        return {**self.spec, "seen": self.seen, "applied": self.applied}


def _int(spec: dict[str, Any], key: str, default: int) -> int:
    value = spec.get(key, default)
    if type(value) is not int or value < 0:
        raise ValueError(f"fault {key!r} must be a non-negative integer, got {value!r}")
    return value


def parse_fault(spec: Any) -> Fault:
    """Build a Fault from its dict form; raises ValueError on anything unrecognised."""
    if not isinstance(spec, dict):
        raise ValueError("a fault must be a JSON object")
    action = spec.get("action")
    if action is None:
        # Shorthand: the action's keys given at the top level.
        action = {
            k: spec[k]
            for k in ("status", "body", "headers", "reset", "delay", "expire_token",
                      "reject_event_ids", "style")
            if k in spec
        }  # fmt: skip
    if action == "reset":
        action = {"reset": True}
    if not isinstance(action, dict) or not action:
        raise ValueError(f"fault needs an action: {spec!r}")

    method = spec.get("method")
    common: dict[str, Any] = {
        "spec": dict(spec),
        "method": method.upper() if isinstance(method, str) else None,
        "times": _int(spec, "times", 1),
        "after": _int(spec, "after", 0),
    }
    path = spec.get("path")
    if path is not None and not isinstance(path, str):
        raise ValueError("fault 'path' must be a string")

    if "reject_event_ids" in action:
        ids = action["reject_event_ids"]
        style = str(action.get("style", spec.get("style", "422")))
        if not isinstance(ids, list) or style not in REJECT_STYLES:
            raise ValueError("reject_event_ids must be a list and style one of 422, 400, no_index")
        return Fault(
            kind="reject",
            path=path or "/rest/conversionEvents",
            reject_ids=frozenset(str(i) for i in ids),
            style=style,
            **common,
        )
    if action.get("reset"):
        return Fault(kind="reset", path=path or "/rest", **common)
    if "delay" in action:
        delay = action["delay"]
        if not isinstance(delay, (int, float)) or isinstance(delay, bool) or delay < 0:
            raise ValueError("fault 'delay' must be a non-negative number of seconds")
        return Fault(kind="delay", path=path or "/rest", delay=float(delay), **common)
    if action.get("expire_token"):
        return Fault(kind="expire_token", path=path or "/rest", **common)
    if "status" in action:
        status = action["status"]
        headers = action.get("headers") or {}
        if type(status) is not int or not 100 <= status <= 599 or not isinstance(headers, dict):
            raise ValueError("fault 'status' must be an HTTP status and 'headers' an object")
        body = action["body"] if "body" in action else errors.default_fault_body(status)
        return Fault(
            kind="status",
            path=path or "/rest",
            status=status,
            body=body,
            headers={str(k): str(v) for k, v in headers.items()},
            **common,
        )
    raise ValueError(f"unknown fault action: {action!r}")


class FaultBook:
    """Ordered faults; the first eligible one wins, but every matching fault counts the request."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Append a fault."""
        self._faults.append(fault)

    def clear(self) -> None:
        """Drop all faults."""
        self._faults.clear()

    def describe(self) -> list[dict[str, Any]]:
        """All faults with their counters."""
        return [f.describe() for f in self._faults]

    def take_request_fault(self, method: str, path: str) -> Fault | None:
        """The request-level fault (status/reset/delay/expire_token) to apply, if any."""
        chosen: Fault | None = None
        for fault in self._faults:
            if fault.kind != "reject" and fault.matches(method, path) and fault.take():
                chosen = chosen or fault
        return chosen

    def take_reject_fault(
        self, method: str, path: str, elements: Sequence[dict[str, Any]]
    ) -> tuple[Fault, list[int]] | None:
        """The event-rejection fault hitting this batch and the indices it rejects, if any."""
        chosen: tuple[Fault, list[int]] | None = None
        for fault in self._faults:
            if fault.kind != "reject" or not fault.matches(method, path):
                continue
            ids = fault.reject_ids
            indices = [i for i, el in enumerate(elements) if el.get("eventId") in ids]
            if indices and fault.take() and chosen is None:
                chosen = (fault, indices)
        return chosen


def reject_body(style: str, indices: Iterable[int], batch: bool) -> dict[str, Any]:
    """Response body for an event-rejection fault in the given style."""
    indices = list(indices)
    if style == "400":
        return errors.window_error(indices)
    if style == "no_index":
        return {"message": "Invalid conversion event", "status": 400}
    prefix = "Index: {}, " if batch else ""
    return errors.schema_error(
        f"{prefix.format(i)}ERROR :: /eventId :: {_REJECT_MESSAGE}\n" for i in indices
    )
