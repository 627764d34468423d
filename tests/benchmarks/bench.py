"""Side-by-side benchmark: this target vs MeltanoLabs' target-csv, on the same input.

    python -m tests.benchmarks.bench                 # 100k and 400k records (a few minutes)
    python -m tests.benchmarks.bench --records 2000 --skip-memory   # smoke size (CI)
    python -m tests.benchmarks.bench --skip-csv --ledger-entries 1000000   # with the ledger

It generates Singer input (a tap-postgres-like `conversions` stream with the 24 columns of a
typical orders table, six of them mapped, and a STATE every 10,000 records), starts the bundled emulator in its own process, runs the target and
`meltanolabs-target-csv` (installed once into a cache venv) and prints records/s, the three
ratios of issue 6 and peak memory. Machines are noisy, so only ratios measured in the same
run are meaningful; nothing here asserts on time.

Those runs have the delivery ledger off. The ledger runs then measure, against one
emulator: the same records with a fresh SQLite ledger, the same records again (all skipped),
and the same records against a ledger already holding `--ledger-entries` other entries
(peak memory compared with the fresh ledger's).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.constants import EMULATOR_ACCOUNT, EMULATOR_TOKEN

CSV_TARGET = "meltanolabs-target-csv==0.5.0"
EXTRA = json.loads(os.environ.get("BENCH_TARGET_CONFIG", "{}"))  # extra target settings
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "target-linkedin-capi"
MAPPINGS = {
    "timestamp": "occurred_at",
    "value_amount": "amount",
    "value_currency": "currency",
    "company_name": "company",
    "country_code": "country",
    "linkedin_first_party_ads_tracking_uuid": "li_fat_id",
}
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
        "company": {"type": ["string", "null"]},
        "country": {"type": ["string", "null"]},
        "li_fat_id": {"type": ["string", "null"]},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
        # The rest of a typical orders/conversions table: carried by the tap, not sent.
        "order_number": {"type": ["string", "null"]},
        "customer_id": {"type": ["integer", "null"]},
        "status": {"type": ["string", "null"]},
        "channel": {"type": ["string", "null"]},
        "utm_source": {"type": ["string", "null"]},
        "utm_medium": {"type": ["string", "null"]},
        "utm_campaign": {"type": ["string", "null"]},
        "landing_page": {"type": ["string", "null"]},
        "product_sku": {"type": ["string", "null"]},
        "quantity": {"type": ["integer", "null"]},
        "tax": {"type": ["number", "null"]},
        "discount_code": {"type": ["string", "null"]},
        "created_at": {"type": ["string", "null"], "format": "date-time"},
    },
}


NARROW_COLUMNS = (
    "id", "email", "occurred_at", "amount", "currency", "first_name", "last_name", "company",
    "country", "li_fat_id", "updated_at",
)  # fmt: skip


def generate(path: Path, records: int, *, narrow: bool = False) -> None:
    """Singer input: realistic rows, all inside LinkedIn's 90-day window.

    `narrow` keeps only the 11 columns the mapping uses or a tap always sends (the cheapest
    case for target-csv, whose cost is mostly per-column schema validation).
    """
    now = datetime.now(timezone.utc)
    stream = "public-conversions"
    schema = SCHEMA
    if narrow:
        schema = {**SCHEMA, "properties": {k: SCHEMA["properties"][k] for k in NARROW_COLUMNS}}
    with path.open("w") as out:
        out.write(json.dumps({"type": "SCHEMA", "stream": stream, "schema": schema,
                              "key_properties": ["id"]}) + "\n")  # fmt: skip
        for i in range(records):
            at = (now - timedelta(days=i % 80, minutes=5 + i % 600)).isoformat()
            row = {
                "id": i, "email": f"Customer{i}@Example.com", "occurred_at": at,
                "amount": round(10 + (i % 500) * 1.37, 2), "currency": "usd",
                "first_name": "Ada", "last_name": "Lovelace", "company": "Analytical Engines",
                "country": "gb", "li_fat_id": f"fat-{i:08d}", "updated_at": at,
                "order_number": f"SO-{i:08d}", "customer_id": 100_000 + i % 9_000,
                "status": "completed", "channel": "web", "utm_source": "linkedin",
                "utm_medium": "paid_social", "utm_campaign": f"q4-launch-{i % 12}",
                "landing_page": "https://shop.example.com/pricing", "product_sku": f"SKU-{i % 250}",
                "quantity": 1 + i % 3, "tax": round((i % 500) * 0.21, 2), "discount_code": None,
                "created_at": at,
            }  # fmt: skip
            if narrow:
                row = {k: row[k] for k in NARROW_COLUMNS}
            out.write(json.dumps({"type": "RECORD", "stream": stream, "record": row}) + "\n")
            if i % 10_000 == 9_999:
                out.write(
                    json.dumps({"type": "STATE", "value": {"bookmarks": {stream: {"id": i}}}})
                    + "\n"
                )


def csv_target() -> Path:
    venv = CACHE / "bench-target-csv"
    exe = venv / "bin" / "target-csv"
    if not exe.exists():
        print(f"installing {CSV_TARGET} into {venv} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", CSV_TARGET], check=True)
    return exe


class EmulatorProcess:
    def __init__(self, latency_ms: int) -> None:
        self.ready = Path(tempfile.mkdtemp()) / "ready"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "linkedin_capi_emulator", "--port", "0",
             "--latency-ms", str(latency_ms), "--ready-file", str(self.ready),
             "--rate-limit-per-minute", "100000"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(200):
            if self.ready.exists() and self.ready.read_text().strip():
                break
            time.sleep(0.05)
        self.url = self.ready.read_text().strip()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _tree_rss_mib(root: int) -> int:
    """Resident memory of a process and all its descendants (worker processes count)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    total = 0
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total // 1024


def run(cmd: list[str], input_path: Path) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in MiB of the process tree, exit code) of one run.

    The target's own peak comes from the kernel (wait4); its worker processes are sampled
    every 50 ms from /proc, and the peak of the whole tree is reported.
    """
    with input_path.open("rb") as stdin:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        peak_tree = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak_tree
            while not done.wait(0.05):
                peak_tree = max(peak_tree, _tree_rss_mib(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _ = proc.stderr.read() if proc.stderr else b""  # drain logs: never block the child
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, max(usage.ru_maxrss // 1024, peak_tree), proc.returncode


def target_cmd(
    work: Path, emulator_url: str, rule_id: str, ledger: Path | None = None
) -> list[str]:
    config = {
        "access_token": EMULATOR_TOKEN, "api_base_url": f"{emulator_url}/rest",
        "ad_account_id": str(EMULATOR_ACCOUNT), "conversion_rule_id": rule_id, "field_mappings": MAPPINGS,
        "rejected_records_path": str(work / "rejected.jsonl"), "rate_limit_per_minute": 100000,
        # Off unless a ledger run: the runs compared with target-csv measure what they did.
        "ledger_enabled": ledger is not None,
        **({"ledger_url": f"sqlite:///{ledger}"} if ledger is not None else {}), **EXTRA,
    }  # fmt: skip
    path = work / "target.json"
    path.write_text(json.dumps(config))
    return [sys.executable, "-m", "target_linkedin_capi", "--config", str(path)]


def create_rule(emulator_url: str) -> str:
    import requests

    response = requests.post(f"{emulator_url}/_emulator/rules", timeout=10,
                             json={"account": EMULATOR_ACCOUNT, "name": "Bench", "type": "PURCHASE"})  # fmt: skip
    response.raise_for_status()
    return str(response.json()["id"])


def accepted(emulator_url: str) -> int:
    import requests

    state = requests.get(f"{emulator_url}/_emulator/state", timeout=10).json()
    return int(state["accepted_events"])


def prefill(ledger: Path, rule_id: str, entries: int) -> None:
    """A ledger holding `entries` ids of this rule that the input does not use."""
    from target_linkedin_capi.delivery.ledger import open_ledger

    now = time.time() * 1000
    with open_ledger(f"sqlite:///{ledger}") as book:
        for start in range(0, entries, 10_000):
            ids = [f"old-{i}" for i in range(start, min(entries, start + 10_000))]
            book.record(rule_id, ids, now)


def ledger_runs(work: Path, input_path: Path, records: int, entries: int) -> dict[str, float]:
    """The three ledger runs, on one emulator so that the rule id stays the same."""
    emulator = EmulatorProcess(0)
    results: dict[str, float] = {}
    try:
        rule = create_rule(emulator.url)
        fresh, full = work / "ledger-fresh.sqlite3", work / "ledger-full.sqlite3"
        started = time.perf_counter()
        prefill(full, rule, entries)
        print(
            f"  (a ledger of {entries:,} entries written in {time.perf_counter() - started:.1f} s)"
        )
        runs = [
            ("ledger_fresh", fresh, records, "target-linkedin-capi, fresh ledger"),
            ("ledger_again", fresh, records, "same records again (all skipped)"),
            ("ledger_full", full, 2 * records, f"ledger holding {entries:,} entries"),
        ]
        for key, ledger, expected, label in runs:
            seconds, rss, code = run(target_cmd(work, emulator.url, rule, ledger), input_path)
            got = accepted(emulator.url)  # accepted so far, over the three runs
            ok = "ok" if code == 0 and got == expected else f"FAILED (exit {code}, accepted {got})"
            print(f"  {label:<44} {seconds:7.2f} s  {records / seconds:9,.0f} rec/s  "
                  f"peak {rss:5d} MiB  {ok}")  # fmt: skip
            if ok != "ok":
                raise SystemExit(1)
            results[key], results[f"{key}_rss"] = seconds, rss
    finally:
        emulator.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--memory-records", type=int, default=400_000)
    parser.add_argument("--latency-ms", type=int, default=250)
    parser.add_argument("--skip-csv", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--narrow", action="store_true", help="11 columns instead of 24")
    parser.add_argument("--ledger-entries", type=int, default=1_000_000,
                        help="entries already in the ledger for the memory comparison")  # fmt: skip
    parser.add_argument("--skip-ledger", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="linkedin-capi-bench-"))
    small = work / "input.jsonl"
    generate(small, args.records, narrow=args.narrow)
    print(f"input: {args.records} records ({small.stat().st_size / 1e6:.1f} MB) in {work}")
    results: dict[str, float] = {}

    def ours(latency_ms: int, input_path: Path, expected: int, label: str) -> tuple[float, int]:
        emulator = EmulatorProcess(latency_ms)
        try:
            rule = create_rule(emulator.url)
            seconds, rss, code = run(target_cmd(work, emulator.url, rule), input_path)
            got = accepted(emulator.url)
        finally:
            emulator.close()
        ok = "ok" if code == 0 and got == expected else f"FAILED (exit {code}, accepted {got})"
        print(f"  {label:<44} {seconds:7.2f} s  {expected / seconds:9,.0f} rec/s  "
              f"peak {rss:5d} MiB  {ok}")  # fmt: skip
        if ok != "ok":
            raise SystemExit(1)
        return seconds, rss

    print("runs:")
    results["target"], results["rss_small"] = ours(
        0, small, args.records, "target-linkedin-capi -> emulator"
    )
    if not args.skip_csv:
        out = work / "csv"
        out.mkdir()
        (work / "csv.json").write_text(json.dumps({"output_path": str(out)}))
        seconds, rss, code = run([str(csv_target()), "--config", str(work / "csv.json")], small)
        print(f"  {'meltanolabs-target-csv -> file':<44} {seconds:7.2f} s  "
              f"{args.records / seconds:9,.0f} rec/s  peak {rss:5d} MiB  exit {code}")  # fmt: skip
        results["csv"] = seconds
    results["latency"], _ = ours(args.latency_ms, small, args.records,
                                 f"target-linkedin-capi, {args.latency_ms} ms per request")  # fmt: skip
    if not args.skip_memory:
        large = work / "input-large.jsonl"
        generate(large, args.memory_records, narrow=args.narrow)
        _, results["rss_large"] = ours(0, large, args.memory_records,
                                       f"target-linkedin-capi, {args.memory_records} records")  # fmt: skip

    if not args.skip_ledger:
        results.update(ledger_runs(work, small, args.records, args.ledger_entries))

    print("ratios (targets from issue 6):")
    if "csv" in results:
        ratio = results["target"] / results["csv"]
        print(f"  1. throughput: target / target-csv wall time = {ratio:.2f}  (<= 0.35)")
    ratio = results["latency"] / results["target"]
    print(f"  2. latency hidden: {args.latency_ms} ms / 0 ms wall time = {ratio:.2f}  (<= 1.5)")
    if "rss_large" in results:
        ratio = results["rss_large"] / results["rss_small"]
        print(
            f"  3. memory: peak RSS {args.memory_records} / {args.records} records = {ratio:.2f}  (<= 1.25)"
        )
    if "ledger_fresh" in results:
        print("ledger ratios:")
        ratio = results["ledger_fresh"] / results["target"]
        print(f"  4. fresh ledger / ledger off wall time = {ratio:.2f}  (<= 1.25)")
        ratio = results["ledger_again"] / results["ledger_fresh"]
        print(f"  5. second run (all skipped) / first run wall time = {ratio:.2f}  (<= 1.0)")
        ratio = results["ledger_full_rss"] / results["ledger_fresh_rss"]
        print(
            f"  6. memory: peak RSS with {args.ledger_entries:,} entries / fresh ledger = "
            f"{ratio:.2f}  (<= 1.25)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
