"""What happened to every record: counters per rule, the rejected-records file, dry-run output.

Shared by the main thread (local rejections) and the delivery threads (LinkedIn's answers),
so every method takes the lock.

A rejected line holds the stream, rule, reason code, a message written by the target (or
LinkedIn's, with echoed values redacted), the canonical field concerned, the record's key
values and its event id; no other value of the record. Key values (and event ids other than
the target's own `k-...`) are written as they are, so the operator can find the row, or as
HMAC-SHA-256 under `rejected_records_mask_secret` when `rejected_records_mask_keys` is on.
Without masking, a value that looks like an email is withheld rather than written.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from target_linkedin_capi.report.files import private_file

logger = logging.getLogger(__name__)

# Anchored at a token's start: without the look-behind, a long token with no `@` is
# rescanned from every position (quadratic time on a hostile message).
_EMAILISH = re.compile(r"(?<![^\s@\"'])[^\s@\"']+@[^\s@\"']+")
# The id the target derives from the stream and key (see EventMapper.derived_event_id): a
# hash already, and the same in every run, so it is written as it is.
_DERIVED_EVENT_ID = re.compile(r"^k-[0-9a-f]{40}$")
# Written instead of an unmasked key value or event id that looks like an email address.
WITHHELD = "<withheld: looks like an email; see rejected_records_mask_keys>"
# Shorter values of a record are not searched for in messages: they would match everywhere.
_MIN_SCRUBBED_LENGTH = 4


def key_text(value: Any) -> str:
    """The text of a key value that is HMAC'd: what PostgreSQL's `column::text` gives.

    Text and uuid keys are their string; integers `str(int)`; numerics arrive as Decimal
    (the SDK parses JSON numbers with a fraction so) and `str(Decimal)` keeps their digits
    as written (`42.50`); booleans `true`/`false`. Anything else: its compact JSON.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def hmac_hex(secret: str, value: Any) -> str:
    """HMAC-SHA-256 (hex) of the value's `key_text` under `secret`, both UTF-8."""
    text = key_text(value).encode("utf-8", "surrogatepass")
    return hmac.new(secret.encode("utf-8", "surrogatepass"), text, hashlib.sha256).hexdigest()


def mask_value(value: Any, secret: str | None = None) -> Any:
    """A key value (or event id) as the rejected file holds it.

    With a secret: its HMAC. Without: the value as it is, except that a value that looks
    like an email address is withheld (the file must never hold a raw email).
    """
    if value is None:
        return None
    if secret is not None:
        return hmac_hex(secret, value)
    if isinstance(value, bool | int | float | str):
        return WITHHELD if isinstance(value, str) and "@" in value else value
    text = key_text(value)
    return WITHHELD if "@" in text else text


def mask_key(key: Mapping[str, Any], secret: str | None = None) -> dict[str, Any]:
    """Key properties as the rejected file holds them, value by value (see `mask_value`).

    Callers that hand a key to `RunReport.reject` pass it raw: the report masks it with the
    run's secret.
    """
    return {name: mask_value(value, secret) for name, value in key.items()}


def mask_event_id(event_id: str | None, secret: str | None = None) -> str | None:
    """The target's own derived id as it is; any other id is a value of the record."""
    if event_id is not None and _DERIVED_EVENT_ID.match(event_id):
        return event_id
    return mask_value(event_id, secret)


@dataclass
class RuleTally:
    received: int = 0  # records routed to the rule
    sent: int = 0  # events LinkedIn accepted (or, in a dry run, would have been sent)
    rejected: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)  # identifiers dropped, etc.


class JsonLines:
    """An append-only JSONL file, opened on first write (0600, see files.py), thread-safe."""

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
                self._file = private_file(self.path)
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

    def __init__(self, rejected_records_path: str | None, mask_secret: str | None = None) -> None:
        self._lock = threading.Lock()
        self.rules: dict[str, RuleTally] = {}
        self.records_received = 0
        self.records_rejected_everywhere = 0
        self.rejected_file = JsonLines(rejected_records_path)
        self._mask_secret = mask_secret  # set: key values and event ids written as HMACs

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
        if self.rejected_file.path is None:
            return
        secret = self._mask_secret
        self.rejected_file.write(
            {
                "stream": stream,
                "rule": rule,
                "reason": reason,
                "message": self._scrub(message, key, event_id),
                "field": field,
                "key": mask_key(key, secret),
                "event_id": mask_event_id(event_id, secret),
                "source": source,
            }
        )

    def _scrub(self, message: str, key: Mapping[str, Any], event_id: str | None) -> str:
        """Messages are written without record values; this catches any that slipped in.

        An email-like text is always redacted; with masking on, so is the text of any key
        value or event id the line masks (a message must not undo the masking).
        """
        message = _EMAILISH.sub("<redacted>", message)
        if self._mask_secret is None:
            return message
        values = [key_text(value) for value in key.values() if value is not None]
        if event_id is not None and not _DERIVED_EVENT_ID.match(event_id):
            values.append(event_id)
        for text in sorted(values, key=len, reverse=True):
            if len(text) >= _MIN_SCRUBBED_LENGTH and text in message:
                message = message.replace(text, "<redacted>")
        return message

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
