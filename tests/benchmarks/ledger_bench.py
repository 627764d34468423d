"""Micro-benchmark of the delivery ledger store (target_linkedin_capi/delivery/ledger.py).

    python -m tests.benchmarks.ledger_bench                        # SQLite and PostgreSQL, 1M
    python -m tests.benchmarks.ledger_bench --backend sqlite --entries 200000
    git show REV:target_linkedin_capi/delivery/ledger.py > /tmp/old_ledger.py
    python -m tests.benchmarks.ledger_bench --impl /tmp/old_ledger.py   # an older store

For each backend it measures, through the public API only, as the delivery path uses it:
a fresh ledger fed 100 batches of 1,000 (already_sent + record per batch), a second pass over
the same ids (all already sent, as a rerun), then, once the ledger holds --entries entries,
already_sent per id and already_sent + record per event, and the peak RSS of a child process
that looks up every one of those entries (against the same pass on an empty ledger).
PostgreSQL comes from PGHOST / PGPORT / PGUSER / PGPASSWORD / PGDATABASE (defaults
127.0.0.1 / 5432 / postgres / "" / test) in a schema of its own, dropped afterwards.
Machines are noisy: compare ratios and runs made side by side; nothing asserts on time.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

BATCH = 1_000
BATCHES = 100
FILL_BATCH = 10_000
NOW_MS = int(datetime.now(timezone.utc).timestamp() * 1000)


def accepted_at(batch: int) -> int:
    """Acceptance times grow from batch to batch, as they do in a run (epoch ms)."""
    return NOW_MS + 10 * batch


def load(impl: str | None) -> ModuleType:
    if impl is None:
        from target_linkedin_capi.delivery import ledger

        return ledger
    spec = importlib.util.spec_from_file_location("ledger_under_test", impl)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def pg_url() -> str:
    user = quote(os.environ.get("PGUSER", "postgres"), safe="")
    password = os.environ.get("PGPASSWORD", "")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    host = os.environ.get("PGHOST", "127.0.0.1")
    return f"postgresql://{auth}@{host}:{os.environ.get('PGPORT', '5432')}/{os.environ.get('PGDATABASE', 'test')}"


def ids(prefix: str, start: int, n: int) -> list[str]:
    return [f"{prefix}-{i}" for i in range(start, start + n)]


class Clock:
    """CPU time of this process and wall time, in microseconds per item."""

    def __init__(self, items: int) -> None:
        self.items = items

    def __enter__(self) -> Clock:
        self.cpu, self.wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu_us = (time.process_time() - self.cpu) * 1e6 / self.items
        self.wall_us = (time.perf_counter() - self.wall) * 1e6 / self.items

    def __str__(self) -> str:
        return f"{self.wall_us:7.2f} us wall {self.cpu_us:7.2f} us CPU"


def lookup_pass(module: ModuleType, url: str, schema: str | None, entries: int) -> dict:
    """In a child process: every filled id looked up once, in batches of 1,000; its peak RSS."""
    with module.open_ledger(url, schema) as ledger:
        found = 0
        for start in range(0, entries, BATCH):
            found += len(ledger.already_sent("r1", ids("fill", start, BATCH)))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"found": found, "rss_mb": rss}


def child_lookup_pass(args: argparse.Namespace, url: str, schema: str | None, n: int) -> dict:
    command = [sys.executable, "-m", "tests.benchmarks.ledger_bench", "--child", url,
               "--child-schema", schema or "", "--entries", str(n)]  # fmt: skip
    if args.impl:
        command += ["--impl", args.impl]
    out = subprocess.run(command, capture_output=True, text=True, check=False, timeout=3600)
    if out.returncode:
        sys.exit(f"the lookup pass failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench(args: argparse.Namespace, module: ModuleType, backend: str, url: str, schema) -> None:
    print(f"\n== {backend} ({args.impl or 'target_linkedin_capi.delivery.ledger'})")
    ledger = module.open_ledger(url, schema)
    try:
        with Clock(BATCHES * BATCH) as fresh:
            for b in range(BATCHES):
                batch = ids("fresh", b * BATCH, BATCH)
                ledger.already_sent("r1", batch)
                ledger.record("r1", batch, accepted_at(b))
        with Clock(BATCHES * BATCH) as rerun:
            for b in range(BATCHES):
                assert len(ledger.already_sent("r1", ids("fresh", b * BATCH, BATCH))) == BATCH
        print(f"fresh ledger, 100 x 1,000 already_sent + record: {fresh} per event")
        print(f"second pass, all already sent (already_sent): {rerun} per event")
        print(f"  ratio second pass / first: {rerun.wall_us / fresh.wall_us:.2f} (wall)")

        started = time.perf_counter()
        for start in range(0, args.entries, FILL_BATCH):
            batch = ids("fill", start, min(FILL_BATCH, args.entries - start))
            ledger.record("r1", batch, accepted_at(BATCHES + start))
        filled = sum(s.entries for s in ledger.stats())
        print(f"filled to {filled:,} entries in {time.perf_counter() - started:.1f} s")

        with Clock(BATCHES * BATCH) as lookups:
            for b in range(BATCHES):  # half sent before, half not, spread over the ledger
                step = max(1, args.entries // (BATCHES * BATCH // 2))
                sent = [f"fill-{i}" for i in range(b * 500 * step, (b + 1) * 500 * step, step)]
                found = ledger.already_sent("r1", [*sent, *ids("absent", b * 500, 500)])
                assert len(found) == len([i for i in sent if int(i[5:]) < args.entries])
        print(f"at {filled:,} entries, already_sent: {lookups} per id")
        with Clock(BATCHES * BATCH) as recording:
            for b in range(BATCHES):
                batch = ids("later", b * BATCH, BATCH)
                ledger.already_sent("r1", batch)
                ledger.record("r1", batch, accepted_at(BATCHES + args.entries + b))
        print(f"at {filled:,} entries, already_sent + record: {recording} per event")
        print(f"  ratio to the fresh ledger: {recording.wall_us / fresh.wall_us:.2f} (wall)")
    finally:
        ledger.close()

    full = child_lookup_pass(args, url, schema, args.entries)
    empty_url, empty_schema = fresh_place(backend, args)
    try:
        module.open_ledger(empty_url, empty_schema).close()
        empty = child_lookup_pass(args, empty_url, empty_schema, args.entries)
    finally:
        drop(backend, empty_url, empty_schema)
    print(
        f"peak RSS of a lookup pass over {args.entries:,} ids: {full['rss_mb']:.1f} MB against "
        f"the full ledger (found {full['found']:,}), {empty['rss_mb']:.1f} MB against an empty "
        f"one: ratio {full['rss_mb'] / empty['rss_mb']:.2f}"
    )


def fresh_place(backend: str, args: argparse.Namespace) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{Path(args.workdir) / uuid.uuid4().hex}.db", None
    return pg_url(), f"ledger_bench_{uuid.uuid4().hex[:12]}"


def drop(backend: str, url: str, schema: str | None) -> None:
    if backend == "postgres":
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--impl", help="a ledger.py to measure instead of the package's")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-schema", help=argparse.SUPPRESS)
    args = parser.parse_args()
    module = load(args.impl)
    if args.child:
        print(json.dumps(lookup_pass(module, args.child, args.child_schema or None, args.entries)))
        return
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as workdir:
        args.workdir = workdir
        for backend in backends:
            url, schema = fresh_place(backend, args)
            try:
                bench(args, module, backend, url, schema)
            finally:
                drop(backend, url, schema)


if __name__ == "__main__":
    main()
