"""The Singer target: settings, the record hot path, checkpoints and the end-of-run report."""

from __future__ import annotations

import contextlib
import copy
import gc
import logging
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

import msgspec
from singer_sdk import Target
from singer_sdk.contrib.msgspec import MsgSpecReader
from singer_sdk.contrib.msgspec import decoder as _msgspec_decoder
from singer_sdk.exceptions import (
    ConfigValidationError,
    MapExpressionError,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
    StreamMapConfigError,
)
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.plugin_base import _ConfigInput
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_linkedin_capi.config.settings import CONFIG_SCHEMA, parse_settings
from target_linkedin_capi.errors import ConfigError, FatalError
from target_linkedin_capi.report.redaction import SecretFilter
from target_linkedin_capi.report.reporting import finish_reporting, start_reporting
from target_linkedin_capi.run import Run
from target_linkedin_capi.sinks import ConversionSink, check_schema

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override


_AGE_CHECK_EVERY = 256


_NOT_SHOWN = "(not shown: it may hold personal data)"
_MESSAGE_TYPES = frozenset({"SCHEMA", "RECORD", "STATE", "ACTIVATE_VERSION", "BATCH"})


class QuietMsgSpecReader(MsgSpecReader):
    """The SDK's fast msgspec reader, minus logging of unparseable lines (they hold PII).

    Every way a line can be unreadable (not UTF-8, not JSON, nested past the decoder's
    recursion limit, an integer of more digits than Python converts) is an InvalidInputLine
    whose message holds no part of the line. An integer that long is refused by msgspec,
    so it stops the run as an unreadable line rather than rejecting one record: the reader
    cannot tell which record or field it belonged to.
    """

    @override
    def process_lines(
        self, file_input: IO[str] | None, callbacks: dict[str, Callable[[dict], None]]
    ) -> Counter[str]:
        return super().process_lines(_checked_lines(file_input or self.default_input), callbacks)  # type: ignore[arg-type]

    @override
    def deserialize_json(self, line: str) -> dict:
        try:
            decoded = _msgspec_decoder.decode(line)
        except msgspec.DecodeError as exc:
            why = "a number in it is too large" if "out of range" in str(exc) else "not JSON"
            msg = f"Unable to parse a line of input ({why}) {_NOT_SHOWN}"
            raise InvalidInputLine(msg) from None
        except RecursionError:
            msg = f"A line of input is nested too deeply to be read {_NOT_SHOWN}"
            raise InvalidInputLine(msg) from None
        except UnicodeError:
            msg = f"A line of input is not valid UTF-8 {_NOT_SHOWN}"
            raise InvalidInputLine(msg) from None
        if not isinstance(decoded, dict):
            msg = f"A line of input is not a JSON object {_NOT_SHOWN}"
            raise InvalidInputLine(msg)
        return decoded

    @staticmethod
    @override
    def assert_line_requires(line_dict: dict, requires: set[str]) -> None:
        if not isinstance(line_dict, dict):
            msg = f"A part of a Singer message that must be a JSON object is not one {_NOT_SHOWN}"
            raise InvalidInputLine(msg)
        if not requires.issubset(line_dict):
            missing = ", ".join(sorted(requires - set(line_dict)))
            kind = line_dict.get("type")
            kind = kind if kind in _MESSAGE_TYPES else "message"
            msg = f"A {kind} line is missing required key(s): {missing}"
            raise InvalidInputLine(msg)

    @override
    def _process_unknown_message(self, message_dict: dict) -> None:
        msg = f"A line of input has an unknown message type {_NOT_SHOWN}"
        raise InvalidInputLine(msg)


def _checked_lines(lines: Iterable[str]) -> Iterator[str]:
    # Text-mode stdin decodes as it reads: invalid UTF-8 raises here, inside the SDK's loop.
    iterator = iter(lines)
    while True:
        try:
            line = next(iterator)
        except StopIteration:
            return
        except UnicodeError:
            msg = f"A line of input is not valid UTF-8 {_NOT_SHOWN}"
            raise InvalidInputLine(msg) from None
        yield line


class InputError(FatalError):
    """The tap's output (or a stream map applied to it) cannot be processed."""


class MissingKeyProperty(InputError, MissingKeyPropertiesError):
    """A record lacks a key property; still the SDK's error type, for code that expects it."""


class TargetLinkedInCapi(Target):
    """Streams conversions from any tap to LinkedIn's Conversions API."""

    name = "target-linkedin-capi"
    package_name = "target-linkedin-capi"
    config_jsonschema = CONFIG_SCHEMA
    default_sink_class = ConversionSink
    message_reader_class = QuietMsgSpecReader

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        try:
            settings = parse_settings(self.config)
        except ConfigError as exc:
            raise ConfigValidationError("Config validation failed", errors=[str(exc)]) from None
        # Sinks are drained on the main thread; concurrency lives in the dispatcher, which
        # keeps several batches in flight while reading on.
        self.max_parallelism = 1
        self.run = Run(settings, super()._write_state_message)
        self._last_flush = time.monotonic()
        self._plain_sinks: dict[str, ConversionSink] = {}
        self._records_until_age_check = _AGE_CHECK_EVERY
        SecretFilter.install(self.run.secrets)
        self._age_checks = 0
        self.progress = start_reporting(self.run, self.records_read)

    # -- records --------------------------------------------------------------------------

    @override
    def _process_record_message(self, message_dict: dict) -> None:
        # The SDK's pipeline (stream maps, metadata, key checks, batching) minus two
        # per-record costs this target does not need: string->datetime parsing of every
        # date-time field (the mapper parses the one timestamp it uses) and a DEBUG log
        # line per record. Invalid records are rejected into the rejected-records file
        # instead of stopping the run. Private SDK API: singer-sdk is pinned to 0.54.x.
        stream_name = message_dict.get("stream")
        try:
            sink = self._plain_sinks.get(stream_name)  # type: ignore[arg-type]
            record = message_dict.get("record")
            if sink is None or type(record) is not dict:
                self._process_mapped_record(message_dict)
            else:
                # No stream map, flattening or metadata for this stream: the record goes to
                # the sink as it is (the same steps as below, minus the no-op transform).
                sink._remove_sdc_metadata_from_record(record)
                self._accept(sink, record, None)
        except Exception as exc:
            _locate(exc, stream_name)
            raise
        # The SDK checks its 5-minute drain clock after every record; every few hundred
        # records is as good and costs nothing measurable.
        self._records_until_age_check -= 1
        if self._records_until_age_check <= 0:
            self._records_until_age_check = _AGE_CHECK_EVERY
            self._handle_max_record_age()
            self._age_checks += 1
            self.progress.tick()

    def records_read(self) -> int:
        """RECORD messages read so far (counted by the age check's countdown, for free)."""
        return (
            self._age_checks * _AGE_CHECK_EVERY + _AGE_CHECK_EVERY - self._records_until_age_check
        )

    def _process_mapped_record(self, message_dict: dict) -> None:
        self._assert_line_requires(message_dict, requires={"stream", "record"})
        stream_name = message_dict["stream"]
        if not isinstance(stream_name, str) or not isinstance(message_dict["record"], dict):
            msg = f"A RECORD line's stream is not a string or its record not an object {_NOT_SHOWN}"
            raise InvalidInputLine(msg)
        if stream_name not in self.mapper.stream_maps:
            self._assert_sink_exists(stream_name)
        stream_maps = self.mapper.stream_maps[stream_name]
        for stream_map in stream_maps:
            try:
                record = stream_map.transform(copy.copy(message_dict["record"]))
            except Exception as exc:  # noqa: BLE001 - whatever an expression raises
                # The message of an expression's error quotes the record's values.
                raise InputError(
                    f"The stream map for stream '{stream_name}' failed on a record "
                    f"({type(exc).__name__}; the message is not shown, it may hold personal "
                    "data). Fix the expression in the stream_maps setting (e.g. guard "
                    "conversions of values that may not convert)."
                ) from None
            if record is None:
                continue  # filtered out by a stream map
            self._assert_sink_exists(stream_map.stream_alias)
            sink: ConversionSink = self.get_sink(stream_map.stream_alias, record=record)  # type: ignore[assignment]
            context = sink._get_context(record)
            if sink.include_sdc_metadata_properties:
                sink._add_sdc_metadata_to_record(record, message_dict, context)
            else:
                sink._remove_sdc_metadata_from_record(record)
            self._accept(sink, record, context)
        if (
            len(stream_maps) == 1
            and type(stream_maps[0]) is SameRecordTransform
            and stream_maps[0].stream_alias == stream_name
            and not self._sinks_active[stream_name].include_sdc_metadata_properties
        ):
            self._plain_sinks[stream_name] = self._sinks_active[stream_name]  # type: ignore[assignment]

    def _accept(self, sink: ConversionSink, record: dict, context: dict | None) -> None:
        if context is None:
            context = sink._get_context(record)
        problem = sink.validate_record(record)
        if problem is not None:
            sink.reject_invalid(record, problem)
            return
        if sink.overrides_preprocess:
            record = sink.preprocess_record(record, context)
        for key in sink.key_properties_tuple:  # the SDK's _singer_validate_message, inlined
            if key not in record:
                # The SDK's error lists the record's keys, and a key can be data.
                raise MissingKeyProperty(
                    f"A record of stream '{sink.stream_name}' lacks the key property "
                    f"'{key}' that its SCHEMA's key_properties declares "
                    f"({', '.join(sink.key_properties_tuple)}). Fix the tap's output or its "
                    "key_properties for this stream."
                )
        sink.tally_record_read()
        sink.process_record(record, context)
        sink.record_counter_metric.increment()
        if sink.current_size >= sink.max_batch_records:
            self.drain_one(sink)
            self._emit_ready_states()

    @override
    def _process_schema_message(self, message_dict: dict) -> None:
        self._plain_sinks.clear()  # a new schema may bring a new sink or stream map
        self._assert_line_requires(message_dict, requires={"stream", "schema"})
        stream = message_dict["stream"]
        if not isinstance(stream, str):
            raise InvalidInputLine(f"A SCHEMA line's stream is not a string {_NOT_SHOWN}")
        try:
            # Before the SDK copies it recursively or the validator compiles it.
            check_schema(stream, message_dict["schema"])
            # The first SCHEMA is where LinkedIn is first needed: rules are checked (once
            # per run) here, before the SDK builds the sink, so a rule problem is reported
            # as itself and not as a failed sink.
            self.run.rules_for_stream(stream)
            super()._process_schema_message(message_dict)
        except (MapExpressionError, StreamMapConfigError) as exc:
            raise InputError(
                f"The stream map for stream '{stream}' cannot be applied to its SCHEMA "
                f"({type(exc).__name__}). Fix the stream_maps setting for this stream."
            ) from None
        except Exception as exc:
            _locate(exc, stream)
            raise

    # -- checkpoints ----------------------------------------------------------------------

    @override
    def _process_state_message(self, message_dict: dict) -> None:
        previous = self._latest_state
        super()._process_state_message(message_dict)
        if self._latest_state is None or self._latest_state == previous:
            return
        self.run.checkpoints.remember(self._latest_state)
        interval = self.run.settings.state_flush_interval
        if time.monotonic() - self._last_flush >= interval:
            # Send what is buffered now, without waiting: the state is written once those
            # batches are delivered, while the target reads on.
            for sink in self._all_sinks():
                self.drain_one(sink)
            self._last_flush = time.monotonic()
        self._emit_ready_states()

    def _all_sinks(self) -> list[ConversionSink]:
        return [*self._sinks_to_clear, *self._sinks_active.values()]  # type: ignore[list-item]

    def _emit_ready_states(self, *, check_failed: bool = True) -> None:
        if check_failed:
            self.run.dispatcher.raise_if_failed()
        lowest = self.run.lowest_unresolved_seq([s.lowest_buffered_seq for s in self._all_sinks()])
        self.run.report.rejected_file.flush()
        self.run.checkpoints.emit_ready(lowest)

    @override
    def _write_state_message(self, state: dict) -> None:
        # Called by the SDK after a full drain: wait until the drained batches are
        # delivered, so the state never covers an undelivered record.
        if "dispatcher" in self.run.__dict__:
            self.run.dispatcher.wait_all()
        self.run.report.rejected_file.flush()
        self.run.checkpoints.clear()
        self.run.checkpoints.write(state)

    # -- end of input ---------------------------------------------------------------------

    @override
    def process_endofpipe(self) -> None:
        for sink in self._all_sinks():
            self.drain_one(sink)
        if "dispatcher" in self.run.__dict__:
            self.run.dispatcher.wait_all()
        self._check_rejected_ratio()
        super().process_endofpipe()
        self._log_summary()
        self.run.close()
        finish_reporting(self.run, self.records_read(), None)

    def _check_rejected_ratio(self) -> None:
        limit = self.run.settings.max_rejected_ratio
        routed = self.run.report.total_routed
        if limit is None or routed == 0:
            return
        share = self.run.report.total_rejected / routed
        if share > limit:
            self._log_summary()
            self.run.checkpoints.closed = True  # withhold the final checkpoint
            raise FatalError(
                f"{share:.1%} of the records were rejected, more than max_rejected_ratio "
                f"({limit:.1%}). The valid events were delivered, but this run's final "
                "checkpoint is withheld so the problem is looked at; see the reasons above "
                "and the rejected-records file."
            )

    def _log_summary(self) -> None:
        lines = self.run.summary()
        if not lines:
            self.logger.info("No records arrived for any conversion rule")
        for line in lines:
            self.logger.info("Summary: %s", line)
        if self.run.settings.rejected_records_path and self.run.report.total_rejected:
            self.logger.info(
                "Rejected records are listed in %s", self.run.settings.rejected_records_path
            )

    def fail(self, exc: Exception) -> None:
        """Stop after an unrecoverable error: a clear report, no state past delivery."""
        if "dispatcher" in self.run.__dict__ and not self.run.checkpoints.closed:
            # Checkpoints already earned (every record before them delivered or rejected)
            # are still written: failed batches stay pinned as unresolved, so none of these
            # can cover them. The next run then re-sends less.
            self._emit_ready_states(check_failed=False)
        self.run.checkpoints.closed = True
        self.logger.error("%s", exc)
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug("Where the run stopped:\n%s", safe_traceback(exc))
        lines = self.run.summary()
        for line in lines:
            self.logger.info("Before stopping: %s", line)
        self.logger.info(
            "Nothing after the last checkpoint was marked as delivered; the next run resumes "
            "from it."
        )
        self.run.close()  # waits for requests in flight: their answers are counted
        finish_reporting(self.run, self.records_read(), exc)

    # -- CLI ------------------------------------------------------------------------------

    @classmethod
    @override
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: _ConfigInput | None = None,
        file_input: IO[str] | None = None,
    ) -> None:
        # As the SDK's Target.invoke, plus one thing: any error becomes one clear paragraph
        # on stderr and exit code 1, with the traceback (frames only) at DEBUG.
        super(Target, cls).invoke(about=about, about_format=about_format)
        cls.print_version(print_fn=cls.logger.info)
        config = config or _ConfigInput()
        try:
            target = cls(
                config=config.config, validate_config=True, parse_env_config=config.parse_env
            )
        except ConfigValidationError:
            raise  # the SDK's command reports it (one line per problem) and exits 1
        except FatalError as exc:
            cls.logger.error("%s", exc)
            sys.exit(1)
        except Exception as exc:  # noqa: BLE001 - reported as one paragraph, exit 1
            cls.logger.error("%s", _unexpected(exc, "while starting"))
            cls.logger.debug("Where the run stopped:\n%s", safe_traceback(exc))
            sys.exit(1)
        # Everything built so far (modules, SDK objects, settings) lives for the whole run:
        # keep the cyclic garbage collector from re-scanning it while hundreds of thousands
        # of short-lived event dicts come and go. Measured: about a quarter of the run time.
        gc.freeze()
        try:
            target.listen(file_input)
        except FatalError as exc:
            target.fail(exc)
            sys.exit(1)
        except (InvalidInputLine, RecordsWithoutSchemaException) as exc:
            # The tap's output is broken: say so plainly. These messages are the target's
            # own or the SDK's that name only the stream (see QuietMsgSpecReader).
            error = InputError(f"The input cannot be processed: {exc}")
            error.__cause__ = exc
            target.fail(error)
            sys.exit(1)
        except Exception as exc:  # noqa: BLE001 - reported as one paragraph, exit 1
            # Anything else: its message may quote record values, so only its type and
            # where it happened are shown.
            target.fail(_unexpected(exc, _where(exc)))
            sys.exit(1)


def _locate(exc: BaseException, stream: object) -> None:
    """Remember which stream an error arose on, for the one-paragraph report."""
    if isinstance(stream, str) and not hasattr(exc, "_capi_stream"):
        with contextlib.suppress(AttributeError, TypeError):
            exc._capi_stream = stream  # type: ignore[attr-defined]


def _where(exc: BaseException) -> str:
    stream = getattr(exc, "_capi_stream", None)
    return f"while processing stream '{stream}'" if stream else "while processing the input"


def _unexpected(exc: BaseException, where: str) -> FatalError:
    if isinstance(exc, RecursionError):
        error: FatalError = InputError(
            f"The input is nested too deeply to be processed ({where}); flatten the tap's "
            "output (or select fewer nested columns)."
        )
    else:
        error = FatalError(
            f"Internal error ({type(exc).__name__}) {where}; nothing after the last "
            "checkpoint was marked as delivered. Run with log level DEBUG for where it "
            "happened, and report it."
        )
    error.__cause__ = exc  # for the frames at DEBUG
    return error


def safe_traceback(exc: BaseException) -> str:
    """The traceback's frames and exception types, without any exception's message.

    Messages can quote record values (emails, names) or secrets; the frames (file, line,
    function, source line) cannot. The target's own FatalError messages are safe by design.
    """
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = traceback.format_list(traceback.extract_tb(current.__traceback__))
        shown = str(current) if isinstance(current, FatalError) else "(message not shown)"
        parts.append("".join(frames) + f"{type(current).__name__}: {shown}")
        current = current.__cause__ or current.__context__
    return "\ncaused by (or arose while handling):\n".join(parts)


logging.getLogger("urllib3").setLevel(logging.WARNING)  # no per-request lines with URLs
