"""The Singer target: settings, the record hot path, checkpoints and the end-of-run report."""

from __future__ import annotations

import copy
import gc
import logging
import sys
import time
from typing import IO, Any

import msgspec
from singer_sdk import Target
from singer_sdk.contrib.msgspec import MsgSpecReader
from singer_sdk.contrib.msgspec import decoder as _msgspec_decoder
from singer_sdk.exceptions import (
    ConfigValidationError,
    MapExpressionError,
    RecordsWithoutSchemaException,
)
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.plugin_base import _ConfigInput
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_linkedin_capi.config.settings import CONFIG_SCHEMA, parse_settings
from target_linkedin_capi.errors import ConfigError, FatalError
from target_linkedin_capi.report.redaction import SecretFilter
from target_linkedin_capi.run import Run
from target_linkedin_capi.sinks import ConversionSink

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override


_AGE_CHECK_EVERY = 256


class QuietMsgSpecReader(MsgSpecReader):
    """The SDK's fast msgspec reader, minus logging of unparseable lines (they hold PII)."""

    @override
    def deserialize_json(self, line: str) -> dict:
        try:
            return _msgspec_decoder.decode(line)  # type: ignore[no-any-return]
        except msgspec.DecodeError:
            msg = "Unable to parse a line of input as JSON (not shown: it may hold personal data)"
            raise InvalidInputLine(msg) from None

    @staticmethod
    @override
    def assert_line_requires(line_dict: dict, requires: set[str]) -> None:
        if not requires.issubset(line_dict):
            missing = ", ".join(sorted(requires - set(line_dict)))
            msg = f"A {line_dict.get('type', 'message')} line is missing required key(s): {missing}"
            raise InvalidInputLine(msg)


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

    # -- records --------------------------------------------------------------------------

    @override
    def _process_record_message(self, message_dict: dict) -> None:
        # The SDK's pipeline (stream maps, metadata, key checks, batching) minus two
        # per-record costs this target does not need: string->datetime parsing of every
        # date-time field (the mapper parses the one timestamp it uses) and a DEBUG log
        # line per record. Invalid records are rejected into the rejected-records file
        # instead of stopping the run. Private SDK API: singer-sdk is pinned to 0.54.x.
        stream_name = message_dict.get("stream")
        sink = self._plain_sinks.get(stream_name)  # type: ignore[arg-type]
        if sink is None:
            self._process_mapped_record(message_dict)
        else:
            # No stream map, flattening or metadata for this stream: the record goes to
            # the sink as it is (the same steps as below, minus the no-op transform).
            record = message_dict["record"]
            sink._remove_sdc_metadata_from_record(record)
            self._accept(sink, record, None)
        # The SDK checks its 5-minute drain clock after every record; every few hundred
        # records is as good and costs nothing measurable.
        self._records_until_age_check -= 1
        if self._records_until_age_check <= 0:
            self._records_until_age_check = _AGE_CHECK_EVERY
            self._handle_max_record_age()

    def _process_mapped_record(self, message_dict: dict) -> None:
        self._assert_line_requires(message_dict, requires={"stream", "record"})
        stream_name = message_dict["stream"]
        if stream_name not in self.mapper.stream_maps:
            self._assert_sink_exists(stream_name)
        stream_maps = self.mapper.stream_maps[stream_name]
        for stream_map in stream_maps:
            record = stream_map.transform(copy.copy(message_dict["record"]))
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
                sink._singer_validate_message(record)  # raises MissingKeyPropertiesError
        sink.tally_record_read()
        sink.process_record(record, context)
        sink.record_counter_metric.increment()
        if sink.current_size >= sink.max_batch_records:
            self.drain_one(sink)
            self._emit_ready_states()

    @override
    def _process_schema_message(self, message_dict: dict) -> None:
        self._plain_sinks.clear()  # a new schema may bring a new sink or stream map
        stream = message_dict.get("stream")
        if isinstance(stream, str):
            # The first SCHEMA is where LinkedIn is first needed: rules are checked (once
            # per run) here, before the SDK builds the sink, so a rule problem is reported
            # as itself and not as a failed sink.
            self.run.rules_for_stream(stream)
        super()._process_schema_message(message_dict)

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
        self.logger.debug("Where the run stopped", exc_info=exc)
        lines = self.run.summary()
        for line in lines:
            self.logger.info("Before stopping: %s", line)
        self.logger.info(
            "Nothing after the last checkpoint was marked as delivered; the next run resumes "
            "from it."
        )
        self.run.close()

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
        # As the SDK's Target.invoke, plus one thing: a FatalError becomes one clear
        # paragraph on stderr and exit code 1, with the traceback only at DEBUG.
        super(Target, cls).invoke(about=about, about_format=about_format)
        cls.print_version(print_fn=cls.logger.info)
        config = config or _ConfigInput()
        target = cls(config=config.config, validate_config=True, parse_env_config=config.parse_env)
        # Everything built so far (modules, SDK objects, settings) lives for the whole run:
        # keep the cyclic garbage collector from re-scanning it while hundreds of thousands
        # of short-lived event dicts come and go. Measured: about a quarter of the run time.
        gc.freeze()
        try:
            target.listen(file_input)
        except FatalError as exc:
            target.fail(exc)
            sys.exit(1)
        except (InvalidInputLine, RecordsWithoutSchemaException, MapExpressionError) as exc:
            # The tap's output (or a stream map) is broken: say so plainly.
            target.fail(FatalError(f"The input cannot be processed: {exc}"))
            sys.exit(1)


logging.getLogger("urllib3").setLevel(logging.WARNING)  # no per-request lines with URLs
