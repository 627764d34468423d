"""Hostile Singer input and schemas: the real CLI stops with one value-free paragraph (or
rejects the one record) and never hangs; the validator never runs a regex on values, never
fetches a $ref, and names only declared properties. Also the dependency floors/ceilings.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from linkedin_capi_emulator import Emulator

from target_linkedin_capi.sinks import (
    MAX_SCHEMA_DEPTH,
    CompiledValidator,
    FallbackValidator,
    RecordInvalid,
    SchemaRefused,
    _NoRemoteRefs,
    check_schema,
    validator_for,
)
from tests.harness import SCHEMA, STREAM, base_config, hashed_email, record
from tests.helpers import CountingHandler, child_env, counting_server

ROOT = Path(__file__).resolve().parent.parent
HARD_LIMIT = 30  # seconds: generous; a hang or a runaway is what is being ruled out
PRIVATE = "Alicia@Example.com"  # the value that must never be echoed
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \| [A-Z]+ +\| ")


# -- helpers ---------------------------------------------------------------------------------


def _deep(levels: int, leaf: dict[str, Any] | None = None) -> dict[str, Any]:
    node = leaf or {"type": "string"}
    for _ in range(levels):
        node = {"type": "object", "properties": {"a": node}}
    return node


def _with_property(name: str, subschema: dict[str, Any]) -> dict[str, Any]:
    return {**SCHEMA, "properties": {**SCHEMA["properties"], name: subschema}}


def _schema_line(schema: dict[str, Any] = SCHEMA, keys: tuple[str, ...] = ("id",)) -> bytes:
    line = {"type": "SCHEMA", "stream": STREAM, "schema": schema, "key_properties": list(keys)}
    return json.dumps(line).encode() + b"\n"


def _record_line(row: dict[str, Any]) -> bytes:
    return json.dumps({"type": "RECORD", "stream": STREAM, "record": row}).encode() + b"\n"


def _state_line(n: int) -> bytes:
    return json.dumps({"type": "STATE", "value": {"n": n}}).encode() + b"\n"


def _around(bad: bytes, schema: dict[str, Any] = SCHEMA) -> bytes:
    """A good record and its STATE, the hostile line, then more that must never be reached."""
    return (
        _schema_line(schema)
        + _record_line(record(1))
        + _state_line(1)
        + bad
        + _record_line(record(3))
        + _state_line(2)
    )


def _raw_record(body: str) -> bytes:
    return f'{{"type":"RECORD","stream":"{STREAM}","record":{body}}}\n'.encode()


def _run(
    config: dict[str, Any], data: bytes, tmp_path: Path, env: dict[str, str] | None = None
) -> tuple[int, str, str, list[dict[str, Any]], str]:
    """The real CLI on raw bytes, under a hard time limit and an address-space cap."""
    config = {**config, "rejected_records_path": str(tmp_path / "rejected.jsonl")}
    (tmp_path / "config.json").write_text(json.dumps(config))

    def limit_memory() -> None:
        import resource

        cap = 3 * 1024**3
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    proc = subprocess.run(
        [sys.executable, "-m", "target_linkedin_capi", "--config", str(tmp_path / "config.json")],
        input=data,
        capture_output=True,
        timeout=HARD_LIMIT,
        preexec_fn=limit_memory,
        env={**child_env(), **(env or {})},
        cwd=tmp_path,  # the default delivery ledger is the test's, not the repository's
        check=False,
    )
    stdout, stderr = proc.stdout.decode(), proc.stderr.decode()
    states = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    rejected_path = tmp_path / "rejected.jsonl"
    rejected = rejected_path.read_text() if rejected_path.exists() else ""
    return proc.returncode, stdout, stderr, states, rejected


def _assert_private_value_absent(*texts: str) -> None:
    digest = hashlib.sha256(PRIVATE.strip().lower().encode()).hexdigest()
    for text in texts:
        for form in (PRIVATE, PRIVATE.lower(), "Alicia", digest):
            assert form not in text


def _assert_one_paragraph_error(returncode: int, stderr: str, expected: str) -> None:
    assert returncode == 1, stderr
    assert "Traceback" not in stderr
    # Every line of stderr is a log record of its own: no continuation lines, no traceback.
    assert all(LOG_LINE.match(line) for line in stderr.splitlines()), stderr
    errors = [line for line in stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, stderr
    assert expected in errors[0], errors[0]


@pytest.fixture
def schema_server() -> Iterator[tuple[str, type[CountingHandler]]]:
    """A local HTTP server that would serve a schema, and counts whoever asks for one."""
    body = json.dumps({"type": "string"}).encode()
    with counting_server("schema.json", body, "application/json") as served:
        yield served


# -- the real CLI on hostile input (items 8, 14, 15) ----------------------------------------

ROW = {"id": 2, "email": PRIVATE, "first_name": "Alicia", "occurred_at": "2024-01-01T00:00:00Z"}
HOSTILE = {
    "invalid_utf8": (
        _around(
            b'{"type":"RECORD","stream":"%s","record":{"id":2,"first_name":"\xff\xfeAlicia"}}\n'
            % STREAM.encode()
        ),
        "not valid UTF-8",
    ),
    "nested_100000_deep": (
        _around(_raw_record(f'{{"id":2,"email":"{PRIVATE}","x":{"[" * 100_000 + "]" * 100_000}}}')),
        "nested too deeply",
    ),
    "integer_of_5000_digits": (
        _around(_raw_record(f'{{"id":{"7" * 5000},"email":"{PRIVATE}"}}')),
        "a number in it is too large",
    ),
    "missing_key_property": (
        _around(_record_line({k: v for k, v in ROW.items() if k != "id"})),
        "lacks the key property 'id'",
    ),
    "record_line_without_record": (
        _around(json.dumps({"type": "RECORD", "stream": STREAM, "row": ROW}).encode() + b"\n"),
        "A RECORD line is missing required key(s): record",
    ),
    "record_that_is_not_an_object": (
        _around(
            json.dumps({"type": "RECORD", "stream": STREAM, "record": [PRIVATE]}).encode() + b"\n"
        ),
        "record not an object",
    ),
    "unknown_message_type": (
        _around(json.dumps({"type": PRIVATE, "stream": STREAM}).encode() + b"\n"),
        "unknown message type",
    ),
    "line_that_is_not_an_object": (
        _around(json.dumps([PRIVATE]).encode() + b"\n"),
        "not a JSON object",
    ),
    "schema_nested_300_deep": (
        _schema_line(_with_property("deep", _deep(300))) + _record_line(ROW),
        f"nested more than {MAX_SCHEMA_DEPTH} levels deep",
    ),
    "schema_file_ref": (
        _schema_line(_with_property("email", {"$ref": "file:///etc/passwd"})) + _record_line(ROW),
        "refers to another document",
    ),
}


@pytest.mark.e2e
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_input_is_one_paragraph_exit_1_no_value_no_state_past_delivery(
    emu: Emulator, rule: int, tmp_path: Path, case: str
) -> None:
    data, expected = HOSTILE[case]
    returncode, stdout, stderr, states, rejected = _run(base_config(emu, rule), data, tmp_path)
    _assert_one_paragraph_error(returncode, stderr, expected)
    _assert_private_value_absent(stdout, stderr, rejected)
    if case.startswith("schema_"):
        assert states == []
        assert f"stream '{STREAM}'" in stderr
    # STATE 2 lies beyond the hostile line: never. STATE 1 only once record 1 is delivered.
    assert {"n": 2} not in states
    if {"n": 1} in states:
        assert [e["eventId"] for e in emu.state.accepted_events()], "STATE before delivery"
    assert hashed_email(3) not in json.dumps(emu.state.accepted_events())


@pytest.mark.e2e
def test_a_remote_ref_is_refused_and_never_fetched(
    emu: Emulator, rule: int, tmp_path: Path, schema_server: tuple[str, type[CountingHandler]]
) -> None:
    url, handler = schema_server
    schema = _with_property("email", {"$ref": url})
    data = _schema_line(schema) + _record_line(ROW) + _state_line(1)
    returncode, _, stderr, states, _ = _run(base_config(emu, rule), data, tmp_path)
    _assert_one_paragraph_error(returncode, stderr, "refers to another document")
    assert handler.hits == 0
    assert states == []
    assert url not in stderr  # a reference may carry credentials: not echoed either


@pytest.mark.e2e
def test_a_catastrophic_pattern_in_the_schema_does_not_hang_validation(
    emu: Emulator, rule: int, tmp_path: Path
) -> None:
    schema = _with_property("first_name", {"type": "string", "pattern": "^(a+)+$"})
    rows = [record(i, first_name="a" * 60 + "!") for i in range(3)]
    data = _schema_line(schema) + b"".join(_record_line(r) for r in rows) + _state_line(9)
    returncode, _, stderr, states, _ = _run(base_config(emu, rule), data, tmp_path)
    assert returncode == 0, stderr
    assert len(emu.state.accepted_events()) == 3
    assert states == [{"n": 9}]


@pytest.mark.e2e
def test_a_failing_stream_map_names_the_stream_and_type_not_the_value(
    emu: Emulator, rule: int, tmp_path: Path
) -> None:
    config = {**base_config(emu, rule), "stream_maps": {STREAM: {"n": "int(first_name)"}}}
    data = _schema_line() + _record_line(ROW) + _state_line(1)
    for env in ({}, {"TARGET_LINKEDIN_CAPI_LOGLEVEL": "DEBUG"}):
        returncode, stdout, stderr, states, rejected = _run(config, data, tmp_path, env)
        assert returncode == 1
        errors = [line for line in stderr.splitlines() if "| ERROR" in line]
        assert len(errors) == 1
        assert f"stream map for stream '{STREAM}' failed" in errors[0]
        assert "TypeError" in errors[0] or "ValueError" in errors[0]
        assert "invalid literal" not in stderr
        _assert_private_value_absent(stdout, stderr, rejected)
        if not env:
            _assert_one_paragraph_error(returncode, stderr, "stream map")
        assert states == []


@pytest.mark.e2e
def test_an_internal_error_is_one_paragraph_and_debug_shows_frames_not_messages(
    emu: Emulator, rule: int, tmp_path: Path
) -> None:
    # A stream map expression over a nested value the mapper cannot copy past the recursion
    # limit would be contrived; instead an unexpected exception is injected into the sink.
    plugin = tmp_path / "sitecustomize.py"
    plugin.write_text(
        "from target_linkedin_capi import sinks\n"
        "def boom(self, record, context):\n"
        "    raise KeyError(record.get('email'))\n"
        "sinks.ConversionSink.process_record = boom\n"
    )
    data = _around(_record_line(ROW))
    for level in ("INFO", "DEBUG"):
        env = {"PYTHONPATH": f"{tmp_path}:{ROOT}", "TARGET_LINKEDIN_CAPI_LOGLEVEL": level}
        returncode, stdout, stderr, states, rejected = _run(
            base_config(emu, rule), data, tmp_path, env
        )
        assert returncode == 1
        errors = [line for line in stderr.splitlines() if "| ERROR" in line]
        assert len(errors) == 1
        assert f"Internal error (KeyError) while processing stream '{STREAM}'" in errors[0]
        assert states == []
        _assert_private_value_absent(stdout, stderr, rejected)
        assert "Person1@Example.COM".lower() not in stderr.lower()
        if level == "INFO":
            _assert_one_paragraph_error(returncode, stderr, "Internal error (KeyError)")
        else:
            assert "in process_record" in stderr or "in boom" in stderr  # the frames are there
            assert "KeyError: (message not shown)" in stderr


@pytest.mark.e2e
def test_a_long_integer_the_reader_can_decode_is_a_record_problem_and_the_run_goes_on(
    emu: Emulator, rule: int, tmp_path: Path
) -> None:
    # Up to 4300 digits (Python's int conversion limit, which msgspec keeps) a number is
    # read; as an amount it is rejected with a reason, and the run delivers the rest.
    bad = _raw_record(
        f'{{"id":2,"email":"{PRIVATE}","occurred_at":"{record(2)["occurred_at"]}",'
        f'"amount":{"9" * 4300},"currency":"usd"}}'
    )
    data = _around(bad)
    returncode, stdout, stderr, states, rejected = _run(base_config(emu, rule), data, tmp_path)
    assert returncode == 0, stderr
    assert states[-1] == {"n": 2}
    assert len(emu.state.accepted_events()) == 2
    [line] = [json.loads(x) for x in rejected.splitlines()]
    assert line["reason"] == "value_invalid" and line["key"] == {"id": 2}
    _assert_private_value_absent(stdout, stderr, rejected)


# -- the validator (item 14) ----------------------------------------------------------------

PERSON_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": "string", "format": "email", "pattern": "^(a+)+$"},
        "tags": {
            "type": "array",
            "items": {"type": "object", "properties": {"k": {"type": "string"}},
                      "additionalProperties": {"type": "integer"}},
        },
        "pattern": {"type": "string"},  # a property named like a keyword is kept
    },
    "patternProperties": {"^x_": {"type": "string"}},
    "additionalProperties": False,
}  # fmt: skip


@pytest.mark.parametrize("validator_class", [CompiledValidator, FallbackValidator])
def test_paths_name_only_declared_properties_and_never_a_value(validator_class: type) -> None:
    validator = validator_class(PERSON_SCHEMA, "people")
    cases = {
        "id": {"id": PRIVATE},
        "tags[].k": {"tags": [{"k": 5}]},
        "tags[].<undeclared>": {"tags": [{PRIVATE: PRIVATE}]},
        "pattern": {"pattern": 7},
    }
    for path, row in cases.items():
        with pytest.raises(RecordInvalid) as caught:
            validator.validate(row)
        message = str(caught.value)
        assert message.startswith(f"{path} must match its schema"), message
        assert "Alicia" not in message and "example" not in message.lower()


@pytest.mark.parametrize("validator_class", [CompiledValidator, FallbackValidator])
def test_patterns_and_formats_are_not_evaluated_and_pattern_properties_refuse_nothing(
    validator_class: type,
) -> None:
    validator = validator_class(PERSON_SCHEMA, "people")
    validator.validate({"email": "not an email", "x_note": "kept", "pattern": "p"})


def test_a_catastrophic_pattern_does_not_hang_the_validator() -> None:
    code = (
        "schema = {'type': 'object', 'properties': {'s': {'type': 'string', 'pattern': '^(a+)+$'}},"
        " 'patternProperties': {'^(b+)+$': {'type': 'string'}}}\n"
        "row = {'s': 'a' * 64 + '!', 'b' * 64 + '!': 'x'}\n"
    )
    _assert_both_validators_finish(code)


@pytest.mark.parametrize(
    "ref", ["file:///etc/passwd", "http://127.0.0.1:9/x.json", "other.json#/a", "//host/x", 5]
)
def test_references_outside_the_document_are_refused_naming_the_stream(ref: Any) -> None:
    schema = {"type": "object", "properties": {"a": {"anyOf": [{"$ref": ref}]}}}
    for build in (check_schema, CompiledValidator, FallbackValidator):
        with pytest.raises(SchemaRefused, match=r"stream 'orders'.*another document"):
            build("orders", schema) if build is check_schema else build(schema, "orders")


def test_references_inside_the_document_still_work() -> None:
    schema = {
        "type": "object",
        "definitions": {"money": {"type": "number"}},
        "properties": {"amount": {"$ref": "#/definitions/money"}, "$ref": {"type": "string"}},
    }
    for cls in (CompiledValidator, FallbackValidator):
        validator = cls(schema, "orders")
        validator.validate({"amount": 3, "$ref": "a property, not a reference"})
        with pytest.raises(RecordInvalid, match=r"^amount must match"):
            validator.validate({"amount": "three"})


def test_no_validator_fetches_a_reference_even_if_one_slipped_through(
    schema_server: tuple[str, type[CountingHandler]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import fastjsonschema

    from target_linkedin_capi import sinks

    url, handler = schema_server
    schema = {"type": "object", "properties": {"a": {"$ref": url}}}
    with pytest.raises(fastjsonschema.JsonSchemaDefinitionException):
        fastjsonschema.compile(schema, handlers=_NoRemoteRefs())
    monkeypatch.setattr(sinks, "check_schema", lambda stream, schema: None)
    validator = FallbackValidator(schema, "orders")
    with pytest.raises(Exception):  # noqa: PT011 - unresolvable, whatever jsonschema calls it
        validator.validate({"a": "x"})
    assert handler.hits == 0


def test_schema_depth_and_size_are_bounded() -> None:
    check_schema("orders", _deep(MAX_SCHEMA_DEPTH // 2 - 1))  # two levels per object
    with pytest.raises(SchemaRefused, match="stream 'orders' is nested more than"):
        check_schema("orders", _deep(300))
    with pytest.raises(SchemaRefused, match="stream 'orders' is nested more than"):
        check_schema("orders", {"type": "object", "default": _nested_list(100_000)})
    wide = {"type": "object", "properties": {f"c{i}": {"type": "string"} for i in range(150_000)}}
    with pytest.raises(SchemaRefused, match="stream 'orders' has more than"):
        check_schema("orders", wide)


def _nested_list(levels: int) -> list[Any]:
    node: list[Any] = []
    for _ in range(levels):
        node = [node]
    return node


# -- dependencies (item 16) ----------------------------------------------------------------


def test_dependency_bounds_exclude_the_vulnerable_requests_and_the_next_majors() -> None:
    from importlib.metadata import version

    from packaging.requirements import Requirement

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = {Requirement(r).name: Requirement(r) for r in project["dependencies"]}
    requests_spec = requirements["requests"].specifier
    assert "2.32.3" not in requests_spec and "2.32.0" not in requests_spec
    assert "2.32.4" in requests_spec and "3.0" not in requests_spec
    for name in ("msgspec", "tenacity", "python-dateutil", "fastjsonschema", "requests"):
        spec = requirements[name].specifier
        installed = version(name)
        assert spec.contains(installed), (name, installed)
        major = int(installed.split(".")[0])
        assert not spec.contains(f"{major + 1}.0"), f"{name} has no upper bound"


# -- keywords whose check is not linear in the value (found by review) ----------------------


@pytest.mark.e2e
def test_costly_keywords_do_not_hang_validation() -> None:
    """`multipleOf` on 1e999990 built a million-digit integer (36 s a record); `uniqueItems`
    over items whose hashes collide (or unhashable ones, in the fallback) is quadratic."""
    code = (
        "from decimal import Decimal\n"
        "schema = {'type': 'object', 'properties': {\n"
        "    'v': {'type': 'number', 'multipleOf': 1},\n"
        "    'ints': {'type': 'array', 'uniqueItems': True},\n"
        "    'objs': {'type': 'array', 'uniqueItems': True}}}\n"
        "row = {'v': Decimal('1e999990'), 'ints': [i * (2**61 - 1) for i in range(60_000)],\n"
        "       'objs': [{'i': i} for i in range(20_000)]}\n"
    )
    _assert_both_validators_finish(code)


def test_a_schema_too_nested_for_the_code_generator_is_refused_naming_the_stream() -> None:
    node: dict[str, Any] = {"type": "string"}
    for _ in range(20):
        node = {"anyOf": [node, {"type": "null"}]}
    schema = {"type": "object", "properties": {"x": node}}
    check_schema("orders", schema)  # within the depth and size bounds
    with pytest.raises(SchemaRefused, match="stream 'orders' is too complex"):
        validator_for(schema, "orders")


def _assert_both_validators_finish(setup: str) -> None:
    """Run both validators on `row` against `schema` (defined by `setup`) in a child process,
    under a hard time limit: a check that hangs fails the test instead of the suite."""
    code = (
        "from target_linkedin_capi.sinks import CompiledValidator, FallbackValidator\n"
        + setup
        + "for cls in (CompiledValidator, FallbackValidator):\n"
        "    cls(schema, 's').validate(row)\n"
        "print('validated')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=HARD_LIMIT,
        cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "validated"
