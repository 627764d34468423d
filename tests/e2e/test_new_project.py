"""A new user's first pipeline: a brand-new Meltano project outside the repository, built only
the way the README says.

1. `meltano init` a project in a temporary directory (uv as Meltano's venv backend, for speed);
2. add the loader with `meltano add --plugin-type loader --from-ref plugin/target-linkedin-capi.yml
   --no-install`, then point its `pip_url` at this checkout (`-e <repo>`), as the README says to do
   for a checkout (the git URL would need GitHub; the test only has PyPI);
3. paste the README's tap-postgres inline definition and the loader's `config:` into meltano.yml;
4. `pip install <repo>/packages/linkedin-capi-emulator` into a virtualenv of its own (the
   emulator's documented one command, local path instead of the git URL) and start
   `linkedin-capi-emulator` on a free port;
5. `meltano config set` the secrets and the emulator's URLs, `meltano install`,
   `meltano run tap-postgres target-linkedin-capi`;
6. ask the emulator's control API what arrived.

Nothing of the repository's own meltano.yml, .meltano/ or .env is used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.constants import EMULATOR_ACCOUNT as ACCOUNT
from tests.constants import EMULATOR_TOKEN
from tests.e2e.conftest import REPO_ROOT, PgServer, skip_or_fail

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.xdist_group("meltano")]

TAP = "tap-postgres"
TARGET = "target-linkedin-capi"
CAMPAIGN = 6010001  # one of the emulator's default campaigns of EMULATOR_ACCOUNT
RULE_NAME = "Server-side purchases"
STEP_TIMEOUT = 600

CREATE_TABLE = """
CREATE TABLE public.orders (
    order_id           bigint PRIMARY KEY,
    customer_email     text,
    billing_first_name text,
    billing_last_name  text,
    company            text,
    total              numeric(12, 2),
    currency           char(3),
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    status             text NOT NULL
)
"""

# The README's "PostgreSQL `orders` table" example, pointed at the scratch database.
TAP_DEFINITION: dict[str, Any] = {
    "name": TAP,
    "namespace": "tap_postgres",
    "pip_url": "meltanolabs-tap-postgres==0.10.0",
    "executable": "tap-postgres",
    "capabilities": ["catalog", "discover", "state", "about", "stream-maps"],
    "settings": [
        {"name": "host"},
        {"name": "port", "kind": "integer"},
        {"name": "user"},
        {"name": "password", "kind": "string", "sensitive": True},
        {"name": "database"},
        {"name": "filter_schemas", "kind": "array"},
    ],
    "select": ["public-orders.*"],
    "metadata": {
        "public-orders": {"replication-method": "INCREMENTAL", "replication-key": "updated_at"}
    },
}
TARGET_CONFIG: dict[str, Any] = {
    "ad_account_id": str(ACCOUNT),
    "conversion_rule_name": RULE_NAME,
    # The README promises enumerated values in any case; Meltano checks `kind: options` itself
    # and would refuse this before the target sees it.
    "conversion_type": "purchase",
    "campaign_ids": [str(CAMPAIGN)],
    "field_mappings": {
        "event_id": "order_id",
        "timestamp": "created_at",
        "email": "customer_email",
        "first_name": "billing_first_name",
        "last_name": "billing_last_name",
        "company_name": "company",
        "value_amount": "total",
        "value_currency": "currency",
    },
    "field_defaults": {"value_currency": "USD"},
    "stream_maps": {"public-orders": {"__filter__": "status == 'completed'"}},
    "rejected_records_path": "$MELTANO_PROJECT_ROOT/output/rejected-orders.jsonl",
}


def _orders(now: dt.datetime) -> list[dict[str, Any]]:
    hour = dt.timedelta(hours=1)
    rows = [
        (1, "  Alice.Smith@Example.COM ", "Alice", "Smith", "Acme", Decimal("19.99"), "USD"),
        (2, "bob@example.org", None, None, None, Decimal("1234.50"), "EUR"),
        (3, "carol@example.net", "Carol", "Jones", "Initech", Decimal("5.00"), None),
        (4, "dave@example.com", None, None, None, Decimal("42.00"), "USD"),  # pending
        (5, "erin@example.com", None, None, None, Decimal("-5.00"), "USD"),  # a refund
    ]
    return [
        {
            "order_id": order_id,
            "customer_email": email,
            "billing_first_name": first,
            "billing_last_name": last,
            "company": company,
            "total": total,
            "currency": currency,
            "created_at": now - (order_id + 1) * hour,
            "updated_at": now - dt.timedelta(minutes=10 - order_id),
            "status": "pending" if order_id == 4 else "completed",
        }
        for order_id, email, first, last, company, total, currency in rows
    ]


def _insert(db: PgServer, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    conn = db.connect()
    try:
        cur = conn.cursor()
        # Where the user may not create databases, scratch_database hands out PGDATABASE itself.
        cur.execute("DROP TABLE IF EXISTS public.orders")
        cur.execute(CREATE_TABLE)
        cur.executemany(
            f"INSERT INTO public.orders ({', '.join(columns)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(columns))})",
            [tuple(row[c] for c in columns) for row in rows],
        )
    finally:
        conn.close()


class Shell:
    """Runs a new user's commands in the project directory and keeps a transcript."""

    def __init__(self, cwd: Path, env: dict[str, str], log: Path) -> None:
        self.cwd = cwd
        self.env = env
        self.log = log

    def run(self, *cmd: str | Path, cwd: Path | None = None) -> str:
        started = time.monotonic()
        proc = subprocess.run(
            [str(part) for part in cmd],
            cwd=cwd or self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=STEP_TIMEOUT,
            check=False,
        )
        line = " ".join(str(part) for part in cmd)
        with self.log.open("a", encoding="utf-8") as handle:
            handle.write(f"$ {line}  # {time.monotonic() - started:.1f}s\n{proc.stdout}\n")
        assert proc.returncode == 0, f"`{line}` failed ({proc.returncode}):\n{proc.stdout[-12000:]}"
        return proc.stdout


def _clean_env(bin_dir: Path) -> dict[str, str]:
    # A developer's TARGET_LINKEDIN_CAPI_* / TAP_POSTGRES_* / MELTANO_* variables would override
    # what the new project configures; the repo's virtualenv must not leak in as the "active" one.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TARGET_LINKEDIN_CAPI_", "TAP_POSTGRES_", "MELTANO_"))
        and key not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    env.update({"MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "NO_COLOR": "1"})
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    return env


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback emulator)
        return json.load(response)


def _wait_for_ready_file(path: Path, proc: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    pytest.fail(
        f"linkedin-capi-emulator did not start:\n{log.read_text(errors='replace')}", pytrace=False
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_new_meltano_project_from_the_readme(scratch_database: PgServer, tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    meltano = bin_dir / "meltano"
    if not meltano.exists():
        skip_or_fail(f"meltano is not installed in {bin_dir} (`python3 -m nox -s tests`)")
    env = _clean_env(bin_dir)
    transcript = tmp_path / "transcript.log"
    shell = Shell(tmp_path, env, transcript)

    db = scratch_database
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    rows = _orders(now)
    _insert(db, rows)

    # The emulator in a virtualenv of its own, installed while Meltano sets up the project.
    emu_venv = tmp_path / "emulator-venv"
    shell.run(sys.executable, "-m", "venv", emu_venv)
    emu_bin = emu_venv / "bin"
    pip_log = (tmp_path / "pip-install.log").open("w", encoding="utf-8")
    pip_install = subprocess.Popen(
        [emu_bin / "pip", "install", "--disable-pip-version-check", "-q",
         REPO_ROOT / "packages" / "linkedin-capi-emulator"],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=pip_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    emulator: subprocess.Popen[bytes] | None = None
    try:
        # ---- a new project; the loader from the Hub-style definition file -------------------
        shell.run(meltano, "init", "--no-usage-stats", "capi-project")
        project = tmp_path / "capi-project"
        shell.cwd = project
        shell.run(meltano, "config", "set", "meltano", "venv.backend", "uv")
        shell.run(
            meltano, "add", "--plugin-type", "loader",
            "--from-ref", REPO_ROOT / "plugin" / "target-linkedin-capi.yml",
            "--no-install", TARGET,
        )  # fmt: skip

        # ---- meltano.yml edits the README describes ------------------------------------------
        meltano_yml = project / "meltano.yml"
        document = yaml.safe_load(meltano_yml.read_text(encoding="utf-8"))
        plugins = document["plugins"]
        (loader,) = plugins["loaders"]
        assert loader["name"] == TARGET
        assert loader["pip_url"].startswith("git+https://"), loader["pip_url"]
        setting_names = [setting["name"] for setting in loader["settings"]]
        # With a name listed twice, Meltano uses one of the two entries, whichever they say.
        assert len(setting_names) == len(set(setting_names)), sorted(setting_names)
        assert set(TARGET_CONFIG) | {"access_token", "api_base_url"} <= set(setting_names)
        loader["pip_url"] = f"-e {REPO_ROOT}"
        loader["config"] = TARGET_CONFIG
        tap = dict(TAP_DEFINITION)
        tap["config"] = {
            "host": db.host,
            "port": db.port,
            "user": db.user,
            "database": db.database,
            "filter_schemas": ["public"],
        }
        plugins["extractors"] = [tap]
        meltano_yml.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

        # ---- secrets (to .env) ------------------------------------------------------------------
        # tap-postgres 0.10.0 wants a password even with trust authentication.
        shell.run(
            meltano, "config", "set", TAP, "password", db.password or "trust-auth-needs-no-password"
        )
        shell.run(meltano, "config", "set", TARGET, "access_token", EMULATOR_TOKEN)
        dotenv = (project / ".env").read_text(encoding="utf-8")
        assert "TARGET_LINKEDIN_CAPI_ACCESS_TOKEN" in dotenv
        assert EMULATOR_TOKEN not in meltano_yml.read_text(encoding="utf-8")

        shell.run(meltano, "install")
        assert (
            project / ".meltano/loaders/target-linkedin-capi/venv/bin/target-linkedin-capi"
        ).exists()

        # ---- the emulator, started with its documented command --------------------------------
        assert pip_install.wait(timeout=STEP_TIMEOUT) == 0, (
            tmp_path / "pip-install.log"
        ).read_text()
        ready_file = tmp_path / "emulator.url"
        emulator_log = tmp_path / "emulator.log"
        with emulator_log.open("w", encoding="utf-8") as handle:
            emulator = subprocess.Popen(
                [emu_bin / "linkedin-capi-emulator", "--port", "0", "--ready-file", ready_file],
                cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=handle,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        url = _wait_for_ready_file(ready_file, emulator, emulator_log)
        shell.run(meltano, "config", "set", TARGET, "api_base_url", f"{url}/rest")
        shell.run(
            meltano, "config", "set", TARGET, "oauth_token_url", f"{url}/oauth/v2/accessToken"
        )

        # ---- the pipeline -------------------------------------------------------------------------
        output = shell.run(meltano, "run", TAP, TARGET)

        state = _get_json(f"{url}/_emulator/state")
        events = _get_json(f"{url}/_emulator/events")
    finally:
        if pip_install.poll() is None:
            pip_install.kill()
            pip_install.wait()
        pip_log.close()
        if emulator is not None:
            emulator.terminate()
            try:
                emulator.wait(timeout=10)
            except subprocess.TimeoutExpired:
                emulator.kill()
                emulator.wait()

    # ---- what LinkedIn (the emulator) received ------------------------------------------------
    rules = [rule for rule in state["rules"] if rule["name"] == RULE_NAME]
    assert len(rules) == 1, state["rules"]
    assert rules[0]["type"] == "PURCHASE"
    rule_urn = f"urn:lla:llaPartnerConversion:{rules[0]['id']}"
    assert {link["campaign"] for link in state["campaign_links"]} == {
        f"urn:li:sponsoredCampaign:{CAMPAIGN}"
    }

    by_id = {row["order_id"]: row for row in rows}
    delivered = {1, 2, 3}  # 4 is pending (filtered by the stream map), 5 has a negative total
    assert sorted(int(event["eventId"]) for event in events) == sorted(delivered), events
    for event in events:
        row = by_id[int(event["eventId"])]
        assert event["conversion"] == rule_urn
        assert event["conversionHappenedAt"] == int(row["created_at"].timestamp() * 1000)
        value = event["conversionValue"]
        assert Decimal(value["amount"]) == row["total"], value
        assert value["currencyCode"] == (row["currency"] or "USD"), value
        email = row["customer_email"].strip().lower()
        assert {"idType": "SHA256_EMAIL", "idValue": _sha256(email)} in event["user"]["userIds"]
        if row["billing_first_name"]:
            info = event["user"]["userInfo"]
            assert (info["firstName"], info["lastName"], info["companyName"]) == (
                row["billing_first_name"], row["billing_last_name"], row["company"],
            )  # fmt: skip

    rejected_file = project / "output" / "rejected-orders.jsonl"
    rejected = [json.loads(line) for line in rejected_file.read_text().splitlines() if line]
    assert [(item["key"]["order_id"], item["reason"]) for item in rejected] == [
        (5, "value_negative")
    ], rejected

    # Neither the token nor a raw email reached the run's output or the rejected file.
    for text in (output, rejected_file.read_text()):
        assert EMULATOR_TOKEN not in text
        assert not any(row["customer_email"].strip() in text for row in rows)
