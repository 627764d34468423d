"""Fixtures for the end-to-end Meltano tests: PostgreSQL, the Meltano CLI and its plugins.

PostgreSQL comes from PGHOST / PGPORT / PGUSER / PGPASSWORD / PGDATABASE (defaults
127.0.0.1 / 5432 / postgres / "" / test). When it cannot be reached the tests are skipped
with a hint, except under CI (CI=true), where they fail: a CI run must not pass by skipping.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import in_ci

REPO_ROOT = Path(__file__).resolve().parents[2]
HOW_TO_RUN = (
    "start PostgreSQL (or point PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE at one), then run "
    "`python3 -m nox -s tests -- tests/e2e`"
)
PLUGIN_EXECUTABLES = (
    ".meltano/extractors/tap-postgres/venv/bin/tap-postgres",
    ".meltano/extractors/tap-jsonl/venv/bin/tap-jsonl",
    ".meltano/loaders/target-linkedin-capi/venv/bin/target-linkedin-capi",
)


def skip_or_fail(message: str) -> None:
    """Skip locally; fail under CI, where a skipped end-to-end test would hide a broken set-up."""
    if in_ci():
        pytest.fail(f"{message} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(f"{message}; {HOW_TO_RUN}")


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str
    password: str
    database: str  # the database the test's table lives in

    def connect(self, database: str | None = None):
        import psycopg2

        conn = psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=database or self.database,
            connect_timeout=5,
        )
        conn.autocommit = True
        return conn

    def tap_env(self) -> dict[str, str]:
        """TAP_POSTGRES_* settings that point meltano.yml's tap-postgres at this database."""
        return {
            "TAP_POSTGRES_HOST": self.host,
            "TAP_POSTGRES_PORT": str(self.port),
            "TAP_POSTGRES_USER": self.user,
            # tap-postgres 0.10.0 wants a password even with trust authentication.
            "TAP_POSTGRES_PASSWORD": self.password or "trust-auth-needs-no-password",
            "TAP_POSTGRES_DATABASE": self.database,
            "TAP_POSTGRES_FILTER_SCHEMAS": '["public"]',
        }


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    try:
        import psycopg2
    except ImportError:
        skip_or_fail("psycopg2 is not installed (uv sync --group test)")
    server = PgServer(
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=int(os.environ.get("PGPORT", "5432")),
        user=os.environ.get("PGUSER", "postgres"),
        password=os.environ.get("PGPASSWORD", ""),
        database=os.environ.get("PGDATABASE", "test"),
    )
    try:
        server.connect().close()
    except psycopg2.Error as exc:
        where = f"{server.user}@{server.host}:{server.port}/{server.database}"
        skip_or_fail(f"PostgreSQL is not reachable at {where}: {str(exc).strip()}")
    return server


@pytest.fixture
def scratch_database(pg_server: PgServer) -> Iterator[PgServer]:
    """A database of its own for one test, so parallel runs never see each other's rows.

    Falls back to PGDATABASE itself when the user may not create databases.
    """
    import psycopg2
    from psycopg2 import sql

    name = f"capi_e2e_{uuid.uuid4().hex[:12]}"
    admin = pg_server.connect()
    try:
        admin.cursor().execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg2.errors.InsufficientPrivilege:
        admin.close()
        conn = pg_server.connect()
        conn.cursor().execute("DROP TABLE IF EXISTS public.conversions")
        conn.close()
        yield pg_server
        return
    try:
        yield PgServer(
            pg_server.host, pg_server.port, pg_server.user, pg_server.password, database=name
        )
    finally:
        cur = admin.cursor()
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        admin.close()


@pytest.fixture(scope="session")
def meltano_exe() -> Path:
    """The meltano CLI of this virtualenv, with the project's plugins installed."""
    exe = Path(sys.executable).parent / "meltano"
    if not exe.exists():
        skip_or_fail(
            f"meltano is not installed in {Path(sys.executable).parent} "
            "(`python3 -m nox -s tests` installs the locked meltano==4.4.1)"
        )
    if not all((REPO_ROOT / path).exists() for path in PLUGIN_EXECUTABLES):
        proc = subprocess.run(
            [str(exe), "install"],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        if proc.returncode != 0:
            pytest.fail(f"meltano install failed:\n{proc.stdout}\n{proc.stderr}", pytrace=False)
    return exe
