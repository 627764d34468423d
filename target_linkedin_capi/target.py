"""The Singer target: settings, the record hot path, checkpoints and the end-of-run report."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import gc
import logging
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

import click
import msgspec
from singer_sdk.contrib.msgspec import decoder as _msgspec_decoder
from singer_sdk.exceptions import (
    ConfigValidationError,
    MapExpressionError,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
    StreamMapConfigError,
)
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_linkedin_capi.commands import COMMANDS, needs_rules, requested
from target_linkedin_capi.config.settings import CONFIG_SCHEMA, parse_settings, schema_problems
from target_linkedin_capi.errors import ConfigError, FatalError
from target_linkedin_capi.report.redaction import SecretFilter
from target_linkedin_capi.report.reporting import finish_reporting, start_reporting
from target_linkedin_capi.run import Run
from target_linkedin_capi.sdk_compat import (
    SdkMessageReader,
    SdkTargetHooks,
    add_sdc_metadata,
    batch_context,
    strip_sdc_metadata,
)
from target_linkedin_capi.sinks import ConversionSink, check_schema

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override


_AGE_CHECK_EVERY = 256
# Retries of an operator command (see run_command_options).
COMMAND_ATTEMPTS = 2
COMMAND_RETRY_SECONDS = 5.0


# The longest input line read, in characters (newline excluded): one Singer message longer
# than this stops the run instead of being held in memory whole. Real records are a few
# kilobytes, and the largest SCHEMA accepted (sinks.MAX_SCHEMA_NODES) stays far below it.
MAX_LINE_CHARS = 64 * 1024 * 1024

_NOT_SHOWN = "(not shown: it may hold personal data)"
_MESSAGE_TYPES = frozenset({"SCHEMA", "RECORD", "STATE", "ACTIVATE_VERSION", "BATCH"})


class QuietMsgSpecReader(SdkMessageReader):
    """The SDK's fast msgspec reader, minus logging of unparseable lines (they hold PII).

    Every way a line can be unreadable (not UTF-8, not JSON, nested past the decoder's
    recursion limit, an integer of more digits than Python converts) is an InvalidInputLine
    whose message holds no part of the line. An integer that long is refused by msgspec,
    so it stops the run as an unreadable line rather than rejecting one record: the reader
    cannot tell which record or field it belonged to. So is a line longer than
    `max_line_chars`, found before more than that much of it is read.
    """

    max_line_chars = MAX_LINE_CHARS

    @override
    def process_lines(
        self, file_input: IO[str] | None, callbacks: dict[str, Callable[[dict], None]]
    ) -> Counter[str]:
        lines = bounded_lines(file_input or self.default_input, self.max_line_chars)
        # The SDK annotates a text stream but only iterates it: bounded lines are enough.
        return super().process_lines(lines, callbacks)  # type: ignore[arg-type]

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
    def on_unknown_message(self, message_dict: dict) -> None:
        msg = f"A line of input has an unknown message type {_NOT_SHOWN}"
        raise InvalidInputLine(msg)


def bounded_lines(lines: IO[str] | Iterable[str], limit: int) -> Iterator[str]:
    """The lines of `lines`, refusing one longer than `limit` characters before it is whole.

    A stream is read with readline(limit + 1): a line that has not ended within that many
    characters is too long, and no more of it was read. Text-mode stdin decodes as it
    reads, so invalid UTF-8 raises here, inside the SDK's loop.
    """
    readline = getattr(lines, "readline", None)
    # Lines already in memory (no readline) are only checked for length.
    source = iter(lines) if readline is None else iter(functools.partial(readline, limit + 1), "")
    try:
        for line in source:
            if len(line) > limit and not line.endswith("\n"):
                msg = (
                    f"A line of input is longer than {limit:,} characters, the most the "
                    f"target reads as one Singer message {_NOT_SHOWN}. Check the tap's output: "
                    "a value this large cannot belong to a conversion (deselect the column "
                    "that holds it)."
                )
                raise InvalidInputLine(msg)
            yield line
    except UnicodeError:
        # Raised while reading (decoding), never by the consumer: exceptions there do not
        # enter this generator.
        msg = f"A line of input is not valid UTF-8 {_NOT_SHOWN}"
        raise InvalidInputLine(msg) from None


class InputError(FatalError):
    """The tap's output (or a stream map applied to it) cannot be processed."""


class MissingKeyProperty(InputError, MissingKeyPropertiesError):
    """A record lacks a key property; still the SDK's error type, for code that expects it."""


class TargetLinkedInCapi(SdkTargetHooks):
    """Streams conversions from any tap to LinkedIn's Conversions API."""

    name = "target-linkedin-capi"
    package_name = "target-linkedin-capi"
    config_jsonschema = CONFIG_SCHEMA
    default_sink_class = ConversionSink
    message_reader_class = QuietMsgSpecReader

    def __init__(self, *, with_rules: bool = True, **kwargs: Any) -> None:
        # with_rules=False: an operator command that needs only the credentials (a lookup
        # of the ad accounts, before the user knows which rule to configure).
        try:
            super().__init__(**kwargs)
        except ConfigValidationError:
            # The SDK's messages quote the offending value, which may be a token or a
            # password: say what is wrong with each setting without it.
            raise ConfigValidationError(
                "Config validation failed", errors=schema_problems(self.config, CONFIG_SCHEMA)
            ) from None
        try:
            settings = parse_settings(self.config, with_rules=with_rules)
        except ConfigError as exc:
            raise ConfigValidationError("Config validation failed", errors=[str(exc)]) from None
        # Sinks are drained on the main thread; concurrency lives in the dispatcher, which
        # keeps several batches in flight while reading on.
        self.max_parallelism = 1
        self.run = Run(settings, self.write_state_now)
        self.last_flush_at = time.monotonic()
        # Streams whose records go to their sink as they are (no stream map, no metadata).
        self.plain_sinks: dict[str, ConversionSink] = {}
        self.records_until_drain_clock = _AGE_CHECK_EVERY
        SecretFilter.install(self.run.secrets)
        self.drain_clock_ticks = 0
        self.progress = start_reporting(self.run, self.records_read)

    # -- records --------------------------------------------------------------------------

    @override
    def on_record_message(self, message_dict: dict) -> None:
        # The SDK's pipeline (stream maps, metadata, key checks, batching) minus two
        # per-record costs this target does not need: string->datetime parsing of every
        # date-time field (the mapper parses the one timestamp it uses) and a DEBUG log
        # line per record. Invalid records are rejected into the rejected-records file
        # instead of stopping the run. What it mirrors of the SDK: see sdk_compat.py.
        stream_name = message_dict.get("stream")
        try:
            record = message_dict.get("record")
            # The line check, inlined: a stream that is a string and a record that is an
            # object; anything else takes the full path, which checks the line.
            sink = self.plain_sinks.get(stream_name) if type(stream_name) is str else None
            if sink is None or type(record) is not dict:
                self.route_mapped_record(message_dict)
            else:
                # No stream map, flattening or metadata for this stream: the record goes to
                # the sink as it is (the same steps as below, minus the no-op transform).
                strip_sdc_metadata(sink, record)
                self.accept_record(sink, record, None)
        except Exception as exc:
            _locate(exc, stream_name)
            raise
        # The SDK checks its 5-minute drain clock after every record; every few hundred
        # records is as good and costs nothing measurable.
        self.records_until_drain_clock -= 1
        if self.records_until_drain_clock <= 0:
            self.records_until_drain_clock = _AGE_CHECK_EVERY
            self.drain_clock_tick()
            self.drain_clock_ticks += 1
            self.progress.tick()

    def records_read(self) -> int:
        """RECORD messages read so far (counted by the drain clock's countdown, for free)."""
        return (
            self.drain_clock_ticks * _AGE_CHECK_EVERY
            + _AGE_CHECK_EVERY
            - self.records_until_drain_clock
        )

    def route_mapped_record(self, message_dict: dict) -> None:
        """A RECORD through the stream maps (the SDK's steps, line check first)."""
        self.check_line_requires(message_dict, requires={"stream", "record"})
        stream_name = message_dict["stream"]
        if not isinstance(stream_name, str) or not isinstance(message_dict["record"], dict):
            msg = f"A RECORD line's stream is not a string or its record not an object {_NOT_SHOWN}"
            raise InvalidInputLine(msg)
        if stream_name not in self.mapper.stream_maps:
            self.check_sink_exists(stream_name)
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
            self.check_sink_exists(stream_map.stream_alias)
            # Every sink of this target is a ConversionSink (default_sink_class).
            sink: ConversionSink = self.get_sink(stream_map.stream_alias, record=record)  # type: ignore[assignment]
            context = batch_context(sink, record)
            if sink.include_sdc_metadata_properties:
                add_sdc_metadata(sink, record, message_dict, context)
            else:
                strip_sdc_metadata(sink, record)
            self.accept_record(sink, record, context)
        if (
            len(stream_maps) == 1
            and type(stream_maps[0]) is SameRecordTransform
            and stream_maps[0].stream_alias == stream_name
            and not self.active_sink(stream_name).include_sdc_metadata_properties
        ):
            self.plain_sinks[stream_name] = self.active_sink(stream_name)  # type: ignore[assignment]  # a ConversionSink

    def accept_record(self, sink: ConversionSink, record: dict, context: dict | None) -> None:
        """Validate, check and buffer one record; drain the sink when its batch is full."""
        if context is None:
            context = batch_context(sink, record)
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
            self.emit_ready_states()

    @override
    def on_schema_message(self, message_dict: dict) -> None:
        self.plain_sinks.clear()  # a new schema may bring a new sink or stream map
        self.check_line_requires(message_dict, requires={"stream", "schema"})
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
            self.register_schema(message_dict)
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
    def on_state_message(self, message_dict: dict) -> None:
        previous = self.latest_state()
        self.remember_state(message_dict)
        latest = self.latest_state()
        if latest is None or latest == previous:
            return
        self.run.checkpoints.remember(latest)
        interval = self.run.settings.state_flush_interval
        if time.monotonic() - self.last_flush_at >= interval:
            # Send what is buffered now, without waiting: the state is written once those
            # batches are delivered, while the target reads on.
            for sink in self.sinks_in_drain_order():
                self.drain_one(sink)
            self.last_flush_at = time.monotonic()
        self.emit_ready_states()

    def emit_ready_states(self, *, check_failed: bool = True) -> None:
        """Write every remembered STATE whose records are all delivered or rejected."""
        if check_failed:
            self.run.dispatcher.raise_if_failed()
        lowest = self.run.lowest_unresolved_seq(
            [sink.lowest_buffered_seq for sink in self.sinks_in_drain_order()]  # type: ignore[attr-defined]  # ConversionSinks
        )
        self.run.report.rejected_file.flush()
        self.run.checkpoints.emit_ready(lowest)

    @override
    def on_drained_state(self, state: dict) -> None:
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
        for sink in self.sinks_in_drain_order():
            self.drain_one(sink)
        if "dispatcher" in self.run.__dict__:
            self.run.dispatcher.wait_all()
        self.check_rejected_ratio()
        super().process_endofpipe()
        self.log_summary()
        self.run.close()
        finish_reporting(self.run, self.records_read(), None)

    def check_rejected_ratio(self) -> None:
        """Withhold the final checkpoint if more records were rejected than allowed."""
        limit = self.run.settings.max_rejected_ratio
        routed = self.run.report.total_routed
        if limit is None or routed == 0:
            return
        share = self.run.report.total_rejected / routed
        if share > limit:
            self.log_summary()
            self.run.checkpoints.closed = True  # withhold the final checkpoint
            raise FatalError(
                f"{share:.1%} of the records were rejected, more than max_rejected_ratio "
                f"({limit:.1%}). The valid events were delivered, but this run's final "
                "checkpoint is withheld so the problem is looked at; see the reasons above "
                "and the rejected-records file."
            )

    def log_summary(self) -> None:
        """The run's counts per rule, and where the rejected records are listed."""
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
            self.emit_ready_states(check_failed=False)
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
    # The SDK's invoke (copied in sdk_compat) builds the target and listens through these
    # two; each turns any error into one clear paragraph on stderr and exit code 1, with the
    # traceback (frames only) at DEBUG.

    @classmethod
    @override
    def start_from_cli(
        cls,
        config: dict[str, Any],
        *,
        parse_env_config: bool,
        options: dict[str, Any] | None = None,
    ) -> TargetLinkedInCapi:
        quiet = requested_quietly(options or {})
        level = cls.logger.level
        if quiet:
            # An operator command answers on stdout; the SDK's INFO lines while it starts
            # (version banner, one line per setting read from the environment) bury it.
            logging.getLogger("singer_sdk").setLevel(logging.WARNING)
            cls.logger.setLevel(logging.WARNING)
        try:
            return cls(
                config=config,
                validate_config=True,
                parse_env_config=parse_env_config,
                with_rules=needs_rules(options or {}),
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
        finally:
            if quiet:
                cls.logger.setLevel(level)

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        """The SDK's command plus the operator commands (`--check`, `--list`, ...)."""
        command = super().get_singer_command()
        command.params.extend(operator.option for operator in COMMANDS)
        return command

    @override
    def run_command_options(self, options: dict[str, Any], output_format: str | None) -> None:
        # An operator command runs instead of reading input, then the process exits.
        try:
            asked = requested(options)
        except click.UsageError as exc:
            self.logger.error("%s", exc.format_message())
            sys.exit(2)
        if asked is None:
            return
        command, value = asked
        # A person is waiting for the answer: two attempts within a few seconds, not the
        # patience of a scheduled run (commands change nothing, so nothing is lost).
        s = self.run.settings
        self.run.settings = dataclasses.replace(
            s,
            retry_max_attempts=min(s.retry_max_attempts, COMMAND_ATTEMPTS),
            retry_max_wait_seconds=min(s.retry_max_wait_seconds, COMMAND_RETRY_SECONDS),
        )
        try:
            code = command.run(self.run, value, output_format)
        except FatalError as exc:
            self.logger.error("%s", exc)
            code = 1
        except Exception as exc:  # noqa: BLE001 - reported as one paragraph, exit 1
            self.logger.error("%s", _unexpected(exc, f"while running {command.option.opts[0]}"))
            self.logger.debug("Where it stopped:\n%s", safe_traceback(exc))
            code = 1
        finally:
            self.run.close()
        sys.exit(code)

    @override
    def listen_from_cli(self, file_input: IO[str] | None) -> None:
        # Everything built so far (modules, SDK objects, settings) lives for the whole run:
        # keep the cyclic garbage collector from re-scanning it while hundreds of thousands
        # of short-lived event dicts come and go. Measured: about a quarter of the run time.
        gc.freeze()
        try:
            self.listen(file_input)
        except FatalError as exc:
            self.fail(exc)
            sys.exit(1)
        except (InvalidInputLine, RecordsWithoutSchemaException) as exc:
            # The tap's output is broken: say so plainly. These messages are the target's
            # own or the SDK's that name only the stream (see QuietMsgSpecReader).
            error = InputError(f"The input cannot be processed: {exc}")
            error.__cause__ = exc
            self.fail(error)
            sys.exit(1)
        except Exception as exc:  # noqa: BLE001 - reported as one paragraph, exit 1
            # Anything else: its message may quote record values, so only its type and
            # where it happened are shown.
            self.fail(_unexpected(exc, _where(exc)))
            sys.exit(1)


def _locate(exc: BaseException, stream: object) -> None:
    """Remember which stream an error arose on, for the one-paragraph report."""
    if isinstance(stream, str) and not hasattr(exc, "capi_stream"):
        with contextlib.suppress(AttributeError, TypeError):
            exc.capi_stream = stream  # type: ignore[attr-defined]  # an attribute of our own on any exception


def _where(exc: BaseException) -> str:
    stream = getattr(exc, "capi_stream", None)
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


def requested_quietly(options: dict[str, Any]) -> bool:
    """Whether the command line asks for an operator command (a usage error counts not)."""
    try:
        return requested(options) is not None
    except click.UsageError:
        return False


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
