"""What happened to every record: counters per rule, the rejected-records file, dry-run output.

Shared by the main thread (local rejections) and the delivery threads (LinkedIn's answers),
so every method takes the lock. Nothing written here holds a raw email, name, IP or token.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)

_QUOTED = re.compile(r'"([^"]*)"')
_EMAILISH = re.compile(r"[^\s@\"']+@[^\s@\"']+")
_ENUM_LIKE = re.compile(r"^[A-Z0-9_]+$")


def redact_linkedin_message(message: str) -> str:
    """LinkedIn echoes submitted values in its errors: keep enum symbols, mask the rest."""
    message = _EMAILISH.sub("<redacted>", message)
    return _QUOTED.sub(
        lambda m: m.group(0) if _ENUM_LIKE.match(m.group(1)) else '"<redacted>"', message
    )


def mask_value(value: Any) -> Any:
    """A value for reports: anything that looks like an email is hashed."""
    if isinstance(value, str) and "@" in value:
        return "sha256:" + hashlib.sha256(value.strip().lower().encode()).hexdigest()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def mask_key(key: Mapping[str, Any]) -> dict[str, Any]:
    """Key properties for reports, masked value by value."""
    return {name: mask_value(value) for name, value in key.items()}


@dataclass
class RuleTally:
    received: int = 0  # records routed to the rule
    sent: int = 0  # events LinkedIn accepted (or, in a dry run, would have been sent)
    rejected: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)  # identifiers dropped, etc.


class JsonLines:
    """An append-only JSONL file, opened on first write, safe across threads."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self._file: IO[str] | None = None
        self._lock = threading.Lock()

    def write(self, line: Mapping[str, Any]) -> None:
        if self.path is None:
            return
        text = json.dumps(line, default=str, separators=(",", ":"))
        with self._lock:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", encoding="utf-8")
            self._file.write(text + "\n")

    def flush(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class RunReport:
    """Counts per rule and per stream, and the rejected-records file."""

    def __init__(self, rejected_records_path: str | None) -> None:
        self._lock = threading.Lock()
        self.rules: dict[str, RuleTally] = {}
        self.records_received = 0
        self.records_rejected_everywhere = 0
        self.rejected_file = JsonLines(rejected_records_path)

    def tally(self, rule: str) -> RuleTally:
        with self._lock:
            return self.rules.setdefault(rule, RuleTally())

    def received(self, rule: str, count: int = 1) -> None:
        with self._lock:
            self.rules.setdefault(rule, RuleTally()).received += count

    def add_notes(self, rule: str, notes: Mapping[str, int]) -> None:
        with self._lock:
            self.rules.setdefault(rule, RuleTally()).notes.update(notes)

    def sent(self, rule_counts: Mapping[str, int]) -> None:
        with self._lock:
            for rule, count in rule_counts.items():
                self.rules.setdefault(rule, RuleTally()).sent += count

    def reject(
        self,
        *,
        stream: str,
        rule: str,
        reason: str,
        message: str,
        field: str | None,
        key: Mapping[str, Any],
        event_id: str | None,
        source: str,
    ) -> None:
        with self._lock:
            self.rules.setdefault(rule, RuleTally()).rejected[reason] += 1
        self.rejected_file.write(
            {
                "stream": stream,
                "rule": rule,
                "reason": reason,
                "message": message,
                "field": field,
                "key": dict(key),
                "event_id": mask_value(event_id),  # a key-derived id may be an email
                "source": source,
            }
        )

    @property
    def total_rejected(self) -> int:
        with self._lock:
            return sum(sum(t.rejected.values()) for t in self.rules.values())

    @property
    def total_routed(self) -> int:
        with self._lock:
            return sum(t.received for t in self.rules.values())

    def summary_lines(self, *, dry_run: bool) -> list[str]:
        sent_word = "would send" if dry_run else "sent"
        lines = []
        with self._lock:
            for rule, tally in self.rules.items():
                rejected = sum(tally.rejected.values())
                reasons = ", ".join(f"{r} {n}" for r, n in tally.rejected.most_common())
                notes = ", ".join(f"{r} {n}" for r, n in tally.notes.most_common())
                line = (
                    f"{rule}: received {tally.received}, {sent_word} {tally.sent}, "
                    f"rejected {rejected}" + (f" ({reasons})" if reasons else "")
                )
                if notes:  # counted for sent events only, never for rejected records
                    line += f"; {'would be sent' if dry_run else 'sent'} with changes: {notes}"
                lines.append(line)
        return lines
