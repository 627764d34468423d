"""singer-sdk's private API stays in sdk_compat.py, pinned to the SDK code it mirrors; and
the input the SDK would act on unsafely (BATCH file references, unbounded lines, a RECORD
line that fails the line check) stops the real CLI with one paragraph.
"""

from __future__ import annotations

import ast
import gzip
import inspect
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from linkedin_capi_emulator import Emulator
from singer_sdk import BatchSink, Target
from singer_sdk.contrib.msgspec import MsgSpecReader

from target_linkedin_capi import sdk_compat
from tests.harness import SCHEMA, STREAM, base_config, hashed_email, record
from tests.helpers import CountingHandler, counting_server

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "target_linkedin_capi"
HARD_LIMIT = 60  # seconds: generous; a hang or a runaway is what is being ruled out
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \| [A-Z]+ +\| ")


# -- the pins on the SDK's code -------------------------------------------------------------


def test_the_sdk_code_sdk_compat_mirrors_is_unchanged() -> None:
    problems = sdk_compat.changed_sdk_code()
    assert not problems, "\n".join(problems)


def test_a_changed_sdk_method_is_named_with_what_to_recheck() -> None:
    changed = "singer_sdk.target_base:Target._process_state_message"

    def source_of(function: Any) -> str:
        text = inspect.getsource(function)
        if function.__qualname__ == "Target._process_state_message":
            return text + "        self._drain_now()\n"
        return text

    problems = sdk_compat.changed_sdk_code(source_of=source_of)
    assert len(problems) == 1
    assert changed in problems[0]
    assert sdk_compat.SDK_MIRRORS[changed][1] in problems[0]  # what to re-check
    assert "sdk_compat.py" in problems[0]


def test_a_method_the_sdk_no_longer_defines_is_reported() -> None:
    mirrors = {"singer_sdk.target_base:Target._gone_in_a_later_sdk": ("0" * 64, "x")}
    [problem] = sdk_compat.changed_sdk_code(mirrors)
    assert "Target._gone_in_a_later_sdk" in problem
    assert "(not found)" in problem


def _sdk_private_names() -> set[str]:
    """The single-underscore names of the SDK classes the target builds on: their methods
    and the attributes they set, across each class's bases."""
    names: set[str] = set()
    for base in (Target, BatchSink, MsgSpecReader):
        for cls in base.__mro__:
            if not cls.__module__.startswith("singer_sdk"):
                continue
            for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(cls)))):
                if isinstance(node, ast.FunctionDef):
                    names.add(node.name)
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                    names.add(node.attr)
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    names.add(node.target.id)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text())


def test_private_sdk_names_are_used_only_in_sdk_compat() -> None:
    sdk_private = _sdk_private_names()
    found = []
    for path, tree in _modules():
        if path.name == "sdk_compat.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                if private or any(p.startswith("_") for p in node.module.split(".")):
                    found.append(f"{path.name}:{node.lineno} from {node.module} import ...")
            elif isinstance(node, (ast.Attribute, ast.FunctionDef)):
                name = node.attr if isinstance(node, ast.Attribute) else node.name
                if name in sdk_private:
                    found.append(f"{path.name}:{node.lineno} {name}")
    assert found == [], "private singer-sdk names outside sdk_compat.py: " + ", ".join(found)


def test_target_and_sinks_use_no_underscore_attributes_at_all() -> None:
    # So that `grep -rn "\._[a-z]"` over them shows nothing: every SDK one is in sdk_compat.
    for name in ("target.py", "sinks.py"):
        text = (PACKAGE / name).read_text()
        assert re.findall(r"\._[a-z]", text) == [], name


def test_every_private_sdk_name_sdk_compat_uses_is_pinned() -> None:
    tree = ast.parse((PACKAGE / "sdk_compat.py").read_text())
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_")
    } | {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name.startswith("_")
    }
    used = {n for n in used if not n.startswith("__") and n in _sdk_private_names()}
    pinned = {key.rsplit(".", 1)[-1] for key in sdk_compat.SDK_MIRRORS}
    # Attributes, pinned through the __init__ that sets them.
    attributes = {"_latest_state", "_sinks_active", "_sinks_to_clear", "_validator"}
    assert used - pinned - attributes == set()


# -- the real CLI ---------------------------------------------------------------------------


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


def _head() -> bytes:
    """SCHEMA, record 1 and its STATE: what comes before the line under test."""
    return (
        _line({"type": "SCHEMA", "stream": STREAM, "schema": SCHEMA, "key_properties": ["id"]})
        + _line({"type": "RECORD", "stream": STREAM, "record": record(1)})
        + _line({"type": "STATE", "value": {"n": 1}})
    )


def _tail() -> bytes:
    """Record 3 and a STATE past the line under test: never to be reached."""
    return _line({"type": "RECORD", "stream": STREAM, "record": record(3)}) + _line(
        {"type": "STATE", "value": {"n": 2}}
    )


# Lowers the line bound in the child (the real CLI otherwise), so the test reads little.
CHILD = (
    "import sys\n"
    "from target_linkedin_capi import target\n"
    "target.QuietMsgSpecReader.max_line_chars = int(sys.argv.pop(1))\n"
    "target.TargetLinkedInCapi.cli()\n"
)


def _run(
    config: dict[str, Any],
    chunks: Iterator[bytes],
    tmp_path: Path,
    *,
    max_line_chars: int | None = None,
    memory_cap: int = 3 * 1024**3,
) -> tuple[int, str, str, list[dict[str, Any]]]:
    """The real CLI, fed by a writer thread, under a hard time limit and an address-space cap."""
    config = {**config, "rejected_records_path": str(tmp_path / "rejected.jsonl")}
    (tmp_path / "config.json").write_text(json.dumps(config))

    def limit_memory() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_cap, memory_cap))

    command = [sys.executable, "-m", "target_linkedin_capi"]
    if max_line_chars is not None:
        command = [sys.executable, "-c", CHILD, str(max_line_chars)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_LINKEDIN_CAPI_")}
    proc = subprocess.Popen(
        [*command, "--config", str(tmp_path / "config.json")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=limit_memory,
        env=env,
        cwd=tmp_path,  # the default delivery ledger is the test's, not the repository's
    )

    def write() -> None:
        assert proc.stdin is not None
        try:
            for chunk in chunks:
                proc.stdin.write(chunk)
            proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass  # the target stopped reading: the test looks at why

    out: dict[str, bytes] = {}
    threads = [threading.Thread(target=write, daemon=True)] + [
        threading.Thread(target=lambda n=n, f=f: out.__setitem__(n, f.read()), daemon=True)
        for n, f in (("stdout", proc.stdout), ("stderr", proc.stderr))
    ]
    for thread in threads:
        thread.start()
    try:
        proc.wait(timeout=HARD_LIMIT)
    finally:
        proc.kill()
    for thread in threads:
        thread.join(timeout=HARD_LIMIT)
        assert not thread.is_alive()
    stdout, stderr = out["stdout"].decode(), out["stderr"].decode()
    states = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return proc.returncode, stdout, stderr, states


def _assert_one_paragraph_error(returncode: int, stderr: str, expected: str) -> str:
    assert returncode == 1, stderr[-3000:]
    assert "Traceback" not in stderr
    assert all(LOG_LINE.match(line) for line in stderr.splitlines()), stderr[-3000:]
    errors = [line for line in stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, stderr[-3000:]
    assert expected in errors[0], errors[0]
    return errors[0]


def _assert_no_state_past_delivery(emu: Emulator, states: list[dict[str, Any]]) -> None:
    assert {"n": 2} not in states
    accepted = json.dumps(emu.state.accepted_events())
    if {"n": 1} in states:
        assert hashed_email(1) in accepted, "STATE before delivery"
    assert hashed_email(3) not in accepted


# Item 4: the line check on the record path.


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ({"type": "RECORD", "stream": STREAM}, "A RECORD line is missing required key(s): record"),
        (
            {"type": "RECORD", "record": record(2)},
            "A RECORD line is missing required key(s): stream",
        ),
        (
            {"type": "RECORD", "stream": [STREAM], "record": record(2)},
            "A RECORD line's stream is not a string",
        ),
        (
            {"type": "RECORD", "stream": {"name": STREAM}, "record": record(2)},
            "A RECORD line's stream is not a string",
        ),
    ],
    ids=["no_record", "no_stream", "stream_is_a_list", "stream_is_an_object"],
)
def test_a_record_line_that_fails_the_line_check_is_one_paragraph(
    emu: Emulator, rule: int, tmp_path: Path, bad: dict[str, Any], expected: str
) -> None:
    data = _head() + _line(bad) + _tail()
    returncode, _, stderr, states = _run(base_config(emu, rule), iter([data]), tmp_path)
    error = _assert_one_paragraph_error(returncode, stderr, expected)
    assert "The input cannot be processed" in error
    assert "Internal error" not in stderr
    _assert_no_state_past_delivery(emu, states)


# Item 5: BATCH messages.


@pytest.fixture
def batch_server() -> Iterator[tuple[str, type[CountingHandler]]]:
    """A local HTTP server that would serve a BATCH file, and counts whoever asks for it."""
    with counting_server("batch.jsonl.gz", gzip.compress(_line(record(7)))) as served:
        yield served


@pytest.mark.e2e
@pytest.mark.parametrize("where", ["local_file", "url"])
def test_a_batch_message_is_refused_and_nothing_it_names_is_read(
    emu: Emulator,
    rule: int,
    tmp_path: Path,
    batch_server: tuple[str, type[CountingHandler]],
    where: str,
) -> None:
    url, handler = batch_server
    if where == "local_file":
        local = tmp_path / "batch.jsonl.gz"
        local.write_bytes(gzip.compress(_line(record(7))))
        url = local.as_uri()
    batch = {
        "type": "BATCH",
        "stream": STREAM,
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "manifest": [url],
    }
    data = _head() + _line(batch) + _tail()
    returncode, _, stderr, states = _run(base_config(emu, rule), iter([data]), tmp_path)
    error = _assert_one_paragraph_error(
        returncode, stderr, f"A BATCH message for stream '{STREAM}'"
    )
    assert "never opens files or URLs" in error
    assert url not in stderr
    assert handler.hits == 0
    assert hashed_email(7) not in json.dumps(emu.state.accepted_events())
    _assert_no_state_past_delivery(emu, states)


def test_about_does_not_advertise_batch(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "target_linkedin_capi", "--about", "--format", "json"],
        capture_output=True,
        timeout=HARD_LIMIT,
        cwd=ROOT,
        check=True,
    )
    about = json.loads(proc.stdout)
    assert "batch" not in about["capabilities"]
    assert "batch_config" not in about["settings"]["properties"]


# Item 6: the bound on a line's length.


@pytest.mark.e2e
def test_a_huge_line_is_refused_without_being_held_whole(
    emu: Emulator, rule: int, tmp_path: Path
) -> None:
    # A 320 MiB line under a 400 MiB address-space cap (the target's threads and libraries
    # reserve about 200 MiB): the line cannot be held whole; reading at most the bound fits.
    mib = b"a" * (1024 * 1024)
    start = b'{"type":"RECORD","stream":"%s","record":{"id":2,"x":"' % STREAM.encode()

    def chunks() -> Iterator[bytes]:
        yield _head() + start
        for _ in range(320):
            yield mib
        yield b'"}}\n' + _tail()

    bound = 1024 * 1024
    returncode, _, stderr, states = _run(
        base_config(emu, rule),
        chunks(),
        tmp_path,
        max_line_chars=bound,
        memory_cap=400 * 1024**2,
    )
    _assert_one_paragraph_error(returncode, stderr, f"longer than {bound:,} characters")
    assert "aaaa" not in stderr
    assert "MemoryError" not in stderr
    _assert_no_state_past_delivery(emu, states)


@pytest.mark.e2e
def test_lines_up_to_the_bound_are_read(emu: Emulator, rule: int, tmp_path: Path) -> None:
    row = record(2, last_name="b" * 3000)
    line = _line({"type": "RECORD", "stream": STREAM, "record": row})
    data = _head() + line + _tail()
    returncode, _, stderr, states = _run(
        base_config(emu, rule), iter([data]), tmp_path, max_line_chars=len(line) - 1
    )
    assert returncode == 0, stderr[-3000:]
    assert states[-1] == {"n": 2}
    assert len(emu.state.accepted_events()) == 3


def test_env_config_never_loads_a_dotenv_file_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In a Meltano project the SDK finds the project's .env (searching upward from where it
    # is installed) and loads it over the environment: `check` would test the .env's token
    # while the run uses the one set in the shell.
    from singer_sdk.configuration import _dict_config

    from target_linkedin_capi.target import TargetLinkedInCapi

    dotenv = tmp_path / ".env"
    dotenv.write_text("TARGET_LINKEDIN_CAPI_ACCESS_TOKEN=from-dotenv\n", encoding="utf-8")
    monkeypatch.setattr(_dict_config, "find_dotenv", lambda *a, **k: str(dotenv))
    monkeypatch.setenv("TARGET_LINKEDIN_CAPI_ACCESS_TOKEN", "from-shell")
    assert TargetLinkedInCapi._env_var_config["access_token"] == "from-shell"
    assert os.environ["TARGET_LINKEDIN_CAPI_ACCESS_TOKEN"] == "from-shell"
