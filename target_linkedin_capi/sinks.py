"""The sink: records of one stream -> events for each of its rules -> batches for delivery."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

import fastjsonschema
import jsonschema
from referencing import Registry
from singer_sdk import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator
from singer_sdk.typing import DEFAULT_JSONSCHEMA_VALIDATOR

from target_linkedin_capi.delivery.dispatcher import Batch, Item
from target_linkedin_capi.errors import FatalError
from target_linkedin_capi.events.batches import MappedBatch, map_batch
from target_linkedin_capi.events.mapper import EventMapper, mapping_problem
from target_linkedin_capi.sdk_compat import SdkBatchSinkHooks

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from target_linkedin_capi.target import TargetLinkedInCapi

logger = logging.getLogger(__name__)


class RecordInvalid(ValueError):
    """A record that does not match its stream's schema (message holds no values)."""


class SchemaRefused(FatalError):
    """A stream's SCHEMA the target will not use; the message names the stream and why."""


# A tap's SCHEMA is untrusted input: bounded before anything (the SDK's deepcopy, the
# validator's code generator) recurses through it. Real tap schemas are a few levels deep
# and a few thousand entries (a 1,000-column table is about 4,000); compiling 100,000 took
# gigabytes.
MAX_SCHEMA_DEPTH = 64
MAX_SCHEMA_NODES = 20_000

# Keywords whose value is one subschema, a list of them, or a name -> subschema map; every
# other keyword's value is data (enum, const, default, ...) and is not walked as a schema.
_ONE_SUBSCHEMA = frozenset(
    {"additionalProperties", "additionalItems", "items", "not", "contains", "propertyNames",
     "if", "then", "else", "unevaluatedItems", "unevaluatedProperties"}
)  # fmt: skip
_SUBSCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems", "items"})
_SUBSCHEMA_MAPS = frozenset(
    {"properties", "patternProperties", "definitions", "$defs", "dependentSchemas",
     "dependencies"}
)  # fmt: skip
# Keywords whose check costs more than linear time on an untrusted value: regexes run in a
# backtracking engine (a tap's `^(a+)+$` hangs), `multipleOf` divides the number as it
# came (1e999990 builds a million-digit integer), `uniqueItems` compares items pairwise or
# by hashes a record can make collide. Formats are not checked, as by the SDK's default
# validator. None of them decides what LinkedIn gets: the normalisers bound every value.
_NOT_VALIDATED = frozenset({"pattern", "patternProperties", "format", "multipleOf", "uniqueItems"})


def check_schema(stream: str, schema: Any) -> None:
    """Refuse a SCHEMA nested too deeply, too large, or referring outside itself."""
    nodes = 0
    stack: list[tuple[Any, int]] = [(schema, 0)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if depth > MAX_SCHEMA_DEPTH:
            raise SchemaRefused(
                f"The SCHEMA of stream '{stream}' is nested more than {MAX_SCHEMA_DEPTH} "
                "levels deep, more than the target accepts: flatten the tap's schema for "
                "this stream (or select fewer nested columns)."
            )
        if nodes > MAX_SCHEMA_NODES:
            raise SchemaRefused(
                f"The SCHEMA of stream '{stream}' has more than {MAX_SCHEMA_NODES} entries, "
                "more than the target accepts: select fewer columns for this stream."
            )
        if isinstance(node, dict):
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)
    _check_refs(stream, schema)


def _subschemas(schema: dict[str, Any]) -> list[Any]:
    found: list[Any] = []
    for keyword, value in schema.items():
        if keyword in _ONE_SUBSCHEMA and isinstance(value, dict):
            found.append(value)
        elif keyword in _SUBSCHEMA_LISTS and isinstance(value, list):
            found.extend(value)
        elif keyword in _SUBSCHEMA_MAPS and isinstance(value, dict):
            found.extend(value.values())
    return found


def _check_refs(stream: str, schema: Any) -> None:
    # Only references inside the document: a remote one would be fetched over the network
    # (no timeout) and a file:// one read from disk.
    stack = [schema]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        ref = node.get("$ref")
        if ref is not None and not (isinstance(ref, str) and ref.startswith("#")):
            raise SchemaRefused(
                f"The SCHEMA of stream '{stream}' refers to another document ($ref that does "
                "not start with '#'). The target never fetches schemas from the network or "
                "disk: include the referenced definitions in the tap's schema."
            )
        stack.extend(_subschemas(node))


def validation_schema(schema: dict[str, Any], stream: str = "?") -> dict[str, Any]:
    """A copy of `schema` that is safe to evaluate on untrusted records.

    Checked as `check_schema` does, and without the keywords that are not validated
    (regexes, formats). Dropping patternProperties also lifts additionalProperties where
    both are given: a property the pattern allowed must not be refused for want of it.
    """
    check_schema(stream, schema)
    return _sanitized(schema)


def _sanitized(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for keyword, value in node.items():
        if keyword in _NOT_VALIDATED:
            continue
        if keyword == "additionalProperties" and "patternProperties" in node:
            continue
        if keyword in _ONE_SUBSCHEMA and isinstance(value, dict):
            result[keyword] = _sanitized(value)
        elif keyword in _SUBSCHEMA_LISTS and isinstance(value, list):
            result[keyword] = [_sanitized(item) for item in value]
        elif keyword in _SUBSCHEMA_MAPS and isinstance(value, dict):
            result[keyword] = {name: _sanitized(sub) for name, sub in value.items()}
        else:
            result[keyword] = value
    return result


def declared_names(schema: Any) -> frozenset[str]:
    """Every property name the schema declares, anywhere in it."""
    names: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        properties = node.get("properties")
        if isinstance(properties, dict):
            names.update(name for name in properties if isinstance(name, str))
        stack.extend(_subschemas(node))
    return frozenset(names)


def describe_path(parts: list[Any], declared: frozenset[str]) -> str:
    """A record path for messages: declared names only; anything else could be data."""
    path = ""
    for part in parts:
        text = str(part)
        if text in declared:
            path += f".{text}" if path else text
        elif isinstance(part, int) or text.isdigit():
            path += "[]"  # an array item (or an undeclared all-digit key)
        elif not path.endswith("<undeclared>"):  # an undeclared name may hold dots
            path += ".<undeclared>" if path else "<undeclared>"
    return path or "record"


def _rule_text(rule: Any, definition: Any) -> str:
    # The rule's definition comes from the schema, not the record; long ones (subschemas of
    # anyOf/not, long enums) would only clutter the message.
    text = repr(definition)
    return f"{rule} {text}" if len(text) <= 80 else str(rule)


class _NoRemoteRefs(Mapping[str, Callable[[str], Any]]):
    """fastjsonschema handlers for every URI scheme: each refuses to fetch anything.

    check_schema already refuses such references; this keeps the validator from reaching
    the network or disk should one slip through (fastjsonschema falls back to urlopen for
    any scheme without a handler).
    """

    def __contains__(self, scheme: object) -> bool:
        return True

    def __getitem__(self, scheme: str) -> Callable[[str], Any]:
        return self.refuse

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    @staticmethod
    def refuse(uri: str) -> Any:
        raise fastjsonschema.JsonSchemaDefinitionException("remote $ref refused")


class CompiledValidator(BaseJSONSchemaValidator):
    """JSON-schema validation compiled to Python code by fastjsonschema.

    Several times faster than the SDK's default. Its errors name the failing path (by the
    schema's declared names) and rule but never echo the value, so no personal data reaches
    logs or the rejected file.
    """

    def __init__(self, schema: dict[str, Any], stream: str = "?") -> None:
        super().__init__(schema)
        safe = validation_schema(schema, stream)
        self.declared = declared_names(safe)
        # Formats are not checked, like the SDK's default validator.
        self.compiled = fastjsonschema.compile(safe, handlers=_NoRemoteRefs(), use_formats=False)

    @override
    def validate(self, record: dict[str, Any]) -> None:
        try:
            self.compiled(record)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise RecordInvalid(self.problem(exc)) from None

    def problem(self, exc: fastjsonschema.JsonSchemaValueException) -> str:
        """What the compiled check found, by declared names and rule, never a value."""
        path = describe_path(exc.path[1:], self.declared)
        return f"{path} must match its schema ({_rule_text(exc.rule, exc.rule_definition)})"


class FallbackValidator(BaseJSONSchemaValidator):
    """The jsonschema library, for schemas fastjsonschema cannot compile.

    Same sanitised schema as CompiledValidator; an empty registry, so a reference is never
    retrieved (jsonschema otherwise fetches remote ones), and no format checks.
    """

    def __init__(self, schema: dict[str, Any], stream: str = "?") -> None:
        super().__init__(schema)
        safe = validation_schema(schema, stream)
        self.declared = declared_names(safe)
        validator_class = DEFAULT_JSONSCHEMA_VALIDATOR
        try:
            validator_class.check_schema(safe)
        except jsonschema.SchemaError:
            raise SchemaRefused(
                f"The SCHEMA of stream '{stream}' is not a valid JSON schema; fix the tap's "
                "schema for this stream."
            ) from None
        self.library_validator = validator_class(
            safe, registry=Registry(), format_checker=jsonschema.FormatChecker(formats=())
        )

    @override
    def validate(self, record: dict[str, Any]) -> None:
        error = jsonschema.exceptions.best_match(self.library_validator.iter_errors(record))
        if error is None:
            return
        path = describe_path(list(error.absolute_path), self.declared)
        raise RecordInvalid(f"{path} must match its schema ({error.validator})")


def validator_for(schema: dict[str, Any], stream: str) -> BaseJSONSchemaValidator:
    """The compiled validator for a stream's schema, else the library one; SchemaRefused
    when neither can take it."""
    try:
        return CompiledValidator(schema, stream)
    except SchemaRefused:
        raise
    except (fastjsonschema.JsonSchemaDefinitionException, TypeError, ValueError):
        # A schema fastjsonschema cannot compile still gets validated, more slowly.
        return FallbackValidator(schema, stream)
    except (SyntaxError, RecursionError, MemoryError):
        # The generated code is too nested for Python (e.g. anyOf twenty levels deep).
        raise SchemaRefused(
            f"The SCHEMA of stream '{stream}' is too complex to validate (its subschemas "
            "are nested too deeply); simplify it in the tap, or set validate_records: false."
        ) from None


class ConversionSink(SdkBatchSinkHooks):
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
        self.rule_ids: tuple[str, ...] = ()
        # The records of the open batch, and their sequence numbers (see checkpoints.py).
        self.buffered_records: list[dict[str, Any]] = []
        self.buffered_seqs: list[int] = []
        # Read per record, so computed once.
        self.max_batch_records = self.max_size
        self.key_properties_tuple = tuple(self.key_properties)
        self.overrides_preprocess = type(self).preprocess_record is not BatchSink.preprocess_record
        # A mapping to a column the stream lacks would send every event without that field:
        # stop before anything of this stream is sent. Checked here, on the schema the sink
        # gets (after stream maps), before the SDK's setup() wraps errors in its own line.
        properties = self.schema.get("properties")
        for spec, _rule in target.run.rules_for_stream(stream_name):
            problem = mapping_problem(spec, stream_name, properties)
            if problem is not None:
                raise FatalError(problem)

    @override
    def get_validator(self) -> BaseJSONSchemaValidator | None:
        if self.config.get("validate_records") is False:
            return None
        return validator_for(self.schema, self.stream_name)

    @override
    def setup(self) -> None:
        # The stream's rules were made to match the config when its SCHEMA arrived; here
        # each gets the mapper that builds its events from this stream's records.
        resolved = self.target.run.rules_for_stream(self.stream_name)
        properties = self.schema.get("properties")
        # JSON Schema allows undeclared properties unless additionalProperties is false, and
        # the SDK passes them on: only a closed schema rules a same-named property out.
        closed_properties = (
            frozenset(properties)
            if properties is not None and self.schema.get("additionalProperties") is False
            else None
        )
        mappers = []
        # The ledger's key of each mapper's events: LinkedIn's id of the rule, not the label.
        self.rule_ids = tuple(rule.rule_id for _spec, rule in resolved)
        for spec, rule in resolved:
            mapper = EventMapper(
                spec,
                rule.urn,
                rule.label,
                self.stream_name,
                self.key_properties_tuple,
                self.target.run.settings.api_version_number,
                Counter(),
                schema_properties=closed_properties,
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
        check = self.record_check
        if check is None:
            return None
        try:
            check(record)
        except fastjsonschema.JsonSchemaValueException as exc:
            return self.compiled_problem(exc)
        except RecordInvalid as exc:
            return str(exc)
        except Exception as exc:  # noqa: BLE001 - the SDK validator's InvalidRecord
            return f"record must match its schema ({type(exc).__name__})"
        return None

    @cached_property
    def record_check(self) -> Callable[[dict[str, Any]], Any] | None:
        """The function that checks a record: the compiled code itself when there is one
        (one call per record instead of three), else the validator's validate()."""
        validator = self.schema_validator
        if validator is None:
            return None
        if isinstance(validator, CompiledValidator):
            return validator.compiled
        return validator.validate

    def compiled_problem(self, exc: fastjsonschema.JsonSchemaValueException) -> str:
        validator = self.schema_validator
        assert isinstance(validator, CompiledValidator)
        return validator.problem(exc)

    def key_of(self, record: dict[str, Any]) -> dict[str, Any]:
        return {name: record.get(name) for name in self.key_properties_tuple}

    def reject_invalid(self, record: dict[str, Any], problem: str) -> None:
        """A record that failed schema validation: rejected for every rule, nothing sent."""
        self.checkpoints.next_seq()
        key = self.key_of(record)  # raw: the report masks it
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
        self.buffered_records.append(record)
        self.buffered_seqs.append(self.checkpoints.next_seq())

    @property
    def lowest_buffered_seq(self) -> int | None:
        return self.buffered_seqs[0] if self.buffered_seqs else None

    @override
    def process_batch(self, context: dict) -> None:
        # One batch is one unit of work: mapped here in one pass, then delivered on the
        # dispatcher's threads while the target reads on. STATE waits for it (see
        # checkpoints.py).
        records, seqs = self.buffered_records, self.buffered_seqs
        if not records:
            return
        mapped = map_batch(self.mappers, records)
        self.target.run.dispatcher.submit(
            Batch(min_seq=seqs[0], resolve=lambda: self.resolve_batch(mapped, records))
        )
        # Cleared only once the dispatcher holds the batch: should mapping fail, or the
        # dispatcher refuse it after an earlier failure, the records stay buffered, so no
        # checkpoint written on the way out can cover them.
        self.buffered_records, self.buffered_seqs = [], []

    def resolve_batch(self, mapped: MappedBatch, records: list[dict[str, Any]]) -> list[Item]:
        """Runs on a delivery thread: report the batch's local outcome, return its events.

        The dispatcher then drops the events the delivery ledger holds (see LedgerGuard),
        still on this thread.
        """
        labels = [mapper.label for mapper in self.mappers]
        rule_ids = self.rule_ids
        for label in labels:
            self.report.received(label, len(records))
        for index, mapper_index, reason, field, message, event_id in mapped.rejections:
            self.report.reject(
                stream=self.stream_name, rule=labels[mapper_index], reason=reason,
                message=message, field=field, key=self.key_of(records[index]),
                event_id=event_id, source="local",
            )  # fmt: skip
        for label, notes in zip(labels, mapped.notes, strict=True):
            self.report.add_notes(label, notes)
        return [
            Item(
                body, event_id, self.stream_name, labels[mapper_index],
                self.key_of(records[index]), facts, rule_ids[mapper_index],
            )
            for body, (index, mapper_index, event_id), facts in zip(
                mapped.events, mapped.origins, mapped.facts, strict=True
            )
        ]  # fmt: skip


def _safe_event_id(mapper: EventMapper, record: dict[str, Any]) -> str | None:
    """The record's event id for the report; a record that broke its schema may lack one."""
    try:
        return mapper.event_id_of(record)
    except (TypeError, ValueError):
        return None
