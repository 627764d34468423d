"""Every use of singer-sdk's private API, in this one module.

The SDK's message loop calls private methods (`_process_record_message`, ...), the sink's
batch context and `_sdc` metadata helpers are private, and so is the list of sinks a full
drain walks. target.py and sinks.py use only what this module names (after what it does for
this target) and the SDK's public API.

singer-sdk is pinned to ~=0.54.9. SDK_MIRRORS below lists each SDK function this module (or
the record hot path built on it) overrides, copies, replaces or relies on, with a hash of its
source: tests/test_sdk_compat.py fails when an SDK upgrade changes one, naming the function
and what to re-check here.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from typing import IO, Any

from singer_sdk import BatchSink, Target
from singer_sdk.configuration._dict_config import parse_environment_config
from singer_sdk.contrib.msgspec import MsgSpecReader
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.plugin_base import _ConfigInput
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.sinks import Sink
from singer_sdk.sinks.core import BaseJSONSchemaValidator

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override


# -- the message reader -------------------------------------------------------------------


class SdkMessageReader(MsgSpecReader):
    """The SDK's msgspec reader, its private hook for unknown message types given a name."""

    @override
    def _process_unknown_message(self, message_dict: dict) -> None:
        self.on_unknown_message(message_dict)

    def on_unknown_message(self, message_dict: dict) -> None:
        """A line whose `type` is none of the Singer message types (the SDK raises)."""
        super()._process_unknown_message(message_dict)


# -- the target -----------------------------------------------------------------------------


class SdkTargetHooks(Target):
    """The SDK's Target, its private message callbacks routed to named hooks.

    The SDK's `listen()` (final) hands each message to a private `_process_*_message`
    method; each is overridden here to call a hook whose default is the SDK's own handling.
    """

    @classproperty
    def _env_var_config(cls) -> dict[str, Any]:
        """Settings from TARGET_LINKEDIN_CAPI_* variables (`--config=ENV`), and only there.

        The SDK would also load the nearest `.env`, searched upward from where the SDK is
        installed (in a Meltano project: the project's own), over the environment. Meltano
        has already put the project's settings in the environment; a variable set in the
        shell must win, so that `check` tests the settings the run uses.
        """
        config_jsonschema = cls.config_jsonschema
        cls.append_builtin_config(config_jsonschema)
        return parse_environment_config(
            config_jsonschema, cls._env_var_prefix, dotenv_path=os.devnull
        )

    # The callbacks of the SDK's message loop.

    @override
    def _process_record_message(self, message_dict: dict) -> None:
        self.on_record_message(message_dict)

    @override
    def _process_schema_message(self, message_dict: dict) -> None:
        self.on_schema_message(message_dict)

    @override
    def _process_state_message(self, message_dict: dict) -> None:
        self.on_state_message(message_dict)

    @override
    def _process_batch_message(self, message_dict: dict) -> None:
        # The SDK would open the files (local paths or fsspec URLs, i.e. possibly the
        # network) that the message names: input must never make the target fetch anything.
        stream = message_dict.get("stream")
        named = f"stream '{stream}'" if isinstance(stream, str) else "a stream"
        msg = (
            f"A BATCH message for {named} refers to files of records; the target reads "
            "records only from its input and never opens files or URLs that the input "
            "names. Turn off the tap's batch output (its `batch_config` setting) so it sends "
            "RECORD messages."
        )
        raise InvalidInputLine(msg)

    @override
    def _write_state_message(self, state: dict) -> None:
        # The SDK calls this after a full drain (drain_all), with its latest state.
        self.on_drained_state(state)

    # The hooks; each default is what the SDK does.

    def on_record_message(self, message_dict: dict) -> None:
        """A RECORD line."""
        Target._process_record_message(self, message_dict)

    def on_schema_message(self, message_dict: dict) -> None:
        """A SCHEMA line."""
        self.register_schema(message_dict)

    def on_state_message(self, message_dict: dict) -> None:
        """A STATE line."""
        self.remember_state(message_dict)

    def on_drained_state(self, state: dict) -> None:
        """All sinks were drained (by the SDK's drain_all); `state` covers what they held."""
        self.write_state_now(state)

    # The SDK's steps the hooks build on.

    def register_schema(self, message_dict: dict) -> None:
        """The SDK's SCHEMA handling: check the line, register stream maps, create sinks."""
        Target._process_schema_message(self, message_dict)

    def remember_state(self, message_dict: dict) -> None:
        """The SDK's STATE handling: check the line and keep its value as the latest state."""
        Target._process_state_message(self, message_dict)

    def write_state_now(self, state: dict) -> None:
        """Write `state` to stdout as the SDK does (one JSON line, flushed)."""
        Target._write_state_message(self, state)

    def latest_state(self) -> dict | None:
        """The value of the last STATE line read (None before the first)."""
        return self._latest_state

    def sinks_in_drain_order(self) -> list[Sink]:
        """Every sink that may hold records, in the order the SDK's drain_all drains them."""
        return [*self._sinks_to_clear, *self._sinks_active.values()]

    def active_sink(self, stream_name: str) -> Sink:
        """The current sink of a stream (KeyError if it has none)."""
        return self._sinks_active[stream_name]

    def check_line_requires(self, message_dict: dict, requires: set[str]) -> None:
        """The reader's check that a message has these keys (InvalidInputLine if not)."""
        self._assert_line_requires(message_dict, requires=requires)

    def check_sink_exists(self, stream_name: str) -> None:
        """RecordsWithoutSchemaException unless the stream's SCHEMA has arrived."""
        self._assert_sink_exists(stream_name)

    def drain_clock_tick(self) -> None:
        """Drain all sinks if the SDK's max record age has passed since the last full drain."""
        self._handle_max_record_age()

    # The command line: the SDK's Target.invoke, its two steps handed to the target.

    @classmethod
    @override
    def invoke(  # type: ignore[override]  # the SDK's signature plus the target's options
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: _ConfigInput | None = None,
        file_input: IO[str] | None = None,
        **command_options: Any,
    ) -> None:
        # Target.invoke, line for line, except that building the target and listening go
        # through start_from_cli/listen_from_cli (where the target reports errors), and that
        # the options the target adds to the command (its operator commands) reach it.
        super(Target, cls).invoke(about=about, about_format=about_format)
        cls.print_version(print_fn=cls.logger.info)
        config = config or _ConfigInput()
        target = cls.start_from_cli(
            config.config, parse_env_config=config.parse_env, options=command_options
        )
        target.run_command_options(command_options, about_format)
        target.listen_from_cli(file_input)

    @classmethod
    def start_from_cli(
        cls,
        config: dict[str, Any],
        *,
        parse_env_config: bool,
        options: dict[str, Any] | None = None,
    ) -> SdkTargetHooks:
        """Build the target from the command line's config, as Target.invoke does
        (`options`: the target's own command-line options, for it to see first)."""
        return cls(config=config, validate_config=True, parse_env_config=parse_env_config)

    def listen_from_cli(self, file_input: IO[str] | None) -> None:
        """Process the input (stdin unless --input), as Target.invoke does."""
        self.listen(file_input)

    def run_command_options(self, options: dict[str, Any], output_format: str | None) -> None:
        """Act on the options the target added to the SDK's command (none by default)."""
        if any(value not in (None, False, ()) for value in options.values()):
            msg = f"{type(self).__name__} takes no options {sorted(options)}"
            raise NotImplementedError(msg)


# -- the sink -------------------------------------------------------------------------------


class SdkBatchSinkHooks(BatchSink):
    """The SDK's BatchSink, with its per-record DEBUG line off and its validator named."""

    @override
    def _after_process_record(self, context: dict) -> None:
        # The SDK logs every record's context at DEBUG; per-record logging costs time and
        # is the kind of line that leaks data.
        return

    @property
    def schema_validator(self) -> BaseJSONSchemaValidator | None:
        """The validator the SDK built from get_validator() (None: records not validated)."""
        return self._validator


def batch_context(sink: Sink, record: dict) -> dict:
    """The sink's current batch context, started (by the SDK) if none is open."""
    return sink._get_context(record)


def strip_sdc_metadata(sink: Sink, record: dict) -> None:
    """Remove the SDK's `_sdc_*` metadata properties from a record, in place."""
    sink._remove_sdc_metadata_from_record(record)


def add_sdc_metadata(sink: Sink, record: dict, message_dict: dict, context: dict) -> None:
    """Add the SDK's `_sdc_*` metadata properties to a record (add_record_metadata: true)."""
    sink._add_sdc_metadata_to_record(record, message_dict, context)


# -- what this module mirrors ---------------------------------------------------------------

SDK_VERSION = importlib.metadata.version("singer-sdk")
# The singer-sdk version the hashes below were taken from.
MIRRORED_SDK_VERSION = "0.54.9"

# SDK function ("module:Class.name") -> (sha256 of inspect.getsource, what to re-check here
# if it changed). Update a hash only after that re-check.
SDK_MIRRORS: dict[str, tuple[str, str]] = {
    "singer_sdk.target_base:Target._process_record_message": (
        "08aaf4096e2d39e7c3826848feebbaac40fb7b3e67fe863576cde90e4e425dfc",
        "target.py's on_record_message/route_mapped_record/accept_record replace it (no "
        "timestamp parsing, no per-record log line, invalid records rejected): carry over "
        "any new step",
    ),
    "singer_sdk.target_base:Target._process_schema_message": (
        "ed6e8449bc8ff234f071aa48b35b1543e0abb23c9db9323dbbf1f9af54cf64a4",
        "register_schema calls it; on_schema_message in target.py checks the line first",
    ),
    "singer_sdk.target_base:Target._process_state_message": (
        "e27158e2b1e7ea6d685a57a87051c435fe52fa161e657bbcc81fac2b63e1d7cf",
        "remember_state calls it and latest_state() reads the _latest_state it sets",
    ),
    "singer_sdk.target_base:Target._write_state_message": (
        "bf40aa5e36ebef4d9921fd7874c6bf2e8ddc2ba5ca7d431abcc1c3554709a218",
        "write_state_now calls it; on_drained_state replaces it as drain_all's callback",
    ),
    "singer_sdk.target_base:Target._process_batch_message": (
        "f26fbe519745daf2e9fb9c01ca01030aaa7549a97210ffa51a7003a8fcdb24cc",
        "SdkTargetHooks._process_batch_message refuses BATCH messages instead",
    ),
    "singer_sdk.target_base:Target._handle_max_record_age": (
        "5762750ab10354049bb9fd31787d353050ca44fe48ddefb8442980b988f494f0",
        "drain_clock_tick calls it (every few hundred records, not after each)",
    ),
    "singer_sdk.target_base:Target._assert_sink_exists": (
        "cf81086896d5421f75bc43b85d11b24d99af96fca00d7feb61311e35af0dbaaf",
        "check_sink_exists calls it",
    ),
    "singer_sdk.target_base:Target.drain_all": (
        "1da0109210d345c4eb560910ef74e0b1eb34c605aef604f59d78986d4b130721",
        "sinks_in_drain_order mirrors its order (_sinks_to_clear, then _sinks_active); it "
        "must still call _write_state_message after draining",
    ),
    "singer_sdk.target_base:Target.drain_one": (
        "97c86cb67c13cf79ef979aa1d163879a594379ff3d3c9c42e33d6d9539505882",
        "target.py drains single sinks through it; process_batch must still be its only "
        "call into the sink's records",
    ),
    "singer_sdk.target_base:Target.invoke": (
        "09090ea685c4bda1ea3dcd177a8d8407e37f17f6d088f34dd01ac0214d4d4daa",
        "SdkTargetHooks.invoke copies it: copy any change",
    ),
    "singer_sdk.target_base:Target.__init__": (
        "8bd68db7b870726f485c63b6bed5cedf2c44aba132ea6d7315c2849231411a84",
        "the private attributes read here (_latest_state, _sinks_active, _sinks_to_clear)",
    ),
    "singer_sdk.plugin_base:_ConfigInput": (
        "9af0dd6ae9800be99fa103517ae39eb112b99cb60f599af352de8452fcafc079",
        "SdkTargetHooks.invoke uses it",
    ),
    "singer_sdk.plugin_base:PluginBase.invoke": (
        "75a3a489004add1cfa7bd64c5cf9b97c046757f6e6c1800861c1ae66ddfc9352",
        "SdkTargetHooks.invoke calls it for --about",
    ),
    "singer_sdk.plugin_base:BaseSingerReader.listen": (
        "5bdc6bfc69145dcd5bf04e266f6ffa8a1725ccbf020e185eb64f08c5fe740c47",
        "target.py's reader wraps the input it is given (line bound, UTF-8 check)",
    ),
    "singer_sdk.plugin_base:BaseSingerReader.process_lines": (
        "3442243efb20c07d27c342d4bed2c59bc21d6b43739259dcc4d193576ea07cbf",
        "the message types and the private callbacks SdkTargetHooks overrides",
    ),
    "singer_sdk.plugin_base:BaseSingerReader._assert_line_requires": (
        "f6e8d2627b01de7134828591133ce04522439b438032a9d85107e3c14867991a",
        "check_line_requires calls it",
    ),
    "singer_sdk.singerlib.encoding.base:GenericSingerReader.process_lines": (
        "f6d848854616d1d8f15ee84c52d07d1e04b96bd188832a8fddf1c35e96c4b35a",
        "the loop target.py's reader feeds (it must still iterate its input line by line)",
    ),
    "singer_sdk.singerlib.encoding.base:GenericSingerReader._process_unknown_message": (
        "8798370ec9695cdb5f4d4c4d68cb8070f6b304ee5ff406147aa68dbdd1cf2afe",
        "SdkMessageReader routes it to on_unknown_message",
    ),
    "singer_sdk.sinks.core:Sink.__init__": (
        "8013bcca4771f0ee116bf46c4a4aa1f13742bc079bbe38a2ef1e98e7d2a20ae2",
        "schema_validator reads the _validator it sets from get_validator()",
    ),
    "singer_sdk.sinks.core:Sink._validate_and_parse": (
        "970aadabcc4da8c7fd3b877bdd4d32e497db8f53f2f1a02bde60b6f097b11c24",
        "target.py's accept_record replaces it with ConversionSink.validate_record (no "
        "timestamp parsing)",
    ),
    "singer_sdk.sinks.core:Sink._singer_validate_message": (
        "018b08ee7f624f618b592153319c95009911e2d216e7ac692bd5d46a34d844d4",
        "target.py's accept_record inlines its key-property check",
    ),
    "singer_sdk.sinks.core:Sink._add_sdc_metadata_to_record": (
        "0ac381cf306bfc0c53a9635b73e6ba9491bb807f4f95d4e6ffcf15e21d221c81",
        "add_sdc_metadata calls it",
    ),
    "singer_sdk.sinks.core:Sink._remove_sdc_metadata_from_record": (
        "7cd9e5fb192f13ec47940ea5d50cb2ac5080d60acd3a473ceeaf629753eb0f63",
        "strip_sdc_metadata calls it",
    ),
    "singer_sdk.sinks.core:Sink._after_process_record": (
        "185b5536ec21f7fbe122833ce98e28a0a2795bae930eb6518613ef95ce9bbca6",
        "SdkBatchSinkHooks._after_process_record silences it",
    ),
    "singer_sdk.plugin_base:PluginBase._env_var_config": (
        "4e00272a5767a9a172cbc075f692da2479127388bb6580f8f739f3d370d169c9",
        "SdkTargetHooks._env_var_config replaces it without loading a .env file",
    ),
    "singer_sdk.plugin_base:PluginBase._env_var_prefix": (
        "87d8f7483c457e29fbcf5eaf942893fa9af151c1bc3a945cbfe3cd8665ee0566",
        "SdkTargetHooks._env_var_config reads variables with this prefix",
    ),
    "singer_sdk.configuration._dict_config:parse_environment_config": (
        "8795a086c3e468a6ff9735a0bb292b94ffe9ae9982086d140873f96736d6b11d",
        "SdkTargetHooks._env_var_config passes dotenv_path=os.devnull so no .env is loaded",
    ),
    "singer_sdk.sinks.batch:BatchSink._get_context": (
        "4e0d39040097dc9b9be88c7c3c7d57544c4533175731ea077b62e72fbf448184",
        "batch_context calls it",
    ),
}


def _resolve(qualified: str) -> object:
    module_name, _, path = qualified.partition(":")
    owner: Any = importlib.import_module(module_name)
    *outer, name = path.split(".")
    for part in outer:
        owner = getattr(owner, part)
    # The function as defined on that class, not one inherited from elsewhere.
    found = vars(owner)[name] if isinstance(owner, type) else getattr(owner, name)
    if isinstance(found, (classmethod, staticmethod)):
        found = found.__func__
    elif isinstance(found, property):
        found = found.fget
    return found


def source_hash(qualified: str, source_of: Callable[[Any], str] = inspect.getsource) -> str:
    """The sha256 of an SDK function's (or class's) source, as stored in SDK_MIRRORS."""
    return hashlib.sha256(source_of(_resolve(qualified)).encode()).hexdigest()


def changed_sdk_code(
    mirrors: Mapping[str, tuple[str, str]] = SDK_MIRRORS,
    source_of: Callable[[Any], str] = inspect.getsource,
) -> list[str]:
    """One message per mirrored SDK function whose source differs from its stored hash."""
    problems = []
    for qualified, (expected, recheck) in mirrors.items():
        try:
            actual = source_hash(qualified, source_of)
        except (AttributeError, ImportError, KeyError, OSError, TypeError):
            actual = "(not found)"
        if actual != expected:
            problems.append(
                f"singer-sdk {SDK_VERSION} changed {qualified} (hashes were taken from "
                f"{MIRRORED_SDK_VERSION}). Re-check in target_linkedin_capi/sdk_compat.py: "
                f"{recheck}. Then store its new hash {actual} in SDK_MIRRORS."
            )
    return problems


__all__ = [
    "SDK_MIRRORS",
    "SdkBatchSinkHooks",
    "SdkMessageReader",
    "SdkTargetHooks",
    "add_sdc_metadata",
    "batch_context",
    "changed_sdk_code",
    "source_hash",
    "strip_sdc_metadata",
]
