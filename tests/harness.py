"""Shared helpers for end-to-end tests: Singer input, the real CLI, its outputs."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tests.constants import EMULATOR_ACCOUNT, EMULATOR_TOKEN
from tests.helpers import child_env

STREAM = "public-conversions"
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": ["string", "null"]},
        "occurred_at": {"type": ["string", "null"], "format": "date-time"},
        "amount": {"type": ["number", "null"]},
        "currency": {"type": ["string", "null"]},
        "first_name": {"type": ["string", "null"]},
        "last_name": {"type": ["string", "null"]},
        # Declared because MAPPINGS may read it: a mapping to an undeclared column stops the run.
        "event_key": {"type": ["string", "null"]},
        "ip": {"type": ["string", "null"]},
        "company": {"type": ["string", "null"]},
    },
}
MAPPINGS = {
    "timestamp": "occurred_at",
    "value_amount": "amount",
    "value_currency": "currency",
    "event_id": "event_key",
}


def email_of(i: int) -> str:
    return f"  Person{i}@Example.COM "


def hashed_email(i: int) -> str:
    return hashlib.sha256(email_of(i).strip().lower().encode()).hexdigest()


def occurred_at(i: int, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return (now - timedelta(days=i % 60, minutes=5)).isoformat()


def record(i: int, **overrides: Any) -> dict[str, Any]:
    row = {
        "id": i,
        "email": email_of(i),
        "occurred_at": occurred_at(i),
        "amount": 10 + i % 7,
        "currency": "usd",
        "first_name": None,
        "last_name": None,
    }
    row.update(overrides)
    return row


def singer(
    records: list[dict[str, Any]],
    *,
    state_every: int | None = None,
    stream: str = STREAM,
    key_properties: tuple[str, ...] = ("id",),
) -> str:
    """Singer lines: SCHEMA, the records, and a STATE after every `state_every` records."""
    lines = [
        json.dumps(
            {
                "type": "SCHEMA",
                "stream": stream,
                "schema": SCHEMA,
                "key_properties": list(key_properties),
            }
        )
    ]
    for n, row in enumerate(records, start=1):
        lines.append(json.dumps({"type": "RECORD", "stream": stream, "record": row}))
        if state_every and n % state_every == 0:
            lines.append(json.dumps({"type": "STATE", "value": {"last_id": row["id"]}}))
    if records:
        lines.append(json.dumps({"type": "STATE", "value": {"last_id": records[-1]["id"]}}))
    return "\n".join(lines) + "\n"


@dataclass
class RunResult:
    returncode: int
    stdout: str
    stderr: str
    states: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    seconds: float


def run_target(
    config: dict[str, Any],
    input_text: str,
    workdir: Path,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    pace: tuple[int, float] | None = None,
) -> RunResult:
    """Run the real CLI (`python -m target_linkedin_capi`) on `input_text`.

    `pace=(lines, seconds)` feeds the input like a slow tap: `lines` at a time, then a pause.
    It runs in `workdir`, so the default delivery ledger (`.linkedin-capi/` in the working
    directory) is the workdir's: two runs in one workdir share it, none lands in the repo.
    """
    config = dict(config)
    config.setdefault("rejected_records_path", str(workdir / "rejected.jsonl"))
    config_path = workdir / "config.json"
    config_path.write_text(json.dumps(config))
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "target_linkedin_capi", "--config", str(config_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**child_env(), **(env or {})},
        cwd=workdir,
    )
    if pace is None:
        stdout, stderr = proc.communicate(input_text, timeout=timeout)
    else:
        out: dict[str, str] = {}
        readers = [
            threading.Thread(target=lambda n=name, f=stream: out.__setitem__(n, f.read()))
            for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr))
        ]
        for reader in readers:
            reader.start()
        _feed(proc, input_text, pace)
        proc.wait(timeout=timeout)
        for reader in readers:
            reader.join()
        stdout, stderr = out["stdout"], out["stderr"]
    states = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    rejected_path = Path(config["rejected_records_path"])
    rejected = (
        [json.loads(line) for line in rejected_path.read_text().splitlines()]
        if rejected_path.exists()
        else []
    )
    return RunResult(proc.returncode, stdout, stderr, states, rejected, time.monotonic() - started)


def _feed(proc: subprocess.Popen[str], text: str, pace: tuple[int, float]) -> None:
    lines, pause = pace
    rows = text.splitlines(keepends=True)
    assert proc.stdin is not None
    try:
        for start in range(0, len(rows), lines):
            proc.stdin.write("".join(rows[start : start + lines]))
            proc.stdin.flush()
            time.sleep(pause)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # the target stopped early; the test looks at why


def base_config(emu: Any, rule_id: int | str, **overrides: Any) -> dict[str, Any]:
    config = {
        "access_token": EMULATOR_TOKEN,
        "api_base_url": emu.base_url,
        "oauth_token_url": emu.oauth_token_url,
        "ad_account_id": str(EMULATOR_ACCOUNT),
        "conversion_rule_id": str(rule_id),
        "field_mappings": {k: v for k, v in MAPPINGS.items() if k != "event_id"},
        "retry_max_wait_seconds": 30,
        "connect_timeout_seconds": 2,
        "read_timeout_seconds": 5,
    }
    config.update(overrides)
    return config


def accepted_ids(emu: Any) -> list[str]:
    return [event["eventId"] for event in emu.state.accepted_events()]
