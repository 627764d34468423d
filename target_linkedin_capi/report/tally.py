"""What happened to every record: counters per rule, the summary line, the rejected-records and
dry-run files.

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
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from operator import attrgetter
from pathlib import Path
from typing import IO, Any

from target_linkedin_capi.report.facts import SHORT_NAMES, FactTotals
from target_linkedin_capi.report.files import private_file

logger = logging.getLogger(__name__)

_RULE_AND_STREAM = attrgetter("rule", "stream")

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

    Callers that hand a key to `RunTally.reject` pass it raw: the report masks it with the
    run's secret.
    """
    return {name: mask_value(value, secret) for name, value in key.items()}


def mask_event_id(event_id: str | None, secret: str | None = None) -> str | None:
    """The target's own derived id as it is unless keys are masked; any other id is a value
    of the record.

    A derived id is an unkeyed hash of the stream and the key: with masking on it is
    HMAC'd like the key itself, or anyone who can guess keys (emails, small numbers) could
    recompute it.
    """
    if event_id is not None and secret is None and _DERIVED_EVENT_ID.match(event_id):
        return event_id
    return mask_value(event_id, secret)


@dataclass
class RuleTally:
    """One rule's counts. What the words mean (they hold after a fatal error too):

    - `routed`: records routed to the rule (mapped for it);
    - `out`: events put in a request, counted once at their first request (in a dry run:
      written to the dry-run file); `sent` is `out` minus the events LinkedIn refused;
    - `accepted`: events LinkedIn answered 2xx for (never in a dry run), so accepted <= sent;
      sent - accepted are events whose request got no answer before the run stopped;
    - `rejected`: by reason, locally or by LinkedIn;
    - `skipped_already_sent`: events not sent because the delivery ledger holds them (LinkedIn
      accepted them before, in this run or an earlier one); never in the rejected file;
    - `not_deduplicated`: events without an eventId, sent without asking the ledger;
    - received = sent + rejected + skipped_already_sent: records whose outcome was reached.
      After a fatal error, routed - received records were never sent (their batch stopped).
    """

    routed: int = 0
    out: int = 0
    accepted: int = 0
    linkedin_rejected: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)  # identifiers dropped, etc.
    skipped_already_sent: int = 0
    not_deduplicated: int = 0
    streams: set[str] = field(default_factory=set)
    facts: FactTotals = field(default_factory=FactTotals)  # of the accepted events

    @property
    def sent(self) -> int:
        return self.out - self.linkedin_rejected

    @property
    def received(self) -> int:
        return self.sent + sum(self.rejected.values()) + self.skipped_already_sent


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


class RunTally:
    """Counts per rule and per stream, and the rejected-records file."""

    def __init__(
        self,
        rejected_records_path: str | None,
        mask_secret: str | None = None,
        *,
        dry_run: bool = False,
    ) -> None:
        self._lock = threading.Lock()
        self.rules: dict[str, RuleTally] = {}
        self.records_received = 0
        self.records_rejected_everywhere = 0
        self.rejected_file = JsonLines(rejected_records_path)
        self._mask_secret = mask_secret  # set: key values and event ids written as HMACs
        # Tells this run's lines in the rejected file from other runs' (it is appended to).
        self.run_id = uuid.uuid4().hex
        self.dry_run = dry_run
        self.started_at = datetime.now(timezone.utc)
        self.started_monotonic = time.monotonic()
        self.on_accepted: Callable[[], None] | None = None  # the progress line's clock

    def tally(self, rule: str) -> RuleTally:
        with self._lock:
            return self.rules.setdefault(rule, RuleTally())

    def received(self, rule: str, count: int = 1) -> None:
        """`count` records were routed to `rule` (mapped for it)."""
        with self._lock:
            self.rules.setdefault(rule, RuleTally()).routed += count

    def add_notes(self, rule: str, notes: Mapping[str, int]) -> None:
        with self._lock:
            self.rules.setdefault(rule, RuleTally()).notes.update(notes)

    def sent(self, rule_counts: Mapping[str, int]) -> None:
        """Events that went out and were accepted, by rule count (without their items)."""
        with self._lock:
            for rule, count in rule_counts.items():
                tally = self.rules.setdefault(rule, RuleTally())
                tally.out += count
                if not self.dry_run:
                    tally.accepted += count

    def skipped_already_sent(self, rule_counts: Mapping[str, int]) -> None:
        """Events the ledger says LinkedIn accepted before: not sent, by rule."""
        with self._lock:
            for rule, count in rule_counts.items():
                self.rules.setdefault(rule, RuleTally()).skipped_already_sent += count

    def not_deduplicated(self, rule_counts: Mapping[str, int]) -> None:
        """Events without an eventId (the ledger cannot know them), by rule."""
        with self._lock:
            for rule, count in rule_counts.items():
                self.rules.setdefault(rule, RuleTally()).not_deduplicated += count

    def in_request(self, items: Sequence[Any]) -> None:
        """Delivery items (rule, stream) put in their first request: they are now sent."""
        # Counted in C (a request holds up to 5,000 events of one or two rules).
        counts = Counter(map(_RULE_AND_STREAM, items))
        with self._lock:
            rules = self.rules
            for (rule, stream), count in counts.items():
                tally = rules.get(rule)
                if tally is None:
                    tally = rules[rule] = RuleTally()
                tally.out += count
                tally.streams.add(stream)

    def accepted(self, items: Sequence[Any]) -> None:
        """LinkedIn answered 2xx for these items (in a dry run: they were written out)."""
        rules = {item.rule for item in items} if items else set()
        if len(rules) == 1:  # the usual case: no grouping needed
            by_rule: dict[str, list[Any]] = {rules.pop(): [item.facts for item in items]}
        else:
            by_rule = {}
            for item in items:
                by_rule.setdefault(item.rule, []).append(item.facts)
        with self._lock:
            for rule, facts in by_rule.items():
                tally = self.rules.setdefault(rule, RuleTally())
                if not self.dry_run:
                    tally.accepted += len(facts)
                tally.facts.add(facts)
        if self.on_accepted is not None:
            self.on_accepted()

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
            tally = self.rules.setdefault(rule, RuleTally())
            tally.rejected[reason] += 1
            tally.streams.add(stream)
            if source == "linkedin":  # it was sent, and counted so at its first request
                tally.linkedin_rejected += 1
        if self.rejected_file.path is None:
            return
        secret = self._mask_secret
        line: dict[str, Any] = {
            "stream": stream,
            "rule": rule,
            "reason": reason,
            "message": self._scrub(message, key, event_id),
            "field": field,
            "key": mask_key(key, secret),
            "event_id": mask_event_id(event_id, secret),
            "source": source,
            "run_id": self.run_id,
            "rejected_at": utc_text(datetime.now(timezone.utc)),
        }
        if self.dry_run:
            line["dry_run"] = True
        self.rejected_file.write(line)

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
            return sum(t.routed for t in self.rules.values())

    def totals(self) -> dict[str, int]:
        """Over all rules, for progress lines."""
        with self._lock:
            tallies = list(self.rules.values())
            sent = sum(t.sent for t in tallies)
            accepted = sum(t.accepted for t in tallies)
            rejected = sum(sum(t.rejected.values()) for t in tallies)
            # In a request, no answer yet (in a dry run nothing waits for an answer).
            in_flight = 0 if self.dry_run else sent - accepted
            return {"sent": sent, "accepted": accepted, "rejected": rejected,
                    "in_flight": in_flight}  # fmt: skip

    def summary_lines(self, *, dry_run: bool) -> list[str]:
        sent_word = "would send" if dry_run else "sent"
        lines = []
        with self._lock:
            for rule, tally in self.rules.items():
                rejected = sum(tally.rejected.values())
                reasons = ", ".join(f"{r} {n}" for r, n in tally.rejected.most_common())
                notes = ", ".join(f"{r} {n}" for r, n in tally.notes.most_common())
                line = (
                    f"{rule}: received {tally.routed}, {sent_word} {tally.sent}, "
                    f"rejected {rejected}" + (f" ({reasons})" if reasons else "")
                )
                if tally.skipped_already_sent:
                    skip_word = "would skip" if dry_run else "skipped"
                    line += f", {skip_word} as already sent {tally.skipped_already_sent}"
                if not dry_run:
                    line += f", accepted by LinkedIn {tally.accepted}"
                if tally.not_deduplicated:
                    line += f", without eventId (not deduplicated) {tally.not_deduplicated}"
                if notes:  # counted for sent events only, never for rejected records
                    line += f"; {'would be sent' if dry_run else 'sent'} with changes: {notes}"
                words = coverage_words(tally.facts)
                if words:
                    line += f"; identifiers: {words}"
                values = ", ".join(f"{c} {v}" for c, v in sorted(tally.facts.values.items()))
                if values:
                    line += f"; value {values}"
                lines.append(line)
        return lines


def coverage_words(facts: FactTotals) -> str:
    """`email 93%, li_fat_id 41%, names 60%`: share of the accepted events carrying each."""
    total = sum(facts.masks.values())
    if not total:
        return ""
    return ", ".join(
        f"{SHORT_NAMES[key]} {count * 100 // total}%"
        for key, count in facts.coverage().items()
        if count
    )


def utc_text(moment: datetime) -> str:
    """ISO-8601 in UTC with a Z, to the millisecond."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
