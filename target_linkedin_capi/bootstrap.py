"""One-command set-up, demo and test runner for a checkout of target-linkedin-capi.

Standard library only: it runs before anything is installed.

    python3 -m target_linkedin_capi.bootstrap demo            # set up, then a real `meltano run`
                                                              # into the bundled LinkedIn emulator
    python3 -m target_linkedin_capi.bootstrap test [ARGS...]  # set up, then pytest with ARGS
    python3 -m target_linkedin_capi.bootstrap setup           # set up only

Set-up (idempotent, a few seconds when nothing changed):
  1. `.venv` is created with the running Python if it does not exist;
  2. `pip install -e '.[test,lint]' meltano==4.4.1` into it (skipped while pyproject.toml, the
     pinned requirements and the Python version are unchanged and the packages still import);
  3. `meltano install` of the project's plugins (skipped while meltano.yml and pyproject.toml are
     unchanged and every plugin executable exists).

Environment: BOOTSTRAP_FORCE=1 redoes steps 2 and 3; PG* variables reach the tests unchanged.
"""

from __future__ import annotations

import argparse
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
PACKAGE_DIR = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
MELTANO_REQUIREMENT = "meltano==4.4.1"
EXTRAS = "test,lint"
DEMO_SAMPLE = PACKAGE_DIR / "meltano" / "demo_conversions.jsonl"
DEMO_DIR = ROOT / ".meltano" / "demo"
DEMO_TAP = "tap-jsonl"
LOADER = "target-linkedin-capi"
EMULATOR_TOKEN = "emulator-token"  # noqa: S105 - the emulator's fixed fake token
EMULATOR_ACCOUNT = "5010001"
DEMO_CAMPAIGNS = ["6010001", "6010002"]
DEMO_RULE_NAME = "Demo purchases (CAPI)"
STEP_TIMEOUT = 1800  # seconds; a pip or uv download that hangs should not hang CI for 90 minutes


class StepFailedError(Exception):
    """A set-up step failed; its output has been shown."""

    def __init__(self, message: str, returncode: int = 1) -> None:
        super().__init__(message)
        self.returncode = returncode or 1


# --------------------------------------------------------------------------------------------
# Output helpers
# --------------------------------------------------------------------------------------------
def _say(message: str) -> None:
    print(message, flush=True)


def _step(message: str) -> float:
    _say(f"==> {message}")
    return time.monotonic()


def _done(started: float, note: str = "") -> None:
    extra = f" ({note})" if note else ""
    _say(f"    done in {time.monotonic() - started:.1f}s{extra}")


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


# --------------------------------------------------------------------------------------------
# Set-up
# --------------------------------------------------------------------------------------------
def _venv_bin(name: str) -> Path:
    scripts = VENV / ("Scripts" if os.name == "nt" else "bin")
    suffix = ".exe" if os.name == "nt" else ""
    return scripts / f"{name}{suffix}"


def _venv_python() -> Path:
    return _venv_bin("python")


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONHOME", None)
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = os.pathsep.join([str(_venv_bin("python").parent), env.get("PATH", "")])
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env.setdefault("NO_COLOR", "1")
    # Meltano installs plugins with uv, which trusts only its bundled CA roots unless told
    # otherwise; pip may be configured with a CA bundle (a TLS-inspecting proxy, say) that
    # uv would not see. Hand uv the same bundle, or else the system trust store.
    if not any(env.get(name) for name in ("SSL_CERT_FILE", "UV_SYSTEM_CERTS", "UV_NATIVE_TLS")):
        bundles = [env.get(name) for name in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")]
        bundle = next((b for b in bundles if b and Path(b).is_file()), None)
        if bundle:
            env["SSL_CERT_FILE"] = bundle
        else:
            env["UV_SYSTEM_CERTS"] = "1"
    return env


def _fingerprint(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


def _read_bytes(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


def ensure_venv() -> None:
    python = _venv_python()
    if python.exists():
        probe = subprocess.run(
            [str(python), "-c", "import sys; print(sys.version.split()[0])"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0:
            _say(f"==> Using existing virtualenv .venv (Python {probe.stdout.strip()})")
            return
        _say("==> .venv exists but its Python does not start; recreating it")
        shutil.rmtree(VENV)
    started = _step(
        f"Creating virtualenv .venv with {sys.executable} (Python {sys.version.split()[0]})"
    )
    _run([sys.executable, "-m", "venv", str(VENV)], what="Creating the virtualenv")
    _done(started)


def ensure_python_packages(force: bool) -> None:
    python = str(_venv_python())
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version)"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    stamp_file = VENV / ".bootstrap-packages"
    stamp = _fingerprint(_read_bytes(ROOT / "pyproject.toml"), MELTANO_REQUIREMENT, EXTRAS, version)
    if not force and stamp_file.exists() and stamp_file.read_text().strip() == stamp:
        probe = subprocess.run(
            [python, "-c", "import target_linkedin_capi, meltano, pytest"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        if probe.returncode == 0 and _venv_bin("meltano").exists():
            _say("==> Python packages are up to date (.venv)")
            return
    started = _step(
        f"Installing the target (editable, extras {EXTRAS}) and {MELTANO_REQUIREMENT} into .venv"
    )
    _run(
        [python, "-m", "pip", "install", "--quiet", "-e", f".[{EXTRAS}]", MELTANO_REQUIREMENT],
        what="pip install",
        env=_base_env(),
    )
    stamp_file.write_text(stamp + "\n")
    _done(started)


def _plugin_executables() -> list[Path]:
    meltano_dir = ROOT / ".meltano"
    bin_dir = "Scripts" if os.name == "nt" else "bin"
    return [
        meltano_dir / "extractors" / "tap-postgres" / "venv" / bin_dir / "tap-postgres",
        meltano_dir / "extractors" / DEMO_TAP / "venv" / bin_dir / DEMO_TAP,
        meltano_dir / "loaders" / LOADER / "venv" / bin_dir / LOADER,
    ]


def ensure_meltano_plugins(force: bool) -> None:
    stamp_file = ROOT / ".meltano" / ".bootstrap-plugins"
    stamp = _fingerprint(
        _read_bytes(ROOT / "meltano.yml"), _read_bytes(ROOT / "pyproject.toml"), str(VENV)
    )
    if (
        not force
        and stamp_file.exists()
        and stamp_file.read_text().strip() == stamp
        and all(path.exists() for path in _plugin_executables())
    ):
        _say("==> Meltano plugins are installed (.meltano/)")
        return
    started = _step(
        "Installing the Meltano plugins: meltano install (tap-postgres, tap-jsonl, the target)"
    )
    _run([str(_venv_bin("meltano")), "install"], what="meltano install", env=_base_env())
    missing = [str(path.relative_to(ROOT)) for path in _plugin_executables() if not path.exists()]
    if missing:
        raise StepFailedError(
            f"meltano install finished but these executables are missing: {missing}"
        )
    stamp_file.write_text(stamp + "\n")
    _done(started)


def setup() -> None:
    force = os.environ.get("BOOTSTRAP_FORCE", "") not in ("", "0", "false")
    if not (ROOT / "meltano.yml").exists() or not (ROOT / "pyproject.toml").exists():
        raise StepFailedError(
            f"{ROOT} is not a target-linkedin-capi checkout (no meltano.yml / pyproject.toml)"
        )
    ensure_venv()
    ensure_python_packages(force)
    ensure_meltano_plugins(force)


# --------------------------------------------------------------------------------------------
# test
# --------------------------------------------------------------------------------------------
def _has_xdist() -> bool:
    probe = subprocess.run(
        [str(_venv_python()), "-c", "import xdist"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def run_tests(pytest_args: list[str]) -> int:
    cmd = [str(_venv_python()), "-m", "pytest"]
    user_chose_workers = any(
        arg in ("-n", "--numprocesses", "-p") or arg.startswith(("-n", "--numprocesses"))
        for arg in pytest_args
    )
    if not user_chose_workers and _has_xdist() and (os.cpu_count() or 1) > 1:
        # loadgroup: tests marked xdist_group("meltano") share one worker, so two Meltano runs
        # never reinstall or use the same plugin virtualenvs at the same time.
        cmd += ["-n", "2", "--dist", "loadgroup"]
    cmd += pytest_args
    env = _base_env()
    ci = env.get("CI", "")
    _say(f"==> Running the tests: {' '.join(cmd[1:])}  (CI={ci or 'unset'})")
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode == 5:
        _say(f"!!! pytest collected no tests (exit code 5) after {elapsed:.1f}s: that is a failure")
        return 1
    if proc.returncode != 0:
        _say(f"!!! Tests failed (pytest exit code {proc.returncode}) after {elapsed:.1f}s")
        return proc.returncode
    _say(f"==> Tests passed in {elapsed:.1f}s")
    return 0


# --------------------------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------------------------
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
    """`python -m target_linkedin_capi.emulator --port 0 --ready-file ...` as a subprocess."""

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
                str(_venv_python()),
                "-m",
                "target_linkedin_capi.emulator",
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
                ["python", "-m", "target_linkedin_capi.emulator"],
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

    started = _step(
        "Starting the LinkedIn emulator (python -m target_linkedin_capi.emulator --port 0)"
    )
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
            str(_venv_bin("meltano")),
            "--env-file",
            str(empty_env_file),
            "--environment",
            "demo",
            "run",
            "--full-refresh",
            "--state-id-suffix",
            "bootstrap-demo",
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


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python3 -m target_linkedin_capi.bootstrap",
        description="Set up the checkout (.venv, Meltano plugins), then run the demo or the "
        "tests. Arguments after `test` go to pytest unchanged.",
    )
    parser.add_argument("command", choices=["setup", "demo", "test"])
    # The command comes first; everything after `test` belongs to pytest (-k, -x, paths, ...).
    if not argv or argv[0] not in ("setup", "demo", "test"):
        parser.parse_args(argv[:1])  # prints usage and exits 2 (or help and 0)
        return 2
    command, extra = argv[0], argv[1:]
    if extra and command != "test":
        parser.error(f"unexpected arguments for {command}: {extra}")
    if sys.version_info < (3, 10):  # noqa: UP036 - may be started by an older python3
        _say(f"!!! Python 3.10 or newer is required; this is {sys.version.split()[0]}")
        return 1
    total = time.monotonic()
    try:
        setup()
        if command == "setup":
            _say(f"==> Set-up complete in {time.monotonic() - total:.1f}s")
            return 0
        if command == "test":
            return run_tests(extra)
        code = run_demo()
        _say(
            f"==> Demo {'finished' if code == 0 else 'FAILED'} in "
            f"{time.monotonic() - total:.1f}s (set-up included)"
        )
        return code
    except StepFailedError as exc:
        _say(f"!!! {exc}")
        return exc.returncode
    except KeyboardInterrupt:
        _say("!!! Interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
