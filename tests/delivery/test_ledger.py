"""The delivery ledger store against real SQLite files and the real PostgreSQL server.

PostgreSQL comes from PGHOST / PGPORT / PGUSER / PGPASSWORD / PGDATABASE (defaults
127.0.0.1 / 5432 / postgres / "" / test); each test gets a schema of its own, dropped
afterwards. Unreachable: the PostgreSQL cases skip, except under CI (CI=true), where they fail.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import stat
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import pytest

from target_linkedin_capi.delivery.ledger import (
    DEFAULT_SQLITE_PATH,
    Ledger,
    LedgerError,
    open_ledger,
)
from tests.helpers import in_ci

NOW = datetime.now(timezone.utc)
OLD = NOW - timedelta(days=200)
EMAIL_ID = "jane.doe@example.com"


def pg_url(schema: str | None = None) -> str:
    user = quote(os.environ.get("PGUSER", "postgres"), safe="")
    password = os.environ.get("PGPASSWORD", "")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    host = os.environ.get("PGHOST", "127.0.0.1")
    port = os.environ.get("PGPORT", "5432")
    url = f"postgresql://{auth}@{host}:{port}/{os.environ.get('PGDATABASE', 'test')}"
    return url + (f"?schema={schema}" if schema else "")


def pg_admin():
    import psycopg

    return psycopg.connect(pg_url(), autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def pg_available() -> None:
    try:
        pg_admin().close()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        message = f"PostgreSQL is not reachable ({type(exc).__name__}: {str(exc).strip()})"
        if in_ci():
            pytest.fail(f"{message} (CI is set, so this fails instead of skipping)", pytrace=False)
        pytest.skip(f"{message}; start it or set PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE")


@pytest.fixture
def pg_schema(pg_available: None) -> Iterator[str]:
    schema = f"ledger_test_{uuid.uuid4().hex[:12]}"
    yield schema
    with pg_admin() as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


Opener = Callable[..., Ledger]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens ledgers at one place, as successive runs (or parallel workers) would."""
    if request.param == "sqlite":
        url, schema = f"sqlite:///{tmp_path / 'ledger.db'}", None
    else:
        url, schema = pg_url(), request.getfixturevalue("pg_schema")
    opened: list[Ledger] = []

    def open_(read_only: bool = False) -> Ledger:
        ledger = open_ledger(url, schema, read_only=read_only)
        opened.append(ledger)
        return ledger

    open_.schema = schema  # type: ignore[attr-defined]
    yield open_
    for ledger in opened:
        ledger.close()


def ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{i}" for i in range(n)]


# -- behaviour, both backends -------------------------------------------------------------


def test_round_trip_across_runs(opener: Opener) -> None:
    first = opener()
    assert first.already_sent("r1", ["a", "b"]) == set()
    first.record("r1", ["a", "b", EMAIL_ID], NOW)
    first.close()

    second = opener()
    assert second.already_sent("r1", ["a", "c", EMAIL_ID, "b"]) == {"a", "b", EMAIL_ID}
    assert second.already_sent("r1", []) == set()


def test_rules_are_separate(opener: Opener) -> None:
    ledger = opener()
    ledger.record("r1", ["a"], NOW)
    ledger.record("r2", ["b"], NOW)
    assert ledger.already_sent("r1", ["a", "b"]) == {"a"}
    assert ledger.already_sent("r2", ["a", "b"]) == {"b"}
    assert ledger.already_sent("r3", ["a", "b"]) == set()


def test_duplicates_within_one_call_and_across_calls(opener: Opener) -> None:
    ledger = opener()
    ledger.record("r1", ["a", "a", "b"], NOW)
    ledger.record("r1", ["a"], NOW + timedelta(seconds=1))  # insert or ignore
    assert ledger.already_sent("r1", ["a", "a", "c"]) == {"a"}
    [stats] = ledger.stats()
    assert stats.entries == 2
    assert stats.newest == stats.oldest  # the second record of "a" changed nothing


def test_batch_of_5000_and_more_ids(opener: Opener) -> None:
    ledger = opener()
    sent = ids("e", 12_000)
    ledger.record("r1", sent[:6_000], NOW)
    ledger.record("r1", sent[6_000:], NOW)
    probe = [*sent[::2], *ids("new", 3_000)]
    assert ledger.already_sent("r1", probe) == set(sent[::2])


def test_stats(opener: Opener) -> None:
    ledger = opener()
    assert ledger.stats() == []
    ledger.record("r2", ["x"], OLD)
    ledger.record("r1", ["a", "b"], NOW - timedelta(days=1))
    ledger.record("r1", ["c"], NOW)
    r1, r2 = ledger.stats()
    assert (r1.rule_id, r1.entries, r2.rule_id, r2.entries) == ("r1", 3, "r2", 1)
    assert abs(r1.oldest - (NOW - timedelta(days=1))) < timedelta(milliseconds=1)
    assert abs(r1.newest - NOW) < timedelta(milliseconds=1)
    assert r2.oldest == r2.newest and abs(r2.oldest - OLD) < timedelta(milliseconds=1)


def test_prune_is_bounded_and_keeps_the_window(opener: Opener) -> None:
    ledger = opener()
    ledger.record("r1", ids("old", 5), OLD)
    ledger.record("r1", ids("recent", 3), NOW - timedelta(days=89))
    ledger.record("r1", ids("new", 3), int(NOW.timestamp() * 1000))  # epoch ms works too

    assert ledger.prune(limit=2) == 2
    assert len(ledger.already_sent("r1", ids("old", 5))) == 3
    assert ledger.prune(limit=0) == 0
    assert ledger.prune() == 3
    assert ledger.prune() == 0
    remaining = ledger.already_sent("r1", [*ids("old", 5), *ids("recent", 3), *ids("new", 3)])
    assert remaining == {*ids("recent", 3), *ids("new", 3)}
    with pytest.raises(ValueError, match="90-day window"):
        ledger.prune(older_than=NOW - timedelta(days=30))


def test_forget_by_rule_and_time_range(opener: Opener) -> None:
    ledger = opener()
    ledger.record("r1", ["d1"], NOW - timedelta(days=3))
    ledger.record("r1", ["d2"], NOW - timedelta(days=2))
    ledger.record("r1", ["d3"], NOW - timedelta(days=1))
    ledger.record("r2", ["d2"], NOW - timedelta(days=2))

    # [since, until): only d2 of r1
    assert ledger.forget("r1", since=NOW - timedelta(days=2), until=NOW - timedelta(days=1)) == 1
    assert ledger.already_sent("r1", ["d1", "d2", "d3"]) == {"d1", "d3"}
    assert ledger.already_sent("r2", ["d2"]) == {"d2"}
    assert ledger.forget("r2") == 1
    assert ledger.already_sent("r2", ["d2"]) == set()
    assert ledger.forget(until=NOW - timedelta(days=2)) == 1  # d1
    assert ledger.forget() == 1  # d3: everything that is left
    assert ledger.stats() == []


def test_read_only_reads_and_never_writes(opener: Opener) -> None:
    writer = opener()
    writer.record("r1", ["a"], NOW)
    writer.close()

    reader = opener(read_only=True)
    assert reader.already_sent("r1", ["a", "b"]) == {"a"}
    assert [s.entries for s in reader.stats()] == [1]
    with pytest.raises(LedgerError, match="read-only"):
        reader.record("r1", ["b"], NOW)
    with pytest.raises(LedgerError, match="read-only"):
        reader.forget()
    with pytest.raises(LedgerError, match="read-only"):
        reader.prune()
    reader.close()

    assert opener().already_sent("r1", ["a", "b"]) == {"a"}


def test_read_only_on_a_missing_ledger_creates_nothing(tmp_path: Path, pg_schema_or_none) -> None:
    path = tmp_path / "sub" / "ledger.db"
    with open_ledger(f"sqlite:///{path}", None, read_only=True) as ledger:
        assert ledger.already_sent("r1", ["a"]) == set()
        assert ledger.stats() == []
    assert not path.parent.exists()

    if pg_schema_or_none is not None:
        with open_ledger(pg_url(), pg_schema_or_none, read_only=True) as ledger:
            assert ledger.already_sent("r1", ["a"]) == set()
        with pg_admin() as conn:
            row = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (pg_schema_or_none,)
            ).fetchone()
        assert row is None


@pytest.fixture
def pg_schema_or_none(request: pytest.FixtureRequest) -> str | None:
    try:
        pg_admin().close()
    except Exception:  # noqa: BLE001
        if in_ci():
            pytest.fail("PostgreSQL is not reachable (CI is set)", pytrace=False)
        return None
    return request.getfixturevalue("pg_schema")


def run_together(n: int, work: Callable[[int], object], limit: float = 60.0) -> list[object]:
    """Run work(0..n-1) in threads released at once; every one must finish in time."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def target(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[i] = exc

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(limit)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return results


def test_concurrent_creation(opener: Opener) -> None:
    ledgers = run_together(4, lambda i: opener())
    ledgers[0].record("r1", ["a"], NOW)  # one digest key for all: they read each other
    assert all(ledger.already_sent("r1", ["a"]) == {"a"} for ledger in ledgers)


def test_concurrent_record_from_threads(opener: Opener) -> None:
    ledger = opener()

    def work(i: int) -> None:
        for batch in range(10):
            ledger.record("r1", ids(f"t{i}-{batch}", 200), NOW)
            ledger.already_sent("r1", ids(f"t{i}-{batch}", 200))

    run_together(6, work)
    every = [event for i in range(6) for b in range(10) for event in ids(f"t{i}-{b}", 200)]
    assert ledger.already_sent("r1", every) == set(every)
    assert [s.entries for s in ledger.stats()] == [len(every)]


def test_wrong_columns_are_refused(opener: Opener, tmp_path: Path) -> None:
    ledger = opener()
    ledger.close()
    if opener.schema is None:  # type: ignore[attr-defined]
        conn = sqlite3.connect(tmp_path / "ledger.db")
        conn.executescript(
            "DROP TABLE linkedin_capi_ledger; CREATE TABLE linkedin_capi_ledger (id TEXT);"
        )
        conn.close()
    else:
        with pg_admin() as conn:
            conn.execute(
                f'ALTER TABLE "{opener.schema}".linkedin_capi_ledger '  # type: ignore[attr-defined]
                "RENAME COLUMN event_key TO k"
            )
    with pytest.raises(LedgerError, match="do not have the ledger's columns"):
        opener()


# -- SQLite specifics ------------------------------------------------------------------


def test_default_path_and_permissions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_ledger(None, None) as ledger:
        ledger.record("r1", ["a"], NOW)
        path = tmp_path / DEFAULT_SQLITE_PATH
        assert str(path) in ledger.url
        for name in os.listdir(path.parent):  # the file, its -wal and -shm, .gitignore
            assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert (path.parent / ".gitignore").read_text() == "*\n"


def test_sqlite_relative_and_absolute_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_ledger("sqlite:///state/rel.db", None) as ledger:
        ledger.record("r1", ["a"], NOW)
    assert (tmp_path / "state" / "rel.db").is_file()
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "state" / "rel.db").stat().st_mode) == 0o600

    absolute = tmp_path / "abs" / "ledger.db"
    monkeypatch.chdir(Path("/"))
    with open_ledger(f"sqlite:///{absolute}", None) as ledger:  # sqlite:////tmp/...
        ledger.record("r1", ["a"], NOW)
    assert absolute.is_file()


def test_event_ids_are_not_stored_in_the_clear(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with open_ledger(f"sqlite:///{path}", None) as ledger:
        ledger.record("r1", [EMAIL_ID, "plain-id-42"], NOW)
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert EMAIL_ID.encode() not in data
    assert b"plain-id-42" not in data
    assert b"r1" in data  # sanity: the file holds the rows


def test_one_query_per_call(tmp_path: Path) -> None:
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", None) as ledger:
        statements: list[str] = []
        ledger._conn.set_trace_callback(statements.append)
        ledger.record("r1", ids("e", 5_000), NOW)
        assert ledger.already_sent("r1", ids("e", 5_000)) == set(ids("e", 5_000))
        assert len(statements) == 2, [s[:60] for s in statements]


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(lambda tmp: tmp / "a-file" / "ledger.db", id="parent-is-a-file"),
        pytest.param(lambda tmp: Path("/proc/no-ledger-here/ledger.db"), id="proc"),
        pytest.param(lambda tmp: tmp, id="path-is-a-folder"),
    ],
)
def test_unwritable_path_fails_at_open(tmp_path: Path, where) -> None:
    (tmp_path / "a-file").write_text("x")
    path = where(tmp_path)
    with pytest.raises(LedgerError) as caught:
        open_ledger(f"sqlite:///{path}", None)
    message = str(caught.value)
    assert str(path) in message
    assert "ledger_enabled: false" in message
    assert "\n" not in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_fails_at_open(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    try:
        with pytest.raises(LedgerError, match="cannot be opened"):
            open_ledger(f"sqlite:///{folder / 'ledger.db'}", None)
    finally:
        folder.chmod(0o700)


def test_read_only_file_fails_at_open(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    open_ledger(f"sqlite:///{path}", None).close()
    # A read-only database (what a read-only file gives a non-root user), forced for root.
    uri = f"{path.as_uri()}?mode=ro"
    real_connect = sqlite3.connect

    def read_only_connect(database, *args, **kwargs):
        kwargs["uri"] = True
        return real_connect(uri, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sqlite3, "connect", read_only_connect)
        with pytest.raises(LedgerError, match="cannot be written"):
            open_ledger(f"sqlite:///{path}", None)


def test_corrupt_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(b"this is not a database\n" * 300)
    with pytest.raises(LedgerError, match="not a valid SQLite database"):
        open_ledger(f"sqlite:///{path}", None)
    with pytest.raises(LedgerError, match="not a valid SQLite database"):
        open_ledger(f"sqlite:///{path}", None, read_only=True)


def test_other_tables_in_the_file_are_left_alone_but_a_foreign_meta_is_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE linkedin_capi_ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO linkedin_capi_ledger_meta VALUES ('format_version', '99');"
    )
    conn.close()
    with pytest.raises(LedgerError, match="format version '99'"):
        open_ledger(f"sqlite:///{path}", None)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("sqlite://", "names no file"),
        ("sqlite:///:memory:", "names no file"),
        ("sqlite:///x.db?mode=ro", "no query parameters"),
        ("mysql://u:hunter2@h/db", "not a supported kind"),
        ("not a url hunter2", "not a URL the ledger can read"),
    ],
)
def test_bad_urls(url: str, problem: str) -> None:
    with pytest.raises(LedgerError, match=problem) as caught:
        open_ledger(url, None)
    assert "hunter2" not in str(caught.value)
    assert "ledger_enabled: false" in str(caught.value)


def test_schema_without_postgres_url_is_refused() -> None:
    with pytest.raises(LedgerError, match="ledger_schema"):
        open_ledger(None, "capi")
    with pytest.raises(LedgerError, match="no schema"):
        open_ledger("sqlite:///x.db", "capi")


# -- PostgreSQL specifics --------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_postgres_fails_fast_with_masked_url() -> None:
    port = closed_port()
    url = f"postgresql://capi:pa55-SECRET@127.0.0.1:{port}/ledger?sslpassword=also-SECRET"

    def attempt(_: int) -> list[LedgerError]:
        try:
            open_ledger(url, None)
        except LedgerError as exc:
            return [exc]
        return []

    # In a thread under a hard limit: a connect that hangs fails the test instead.
    [[error]] = run_together(1, attempt, 30)
    message = str(error)
    assert f"postgresql://capi:***@127.0.0.1:{port}/ledger" in message
    assert "SECRET" not in message and "SECRET" not in repr(error.__cause__)
    assert "ledger_enabled: false" in message
    assert "\n" not in message


@pytest.mark.postgres
def test_postgres_schema_from_url_or_setting(pg_schema: str) -> None:
    with open_ledger(pg_url(pg_schema), None) as ledger:
        ledger.record("r1", ["a"], NOW)
    with open_ledger(pg_url(), pg_schema) as ledger:
        assert ledger.already_sent("r1", ["a"]) == {"a"}
    for driver in ("postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        url = pg_url().replace("postgresql", driver, 1)
        with open_ledger(url, pg_schema) as ledger:
            assert ledger.already_sent("r1", ["a"]) == {"a"}
    with pytest.raises(LedgerError, match="differ"):
        open_ledger(pg_url(pg_schema), "another")
    with pg_admin() as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "ORDER BY table_name",
            (pg_schema,),
        ).fetchall()
    assert tables == [("linkedin_capi_ledger",), ("linkedin_capi_ledger_meta",)]


@pytest.mark.postgres
def test_postgres_event_ids_are_not_stored_in_the_clear(pg_schema: str) -> None:
    with open_ledger(pg_url(), pg_schema) as ledger:
        ledger.record("r1", [EMAIL_ID], NOW)
    with pg_admin() as conn:
        [(text,)] = conn.execute(
            f"SELECT string_agg(t::text, ',') FROM \"{pg_schema}\".linkedin_capi_ledger t"  # noqa: S608
        ).fetchall()
    assert "jane" not in text and "r1" in text


@pytest.mark.postgres
def test_postgres_bad_connection_parameter(pg_available: None) -> None:
    with pytest.raises(LedgerError, match="bogus") as caught:
        open_ledger(pg_url() + "?bogus=1&password=hunter2", None)
    assert "hunter2" not in str(caught.value)


# -- format 2: one 64-bit key per (rule, eventId); reconnecting ------------------------


def test_more_ids_in_one_record_than_sqlite_takes_parameters(opener: Opener) -> None:
    ledger = opener()
    sent = ids("big", 40_000)  # SQLite builds default to at most 32,766 parameters a statement
    ledger.record("r1", sent, NOW)
    assert ledger.already_sent("r1", [*sent, "other"]) == set(sent)
    assert [s.entries for s in ledger.stats()] == [40_000]


def test_rule_and_id_do_not_run_together(opener: Opener) -> None:
    ledger = opener()
    ledger.record("r1", ["2x"], NOW)
    assert ledger.already_sent("r12", ["x"]) == set()
    assert ledger.already_sent("r1", ["2x"]) == {"2x"}


def test_sqlite_is_one_btree_keyed_by_64_bit_integers(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with open_ledger(f"sqlite:///{path}", None) as ledger:
        ledger.record("r1", ids("e", 100), NOW)
        ledger.record("r1", ids("old", 5), OLD)
        conn = ledger._conn
        # No separate primary-key index: the key is the rowid of the table itself.
        indexes = [row[1] for row in conn.execute("PRAGMA index_list(linkedin_capi_ledger)")]
        assert indexes == ["linkedin_capi_ledger_accepted_at"]
        types = conn.execute("SELECT DISTINCT typeof(event_key) FROM linkedin_capi_ledger")
        assert types.fetchall() == [("integer",)]
        statements: list[str] = []
        conn.set_trace_callback(statements.append)
        assert ledger.prune(limit=3) == 3
        conn.set_trace_callback(None)
        [delete] = [s for s in statements if s.startswith("DELETE")]
        plan = " ".join(str(row[3]) for row in conn.execute(f"EXPLAIN QUERY PLAN {delete}"))
        # Bounded: the oldest entries come from the index, not from a scan of the table.
        assert "INDEX linkedin_capi_ledger_accepted_at (accepted_at<?)" in plan, plan
        assert "SCAN" not in plan, plan


@pytest.mark.postgres
def test_postgres_keys_are_64_bit_integers(pg_schema: str) -> None:
    with open_ledger(pg_url(), pg_schema) as ledger:
        ledger.record("r1", [EMAIL_ID], NOW)
    with pg_admin() as conn:
        columns = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'linkedin_capi_ledger' "
            "ORDER BY ordinal_position",
            (pg_schema,),
        ).fetchall()
        [key] = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'p' "
            "AND conrelid = format('%%I.linkedin_capi_ledger', %s::text)::regclass",
            (pg_schema,),
        ).fetchone()
    assert columns == [("rule_id", "text"), ("event_key", "bigint"), ("accepted_at", "bigint")]
    assert key == "PRIMARY KEY (event_key)"


def test_a_format_1_ledger_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE linkedin_capi_ledger (rule_id TEXT NOT NULL, event_key BLOB NOT NULL, "
        "accepted_at INTEGER NOT NULL, PRIMARY KEY (rule_id, event_key));"
        "CREATE TABLE linkedin_capi_ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO linkedin_capi_ledger_meta VALUES ('format_version', '1'), "
        "('id_key', '00112233445566778899aabbccddeeff');"
    )
    conn.close()
    with pytest.raises(LedgerError, match="format version '1'") as caught:
        open_ledger(f"sqlite:///{path}", None)
    message = str(caught.value)
    assert "move the file away" in message and "ledger_enabled: false" in message
    assert "\n" not in message


def terminate_backend(ledger: Ledger) -> None:
    pid = ledger._conn.info.backend_pid  # type: ignore[attr-defined]
    with pg_admin() as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]


@pytest.mark.postgres
def test_postgres_reconnects_once_when_the_connection_drops(pg_schema: str) -> None:
    with open_ledger(pg_url(), pg_schema) as ledger:
        ledger.record("r1", ["a"], NOW)
        terminate_backend(ledger)
        assert ledger.already_sent("r1", ["a", "b"]) == {"a"}
        terminate_backend(ledger)
        ledger.record("r1", ["b"], NOW)
        terminate_backend(ledger)
        assert [s.entries for s in ledger.stats()] == [2]
    with open_ledger(pg_url(), pg_schema, read_only=True) as reader:
        terminate_backend(reader)
        assert reader.already_sent("r1", ["a", "b", "c"]) == {"a", "b"}
        with pytest.raises(LedgerError, match="read-only"):
            reader.record("r1", ["c"], NOW)  # the new session is read-only too
        with pg_admin() as admin:
            pid = reader._conn.info.backend_pid  # type: ignore[attr-defined]
            [(read_only,)] = admin.execute(
                "SELECT setting FROM pg_settings WHERE name = 'default_transaction_read_only'"
            ).fetchall()
            assert pid != admin.info.backend_pid and read_only == "off"  # only the session
        assert reader._conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)  # type: ignore[attr-defined]


@pytest.mark.postgres
def test_postgres_gives_up_after_one_failed_reconnect(
    pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    ledger = open_ledger(pg_url(), pg_schema)
    try:
        real_connect = psycopg.connect
        attempts: list[int] = []

        def unreachable(*args, **kwargs):
            attempts.append(1)
            kwargs["port"] = closed_port()
            kwargs["password"] = "pa55-SECRET"
            return real_connect(*args, **kwargs)

        terminate_backend(ledger)
        # Undone here, not at the test's end: the schema fixture's clean-up connects too.
        with monkeypatch.context() as patched:
            patched.setattr(psycopg, "connect", unreachable)
            with pytest.raises(LedgerError) as caught:
                ledger.already_sent("r1", ["a"])
        message = str(caught.value)
        assert "connection was lost" in message and "reconnecting failed" in message
        assert "ledger_enabled: false" in message
        assert "\n" not in message and "SECRET" not in message
        assert caught.value.__cause__ is None  # no driver traceback chained for the log
        assert attempts == [1]
    finally:
        ledger.close()


def test_lookup_memory_does_not_grow_with_the_ledger(tmp_path: Path) -> None:
    """A lookup pass over every entry needs no more memory than one on an empty ledger."""
    full, empty = tmp_path / "full.db", tmp_path / "empty.db"
    with open_ledger(f"sqlite:///{full}", None) as ledger:
        for start in range(0, 200_000, 10_000):
            ledger.record("r1", [f"e-{i}" for i in range(start, start + 10_000)], NOW)
    open_ledger(f"sqlite:///{empty}", None).close()
    child = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "from target_linkedin_capi.delivery.ledger import open_ledger\n"
        "found = 0\n"
        "with open_ledger('sqlite:///' + sys.argv[1], None) as ledger:\n"
        "    for start in range(0, 200_000, 1_000):\n"
        "        batch = [f'e-{i}' for i in range(start, start + 1_000)]\n"
        "        found += len(ledger.already_sent('r1', batch))\n"
        "print(found, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )

    def peak(path: Path) -> tuple[int, int]:
        import subprocess
        import sys

        out = subprocess.run(
            [sys.executable, "-c", child, str(path)],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        found, rss = out.stdout.split()
        return int(found), int(rss)

    found_full, rss_full = peak(full)
    found_empty, rss_empty = peak(empty)
    assert (found_full, found_empty) == (200_000, 0)
    assert rss_full <= 1.25 * rss_empty, (rss_full, rss_empty)


def test_an_existing_ledger_file_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    open_ledger(f"sqlite:///{path}", None).close()
    path.chmod(0o644)
    with open_ledger(f"sqlite:///{path}", None) as ledger:
        ledger.record("r1", ["a"], NOW)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
