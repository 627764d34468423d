"""A batch of records -> events for each rule, in one pass.

Mapping a whole batch at once (rather than record by record as records arrive) keeps the
per-record path short and lets each event be JSON-encoded once, straight into the bytes
that go into LinkedIn's request body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from target_linkedin_capi.events.mapper import EventMapper, Rejection
from target_linkedin_capi.report.facts import event_facts

_encode_event = msgspec.json.Encoder().encode


@dataclass
class MappedBatch:
    """What became of a batch of records, per record index and mapper index."""

    # One JSON-encoded event per element, with (record index, mapper index, event id).
    events: list[bytes] = field(default_factory=list)
    origins: list[tuple[int, int, str | None]] = field(default_factory=list)
    # (record index, mapper index, reason, field, message, event id)
    rejections: list[tuple[int, int, str, str | None, str, str | None]] = field(
        default_factory=list
    )
    notes: list[dict[str, int]] = field(default_factory=list)  # per mapper
    # Per event, for the run report: what it carried (see report/facts.py).
    facts: list[tuple[int, str | None, str | None, int]] = field(default_factory=list)


def map_batch(mappers: Sequence[EventMapper], records: Sequence[dict[str, Any]]) -> MappedBatch:
    """Map every record with every mapper."""
    out = MappedBatch()
    for mapper in mappers:
        mapper.notes.clear()
    for index, record in enumerate(records):
        for mapper_index, mapper in enumerate(mappers):
            result = mapper.map(record)
            if isinstance(result, Rejection):
                out.rejections.append(
                    (index, mapper_index, result.reason, result.field, result.message,
                     mapper.event_id_of(record))
                )  # fmt: skip
                continue
            out.events.append(_encode_event(result))
            out.facts.append(event_facts(result))
            out.origins.append((index, mapper_index, result.get("eventId")))
    out.notes = [dict(mapper.notes) for mapper in mappers]
    return out
