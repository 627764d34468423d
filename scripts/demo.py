"""The demo: a real `meltano run tap-jsonl target-linkedin-capi` into the local LinkedIn emulator.

Run it with `nox -s demo`, which installs the locked dependencies and the Meltano plugins
first; or, in an environment that has them (`uv sync` + `meltano install`), with
`python scripts/demo.py`.

It writes the sample conversions in demo/demo_conversions.jsonl with times relative to now
(LinkedIn accepts only the last 90 days) to .meltano/demo/input/, starts the emulator
(`python -m linkedin_capi_emulator --port 0`), runs
`meltano --environment demo run tap-jsonl target-linkedin-capi` against it and prints what
LinkedIn (the emulator) received. Exit code 1 when the outcome differs from what the sample
rows expect. Logs and the rejected-records file stay in .meltano/demo/.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO_SAMPLE = ROOT / "demo" / "demo_conversions.jsonl"
DEMO_DIR = ROOT / ".meltano" / "demo"
DEMO_TAP = "tap-jsonl"
LOADER = "target-linkedin-capi"
EMULATOR_TOKEN = "emulator-token"  # noqa: S105 - the emulator's fixed fake token
EMULATOR_ACCOUNT = "5010001"
DEMO_CAMPAIGNS = ["6010001", "6010002"]
DEMO_RULE_NAME = "Demo purchases (CAPI)"
STEP_TIMEOUT = 600  # seconds


def _say(message: str) -> None:
    print(message, flush=True)


def _step(message: str) -> float:
    _say(f"==> {message}")
    return time.monotonic()


def _done(started: float, note: str = "") -> None:
    extra = f" ({note})" if note else ""
    _say(f"    done in {time.monotonic() - started:.1f}s{extra}")


def _bin(name: str) -> Path:
    """An executable of the environment this script runs in (meltano, ...)."""
    return Path(sys.executable).parent / name


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env.setdefault("NO_COLOR", "1")
    env["PATH"] = os.pathsep.join([str(_bin("python").parent), env.get("PATH", "")])
    return env


class StepFailedError(Exception):
    """A demo step failed; its output has been shown."""

    def __init__(self, message: str, returncode: int = 1) -> None:
        super().__init__(message)
        self.returncode = returncode or 1


def _run(
    cmd: list[str],
    *,
    what: str,
    env: dict[str, str] | None = None,
    timeout: float = STEP_TIMEOUT,
    log_file: Path | None = None,
) -> str:
    """Run a command quietly; on failure show its output and raise StepFailedError."""
    try:
        proc = subprocess.run(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.output if isinstance(exc.output, str) else (exc.output or b"").decode()
        _show_failure(what, cmd, output)
        raise StepFailedError(f"{what} timed out after {timeout:.0f}s") from None
    except OSError as exc:
        raise StepFailedError(f"{what}: cannot run {cmd[0]}: {exc}") from None
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.write_text(proc.stdout, encoding="utf-8")
    if proc.returncode != 0:
        _show_failure(what, cmd, proc.stdout)
        raise StepFailedError(f"{what} failed (exit code {proc.returncode})", proc.returncode)
    return proc.stdout


def _show_failure(what: str, cmd: list[str], output: str) -> None:
    _say(f"!!! {what} failed: {' '.join(cmd)}")
    _say("---------------------------------------- output ----------------------------------------")
    sys.stdout.write(output if output.endswith("\n") or not output else output + "\n")
    _say("----------------------------------------------------------------------------------------")


_RELATIVE_TIME = re.compile(
    r"^now(?:(?P<sign>[+-])(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?)?$"
)


def _resolve_time(value: Any, now: dt.datetime) -> Any:
    """Turn "now-3d4h5m" / "now+2d" into an ISO-8601 UTC timestamp (millisecond precision)."""
    if not isinstance(value, str):
        return value
    match = _RELATIVE_TIME.match(value)
    if not match:
        return value
    delta = dt.timedelta(
        days=int(match["d"] or 0), hours=int(match["h"] or 0), minutes=int(match["m"] or 0)
    )
    moment = now - delta if match["sign"] == "-" else now + delta
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def generate_demo_input(out_dir: Path) -> list[dict[str, Any]]:
    """Write the bundled sample with timestamps relative to now; return the rows (with _expect)."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    rows: list[dict[str, Any]] = []
    with DEMO_SAMPLE.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                rows.append(json.loads(line))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    resolved = [{key: _resolve_time(value, now) for key, value in row.items()} for row in rows]
    with (out_dir / "conversions.jsonl").open("w", encoding="utf-8") as handle:
        for row in resolved:
            record = {key: value for key, value in row.items() if not key.startswith("_")}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return resolved


def _event_problems(event: dict[str, Any], row: dict[str, Any]) -> list[str]:
    """Where an accepted event differs from what its sample row should have become."""
    problems = []
    user = event.get("user") or {}
    ids = {(item.get("idType"), item.get("idValue")) for item in user.get("userIds") or []}
    if row.get("email"):
        digest = hashlib.sha256(row["email"].strip().lower().encode("utf-8")).hexdigest()
        if ("SHA256_EMAIL", digest) not in ids:
            problems.append("no SHA256_EMAIL of the trimmed, lower-cased email")
    if (
        row.get("li_fat_id")
        and ("LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", row["li_fat_id"]) not in ids
    ):
        problems.append("no LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID")
    happened = dt.datetime.fromisoformat(str(row["occurred_at"]).replace("Z", "+00:00"))
    if event.get("conversionHappenedAt") != int(happened.timestamp() * 1000):
        problems.append(f"conversionHappenedAt {event.get('conversionHappenedAt')} != occurred_at")
    value = event.get("conversionValue")
    if row.get("amount") is None:
        if value is not None:
            problems.append("conversionValue sent for a row without an amount")
    elif not value or Decimal(str(value.get("amount"))) != Decimal(str(row["amount"])):
        problems.append(f"conversionValue {value} != amount {row['amount']}")
    elif value.get("currencyCode") != (row.get("currency") or "USD"):
        problems.append(f"currency {value.get('currencyCode')} != {row.get('currency') or 'USD'}")
    return problems


class EmulatorProcess:
    """`python -m linkedin_capi_emulator --port 0 --ready-file ...` as a subprocess."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def __enter__(self) -> EmulatorProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        ready_file = Path(tempfile.mkdtemp(prefix="capi-emulator-")) / "ready"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "linkedin_capi_emulator",
                "--port",
                "0",
                "--ready-file",
                str(ready_file),
            ],
            cwd=ROOT,
            env=_base_env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if ready_file.exists() and ready_file.read_text().strip():
                self.url = ready_file.read_text().strip().rstrip("/")
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        shutil.rmtree(ready_file.parent, ignore_errors=True)
        if not self.url:
            self.__exit__(None, None, None)
            output = self.log_path.read_text(errors="replace")
            _show_failure(
                "Starting the LinkedIn emulator",
                ["python", "-m", "linkedin_capi_emulator"],
                output,
            )
            raise StepFailedError("the LinkedIn emulator did not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(Exception):
            self._log.close()

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:  # noqa: S310 - local URL
            return json.loads(response.read().decode("utf-8"))


def _as_list(value: Any, *keys: str) -> list[Any]:
    """Find a list in an emulator response that may be a list or a dict wrapping it."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        for key in keys:
            if isinstance(value.get(key), list):
                return value[key]
    return []


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
    return records


def _source_id(rejection: dict[str, Any]) -> str | None:
    """The sample row a rejected-records line is about: its key `id`, else its event id."""
    key = rejection.get("key")
    if isinstance(key, dict) and key.get("id") is not None:
        return str(key["id"])
    if rejection.get("event_id") is not None:
        return str(rejection["event_id"])
    return None


def _urn_id(value: Any) -> str:
    return str(value).rsplit(":", 1)[-1] if value is not None else "?"


def report_demo(
    emulator: EmulatorProcess, rows: list[dict[str, Any]], rejected_path: Path, run_seconds: float
) -> list[str]:
    """Print what the emulator received; return a list of problems (empty = demo behaved)."""
    problems: list[str] = []
    state = emulator.get("/_emulator/state")
    events = _as_list(emulator.get("/_emulator/events"), "events", "elements", "accepted")
    rules = _as_list(state, "rules")
    links = _as_list(state, "campaign_links", "campaignLinks", "links", "campaign_conversions")
    rejected = _read_jsonl(rejected_path)

    expected_rejected = {
        row["id"] for row in rows if str(row.get("_expect", "")).startswith("rejected")
    }
    expected_accepted = {row["id"] for row in rows} - expected_rejected

    _say("")
    _say("================ What LinkedIn (the emulator) received ================")
    _say(f"meltano run {DEMO_TAP} {LOADER}: {len(rows)} sample rows in {run_seconds:.1f}s")
    if rules:
        for rule in rules:
            _say(
                "Conversion rule: id {id}  name {name!r}  type {type}  method {method}  "
                "account {account}".format(
                    id=rule.get("id", "?"),
                    name=rule.get("name", "?"),
                    type=rule.get("type", "?"),
                    method=rule.get("conversionMethod", "?"),
                    account=rule.get("account", "?"),
                )
            )
    else:
        problems.append("no conversion rule was created")
        _say("Conversion rule: none created")
    linked = sorted({_urn_id(link.get("campaign")) for link in links if isinstance(link, dict)})
    _say(f"Campaigns linked to the rule: {', '.join(linked) if linked else 'none'}")
    if sorted(str(c) for c in DEMO_CAMPAIGNS) != linked:
        problems.append(f"campaigns linked {linked}, expected {DEMO_CAMPAIGNS}")

    event_ids = [str(event.get("eventId")) for event in events]
    _say(f"Events accepted: {len(events)} ({len(set(event_ids))} distinct eventIds)")
    if events:
        _say("Sample event (as LinkedIn received it):")
        sample = json.dumps(events[0], indent=2, ensure_ascii=False)
        _say("\n".join("    " + line for line in sample.splitlines()))
    if not events:
        problems.append("LinkedIn (the emulator) accepted no events")
    rows_by_id = {str(row["id"]): row for row in rows}
    for event in events:
        row = rows_by_id.get(str(event.get("eventId")))
        if row is None:
            problems.append(f"event {event.get('eventId')!r} matches no sample row")
            continue
        problems.extend(f"event {row['id']}: {issue}" for issue in _event_problems(event, row))
    if events and not problems:
        _say("Every event carries its row's hashed email, li_fat_id, timestamp (ms) and value.")

    _say(
        f"Records rejected by the target: {len(rejected)}  "
        f"(details: {rejected_path.relative_to(ROOT)})"
    )
    by_reason = Counter(str(item.get("reason", "?")) for item in rejected)
    expectations = {row["id"]: row.get("_expect", "") for row in rows}
    for reason, count in by_reason.most_common():
        examples = [item for item in rejected if str(item.get("reason", "?")) == reason]
        first = examples[0]
        where = f" field {first['field']}" if first.get("field") else ""
        _say(
            f"    {reason:<24} {count:>3}  e.g. {_source_id(first)}{where}: "
            f"{first.get('message', '')}"
        )
    rejected_ids = {_source_id(item) for item in rejected}
    rejected_ids.discard(None)

    unexpected_rejects = sorted(rejected_ids & expected_accepted)
    missing_rejects = sorted(expected_rejected - rejected_ids)
    missing_events = sorted(expected_accepted - set(event_ids))
    other_reasons = []
    for item in rejected:
        row_id = _source_id(item)
        expected = str(expectations.get(row_id, ""))
        if expected.startswith("rejected: "):
            expected_reason = expected[len("rejected: ") :].split()[0]
            if expected_reason != str(item.get("reason")):
                other_reasons.append(
                    f"{row_id}: expected {expected_reason}, got {item.get('reason')}"
                )
    if unexpected_rejects or missing_rejects or missing_events or other_reasons:
        _say("Differences from the sample's expectations:")
        for line in other_reasons:
            _say(f"    {line}")
        for row_id in unexpected_rejects:
            _say(f"    {row_id}: expected {expectations[row_id]!r} but it was rejected")
        for row_id in missing_rejects:
            status = "sent to LinkedIn" if row_id in event_ids else "neither sent nor rejected"
            _say(f"    {row_id}: expected {expectations[row_id]!r} but it was {status}")
        for row_id in missing_events:
            if row_id not in rejected_ids:
                _say(f"    {row_id}: expected {expectations[row_id]!r} but no event arrived")
    else:
        _say(
            f"All {len(expected_accepted)} valid rows arrived and all "
            f"{len(expected_rejected)} invalid rows "
            "were rejected, as the sample expects."
        )
    # Reason codes may be refined over time; a valid row lost or an invalid row sent may not.
    if unexpected_rejects:
        problems.append(f"valid sample rows were rejected: {unexpected_rejects}")
    if missing_rejects:
        problems.append(f"invalid sample rows were not rejected: {missing_rejects}")
    lost = sorted(set(missing_events) - set(unexpected_rejects))
    if lost:
        problems.append(f"valid sample rows never reached LinkedIn: {lost}")
    _say("=======================================================================")
    return problems


def run_demo() -> int:
    rejected_path = DEMO_DIR / "rejected-records.jsonl"
    started = _step(
        f"Generating the demo input from {DEMO_SAMPLE.relative_to(ROOT)} "
        "(timestamps relative to now)"
    )
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    rows = generate_demo_input(DEMO_DIR / "input")
    for stale in (rejected_path, DEMO_DIR / "dry-run.jsonl"):
        stale.unlink(missing_ok=True)
    _done(started, f"{len(rows)} rows -> .meltano/demo/input/conversions.jsonl")

    started = _step("Starting the LinkedIn emulator (python -m linkedin_capi_emulator --port 0)")
    with EmulatorProcess(DEMO_DIR / "emulator.log") as emulator:
        _done(started, f"listening on {emulator.url}")
        env = _base_env()
        for key in [k for k in env if k.startswith("TARGET_LINKEDIN_CAPI_")]:
            env.pop(key)  # leftovers from the caller's shell would point the demo elsewhere
        env.update(
            {
                "TARGET_LINKEDIN_CAPI_API_BASE_URL": f"{emulator.url}/rest",
                "TARGET_LINKEDIN_CAPI_OAUTH_TOKEN_URL": f"{emulator.url}/oauth/v2/accessToken",
                "TARGET_LINKEDIN_CAPI_ACCESS_TOKEN": EMULATOR_TOKEN,
                "TARGET_LINKEDIN_CAPI_AD_ACCOUNT_ID": EMULATOR_ACCOUNT,
                "TARGET_LINKEDIN_CAPI_CONVERSION_RULE_NAME": DEMO_RULE_NAME,
                "TARGET_LINKEDIN_CAPI_CONVERSION_TYPE": "PURCHASE",
                "TARGET_LINKEDIN_CAPI_CAMPAIGN_IDS": json.dumps(DEMO_CAMPAIGNS),
                "TARGET_LINKEDIN_CAPI_REJECTED_RECORDS_PATH": str(rejected_path),
                "TARGET_LINKEDIN_CAPI_DRY_RUN": "false",
            }
        )
        # The project's .env may hold real credentials or a real rule id: the demo ignores it.
        empty_env_file = DEMO_DIR / "demo.env"
        empty_env_file.write_text("# the demo ignores the project's .env\n", encoding="utf-8")
        cmd = [
            str(_bin("meltano")),
            "--env-file",
            str(empty_env_file),
            "--environment",
            "demo",
            "run",
            "--full-refresh",
            "--state-id-suffix",
            "demo",
            DEMO_TAP,
            LOADER,
        ]
        started = _step(
            f"Running: meltano --environment demo run {DEMO_TAP} {LOADER}  "
            f"(target -> {emulator.url}/rest)"
        )
        log_file = DEMO_DIR / "meltano-run.log"
        _run(cmd, what="meltano run", env=env, timeout=600, log_file=log_file)
        run_seconds = time.monotonic() - started
        _done(started, f"log: {log_file.relative_to(ROOT)}")
        summary = [
            line for line in log_file.read_text(errors="replace").splitlines() if "Summary:" in line
        ]
        if summary:
            _say("Target summary (from the meltano run log):")
            for line in summary[-10:]:
                _say("    " + line.split("Summary:", 1)[1].strip())
        problems = report_demo(emulator, rows, rejected_path, run_seconds)
    if problems:
        for problem in problems:
            _say(f"!!! Demo problem: {problem}")
        return 1
    _say(
        "Demo finished. Re-run it any time; the same pipeline runs against the real LinkedIn "
        "API once"
    )
    _say("access_token, ad_account_id and the rule are configured (README: Meltano sections).")
    return 0


def main() -> int:
    if len(sys.argv) > 1:
        _say(f"usage: {Path(sys.argv[0]).name} (no arguments)")
        return 2
    if not _bin("meltano").exists():
        _say(f"!!! meltano is not installed next to {sys.executable}; run `nox -s demo`")
        return 1
    total = time.monotonic()
    try:
        code = run_demo()
    except StepFailedError as exc:
        _say(f"!!! {exc}")
        code = exc.returncode
    except KeyboardInterrupt:
        _say("!!! Interrupted")
        return 130
    _say(f"==> Demo {'finished' if code == 0 else 'FAILED'} in {time.monotonic() - total:.1f}s")
    return code


if __name__ == "__main__":
    sys.exit(main())
