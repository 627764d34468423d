"""The sink: records of one stream -> events for each of its rules -> batches for delivery."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

import fastjsonschema
from singer_sdk import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator, JSONSchemaValidator

from target_linkedin_capi.delivery import Item
from target_linkedin_capi.mapping import EventMapper, Rejection
from target_linkedin_capi.report import RuleTally, mask_key

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


def _safe_event_id(mapper: EventMapper, record: dict[str, Any]) -> str | None:
    """The record's event id for the report; a record that broke its schema may not have one."""
    try:
        return mapper.event_id_of(record)
    except (TypeError, ValueError):
        return None


class ConversionSink(BatchSink):
    """Maps each record to one event per rule that its stream feeds, and batches them."""

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
        self.mappers: list[tuple[EventMapper, RuleTally]] = []
        self._buffer: list[Item] = []
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
        # First SCHEMA of the stream: make sure its rules exist in LinkedIn (once per run,
        # guarded), then compile one mapper per rule.
        resolved = self.target.run.rules_for_stream(self.stream_name)
        properties = self.schema.get("properties")
        # JSON Schema allows undeclared properties unless additionalProperties is false, and
        # the SDK passes them on: only a closed schema rules a same-named property out.
        open_schema = properties is None or self.schema.get("additionalProperties") is not False
        self.mappers = []
        for spec, rule in resolved:
            tally = self.report.tally(rule.label)
            mapper = EventMapper(
                spec,
                rule.urn,
                rule.label,
                self.stream_name,
                self.key_properties,
                self.target.run.settings.api_version_number,
                tally.notes,
                schema_properties=None if open_schema else frozenset(properties),
            )
            self.mappers.append((mapper, tally))
            if mapper.reads("oracle_moat_id") and mapper.api_version >= 202609:
                self.logger.warning(
                    "%s maps oracle_moat_id: LinkedIn's 2026 schema no longer lists "
                    "ORACLE_MOAT_ID. Should LinkedIn refuse it, the events that carry it are "
                    "rejected with LinkedIn's reason (see the rejected-records file).",
                    rule.label,
                )

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

    def reject_invalid(self, record: dict[str, Any], problem: str) -> None:
        """A record that failed schema validation: rejected for every rule, nothing sent."""
        self.checkpoints.next_seq()
        key = mask_key({name: record.get(name) for name in self.key_properties})
        for mapper, tally in self.mappers:
            tally.received += 1
            self.report.reject(
                stream=self.stream_name, rule=mapper.label, reason="schema_invalid",
                message=problem, field=None, key=key, event_id=_safe_event_id(mapper, record),
                source="local",
            )  # fmt: skip

    @override
    def process_record(self, record: dict, context: dict) -> None:
        seq = self.checkpoints.next_seq()
        key = {name: record.get(name) for name in self._key_properties}
        for mapper, tally in self.mappers:
            # `received` is only ever touched here, on the main thread: no lock needed.
            tally.received += 1
            result = mapper.map(record)
            if result.__class__ is Rejection:
                self.report.reject(
                    stream=self.stream_name, rule=mapper.label, reason=result.reason,
                    message=result.message, field=result.field, key=mask_key(key),
                    event_id=mapper.event_id_of(record), source="local",
                )  # fmt: skip
                continue
            self._buffer.append(Item(result, seq, self.stream_name, mapper.label, key))

    @property
    def lowest_buffered_seq(self) -> int | None:
        return self._buffer[0].seq if self._buffer else None

    @override
    def process_batch(self, context: dict) -> None:
        # One batch is one unit of work; it is delivered on the dispatcher's threads while
        # the target reads on. STATE waits for it (see checkpoints.py).
        items, self._buffer = self._buffer, []
        self.target.run.dispatcher.submit(items)

    @override
    def _after_process_record(self, context: dict) -> None:
        # The SDK logs every record's context at DEBUG; per-record logging costs time and
        # is the kind of line that leaks data. Nothing to do here.
        return
