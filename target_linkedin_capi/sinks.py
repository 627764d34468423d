"""The sink: records of one stream -> events for each of its rules -> batches for delivery."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

import fastjsonschema
from singer_sdk import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator, JSONSchemaValidator

from target_linkedin_capi.delivery.dispatcher import Batch, Item
from target_linkedin_capi.errors import FatalError
from target_linkedin_capi.events.batches import MappedBatch, map_batch
from target_linkedin_capi.events.mapper import EventMapper, mapping_problem
from target_linkedin_capi.report.run_report import mask_key

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from target_linkedin_capi.target import TargetLinkedInCapi

logger = logging.getLogger(__name__)


class RecordInvalid(ValueError):
    """A record that does not match its stream's schema (message holds no values)."""


class CompiledValidator(BaseJSONSchemaValidator):
    """JSON-schema validation compiled to Python code by fastjsonschema.

    Several times faster than the SDK's default. Its errors name the failing path and rule
    but never echo the value, so no personal data reaches logs or the rejected file.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        super().__init__(schema)
        # Formats are not checked, like the SDK's default validator.
        self._validate = fastjsonschema.compile(schema, use_formats=False)

    @override
    def validate(self, record: dict[str, Any]) -> None:
        try:
            self._validate(record)
        except fastjsonschema.JsonSchemaValueException as exc:
            path = ".".join(str(part) for part in exc.path[1:]) or "record"
            raise RecordInvalid(
                f"{path} must match its schema ({exc.rule} {exc.rule_definition!r})"
            ) from None


class ConversionSink(BatchSink):
    """Buffers one stream's records; each batch becomes one event per record and rule."""

    MAX_SIZE_DEFAULT = 5000

    def __init__(
        self,
        target: TargetLinkedInCapi,
        stream_name: str,
        schema: dict,
        key_properties: list[str] | None,
    ) -> None:
        # The base Sink keeps no reference to its target; the startup work needs one.
        self.target = target
        super().__init__(target, stream_name, schema, key_properties)
        self.report = target.run.report
        self.checkpoints = target.run.checkpoints
        self.mappers: tuple[EventMapper, ...] = ()
        self._records: list[dict[str, Any]] = []
        self._seqs: list[int] = []
        # Read per record, so computed once.
        self.max_batch_records = self.max_size
        self.key_properties_tuple = tuple(self.key_properties)
        self.overrides_preprocess = type(self).preprocess_record is not BatchSink.preprocess_record

    @override
    def get_validator(self) -> BaseJSONSchemaValidator | None:
        if self.config.get("validate_records") is False:
            return None
        try:
            return CompiledValidator(self.schema)
        except (fastjsonschema.JsonSchemaDefinitionException, TypeError, ValueError):
            # A schema fastjsonschema cannot compile still gets validated, more slowly.
            return JSONSchemaValidator(self.schema)

    @override
    def setup(self) -> None:
        # The stream's rules were made to match the config when its SCHEMA arrived; here
        # each gets the mapper that builds its events from this stream's records.
        resolved = self.target.run.rules_for_stream(self.stream_name)
        properties = self.schema.get("properties")
        # JSON Schema allows undeclared properties unless additionalProperties is false, and
        # the SDK passes them on: only a closed schema rules a same-named property out.
        open_schema = properties is None or self.schema.get("additionalProperties") is not False
        for spec, _rule in resolved:
            # A mapping to a column the stream lacks would send every event without that
            # field: stop before anything of this stream is sent.
            problem = mapping_problem(spec, self.stream_name, properties)
            if problem is not None:
                raise FatalError(problem)
        mappers = []
        for spec, rule in resolved:
            mapper = EventMapper(
                spec,
                rule.urn,
                rule.label,
                self.stream_name,
                self.key_properties_tuple,
                self.target.run.settings.api_version_number,
                Counter(),
                schema_properties=None if open_schema else frozenset(properties),
            )
            mappers.append(mapper)
            self.report.tally(rule.label)  # listed in the summary even if nothing arrives
            if mapper.api_version >= 202609 and (
                "oracle_moat_id" in spec.field_mappings
                or "oracle_moat_id" in spec.field_defaults
                or "oracle_moat_id" in (properties or {})
            ):
                self.logger.warning(
                    "%s maps oracle_moat_id: LinkedIn's 2026 schema no longer lists "
                    "ORACLE_MOAT_ID. Should LinkedIn refuse it, the events that carry it are "
                    "rejected with LinkedIn's reason (see the rejected-records file).",
                    rule.label,
                )
        self.mappers = tuple(mappers)

    def validate_record(self, record: dict[str, Any]) -> str | None:
        """None when the record matches its schema, else why (no values)."""
        validator = self._validator
        if validator is None:
            return None
        try:
            validator.validate(record)
        except RecordInvalid as exc:
            return str(exc)
        except Exception as exc:  # noqa: BLE001 - the SDK validator's InvalidRecord
            return f"record must match its schema ({type(exc).__name__})"
        return None

    def key_of(self, record: dict[str, Any]) -> dict[str, Any]:
        return {name: record.get(name) for name in self.key_properties_tuple}

    def reject_invalid(self, record: dict[str, Any], problem: str) -> None:
        """A record that failed schema validation: rejected for every rule, nothing sent."""
        self.checkpoints.next_seq()
        key = mask_key(self.key_of(record))
        for mapper in self.mappers:
            self.report.received(mapper.label)
            self.report.reject(
                stream=self.stream_name, rule=mapper.label, reason="schema_invalid",
                message=problem, field=None, key=key, event_id=_safe_event_id(mapper, record),
                source="local",
            )  # fmt: skip

    @override
    def process_record(self, record: dict, context: dict) -> None:
        # Only buffered here: the batch is mapped as a whole (see batches.py).
        self._records.append(record)
        self._seqs.append(self.checkpoints.next_seq())

    @property
    def lowest_buffered_seq(self) -> int | None:
        return self._seqs[0] if self._seqs else None

    @override
    def process_batch(self, context: dict) -> None:
        # One batch is one unit of work: mapped here in one pass, then delivered on the
        # dispatcher's threads while the target reads on. STATE waits for it (see
        # checkpoints.py).
        records, seqs = self._records, self._seqs
        self._records, self._seqs = [], []
        if not records:
            return
        mapped = map_batch(self.mappers, records)
        self.target.run.dispatcher.submit(
            Batch(min_seq=seqs[0], resolve=lambda: self._resolve(mapped, records))
        )

    def _resolve(self, mapped: MappedBatch, records: list[dict[str, Any]]) -> list[Item]:
        """Runs on a delivery thread: report the batch's local outcome, return its events."""
        labels = [mapper.label for mapper in self.mappers]
        for label in labels:
            self.report.received(label, len(records))
        for index, mapper_index, reason, field, message, event_id in mapped.rejections:
            self.report.reject(
                stream=self.stream_name, rule=labels[mapper_index], reason=reason,
                message=message, field=field, key=mask_key(self.key_of(records[index])),
                event_id=event_id, source="local",
            )  # fmt: skip
        for label, notes in zip(labels, mapped.notes, strict=True):
            self.report.add_notes(label, notes)
        return [
            Item(
                body, event_id, self.stream_name, labels[mapper_index], self.key_of(records[index])
            )
            for body, (index, mapper_index, event_id) in zip(
                mapped.events, mapped.origins, strict=True
            )
        ]

    @override
    def _after_process_record(self, context: dict) -> None:
        # The SDK logs every record's context at DEBUG; per-record logging costs time and
        # is the kind of line that leaks data. Nothing to do here.
        return


def _safe_event_id(mapper: EventMapper, record: dict[str, Any]) -> str | None:
    """The record's event id for the report; a record that broke its schema may lack one."""
    try:
        return mapper.event_id_of(record)
    except (TypeError, ValueError):
        return None
