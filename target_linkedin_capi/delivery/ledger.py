"""The delivery ledger: which events LinkedIn has already accepted, kept across runs.

LinkedIn does not deduplicate two Conversions API events with the same ``eventId``, so
every resend may count twice, and resends are routine: tap-postgres INCREMENTAL re-reads
the boundary row, updated rows come again with the same id, backfills and full refreshes
replay everything, one run may carry the same row twice. The ledger remembers each
(conversion rule, eventId) that LinkedIn accepted; the delivery path asks it which events
of a batch were sent before (:meth:`Ledger.already_sent`) and tells it what LinkedIn
accepted once the request that held them got its 2xx (:meth:`Ledger.record`).

Where it lives (``open_ledger(url, schema)``; the settings ``ledger_url`` and
``ledger_schema``):

- no URL: an SQLite file at :data:`DEFAULT_SQLITE_PATH` (``.linkedin-capi/ledger.sqlite3``),
  relative to the working directory, which is the project root when Meltano runs the
  target. A folder the ledger creates is 0700 (with a ``.gitignore`` when it is the
  default folder), the file 0600; SQLite gives its ``-wal`` / ``-shm`` files the mode of
  the database file.
- ``sqlite:///relative/path.db`` (relative to the working directory),
  ``sqlite:////absolute/path.db`` (four slashes), ``~`` is expanded.
- ``postgresql://user:password@host:5432/database`` (also ``postgres://``,
  ``postgresql+psycopg://`` and ``postgresql+psycopg2://``: all use psycopg 3, a runtime
  dependency). Other query parameters are libpq connection parameters (``sslmode``,
  ``connect_timeout`` - default :data:`PG_CONNECT_TIMEOUT` seconds - ...). The schema is
  ``schema`` (the ``ledger_schema`` setting) or the URL's own ``schema`` query parameter
  (``...?schema=capi``), otherwise the connection's current schema (normally ``public``,
  so ``options=-csearch_path%3Dcapi`` works too). A missing schema is created.

Tables (created on first use; two workers creating them at once is harmless: PostgreSQL
serialises creation with an advisory lock, SQLite with its write lock):

- ``linkedin_capi_ledger (rule_id, event_key, accepted_at)``, primary key ``event_key``
  (SQLite: the rowid itself, so the table is a single B-tree), an index on
  ``accepted_at`` for pruning. ``accepted_at`` is epoch milliseconds. ``event_key`` is a
  signed 64-bit integer: a keyed BLAKE2b digest of the rule id and the eventId together,
  never the id itself: an id mapped from an email column must not end up in a file in
  the clear. The key is random per ledger, so the digests cannot be matched against
  hashes made elsewhere (such as LinkedIn's SHA-256 of emails); it is pseudonymisation,
  not anonymity, for whoever holds the ledger.
- ``linkedin_capi_ledger_meta (key, value)``: ``format_version`` and the digest key.

Why 64 bits: an 8-byte integer key halves the table and index against a 16-byte one
(format 1 kept a rowid table plus a (rule, 16-byte digest) index) and makes every
insert and lookup cheaper. The price is the chance that a new event's key equals one
already in the ledger, which would make it look "already sent" and skip it: n / 2^64 per
new event for a ledger of n entries. A very large account (1,000,000 conversions a day,
10^8 entries kept for 100 days) would expect one such skip in about 500 years; one of
10,000 a day, in about 5 million years. Two stored entries sharing a key (the "birthday"
figure, ~3e-4 at 10^8 entries) cost nothing by themselves.

Cost: every call is one statement whatever the number of ids (up to
:data:`MAX_IDS_PER_QUERY`), keyed on the primary key, so nothing loads the table and
memory is bounded by the batch (and SQLite's page cache, 2 MB by default). SQLite runs
in WAL mode with ``synchronous=NORMAL``: a killed process loses nothing, a power cut may
lose the last commits (those events could be sent once more). PostgreSQL is one
autocommit connection shared under a lock; if it drops (a server restart, a failover, an
idle timeout), the next call reconnects once and retries before it fails. Numbers:
``python -m tests.benchmarks.ledger_bench``.

Retention: LinkedIn rejects conversions older than 90 days, so entries older than
:data:`RETENTION` (100 days: the window plus a margin) can never prevent a duplicate;
:meth:`Ledger.prune` removes them a bounded number at a time. :meth:`Ledger.forget`
removes entries on purpose, to send events again.

A dry run opens the ledger with ``read_only=True``: it answers ``already_sent`` and
``stats`` and never writes (a ledger that does not exist yet reads as empty and is not
created). Every problem opening the ledger (bad URL, unreachable server, a folder or file
that cannot be created or written, a file that is not SQLite, tables of another shape)
raises :class:`LedgerError` from :func:`open_ledger`, naming the URL with its password
masked and how to fix it or turn the ledger off (``ledger_enabled: false``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from target_linkedin_capi.errors import FatalError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

DEFAULT_SQLITE_PATH = Path(".linkedin-capi") / "ledger.sqlite3"
LINKEDIN_WINDOW = timedelta(days=90)
# Entries younger than this may still stop a duplicate (conversion time up to 90 days
# back, plus the time between the conversion and its delivery): prune never goes nearer.
RETENTION = timedelta(days=100)
PRUNE_LIMIT = 10_000
PG_CONNECT_TIMEOUT = 5
SQLITE_BUSY_TIMEOUT = 30.0
# Above this, already_sent splits the ids (SQLite allows 32,766 parameters a statement).
MAX_IDS_PER_QUERY = 10_000
FORMAT_VERSION = "2"  # 1: 16-byte digests keyed by (rule_id, event_key)

TABLE = "linkedin_capi_ledger"
META_TABLE = "linkedin_capi_ledger_meta"
COLUMNS = ("rule_id", "event_key", "accepted_at")
META_COLUMNS = ("key", "value")
# Any constant: every process creating ledger tables in the database takes this lock.
PG_LOCK_KEY = 0x4C454447_43415049 & 0x7FFFFFFFFFFFFFFF
POSTGRES_DRIVERS = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")
SENSITIVE_QUERY_KEYS = frozenset({"password", "sslpassword", "passfile"})
HOW_TO_DISABLE = (
    "or set ledger_enabled: false to run without the ledger "
    "(events sent by earlier runs may then be sent, and counted, again)"
)


_T = TypeVar("_T")


class LedgerError(FatalError):
    """The ledger cannot be opened or used; the message names the URL (password masked)."""


@dataclass(frozen=True)
class RuleStats:
    rule_id: str
    entries: int
    oldest: datetime
    newest: datetime


def open_ledger(url: str | None, schema: str | None = None, *, read_only: bool = False) -> Ledger:
    """Open (creating if needed, unless read-only) the ledger at `url`; see the module doc."""
    if url is None or not url.strip():
        if schema:
            raise LedgerError(
                "ledger_schema is set but ledger_url is not: a schema only applies to a "
                "PostgreSQL ledger. Set ledger_url to a postgresql:// URL or remove "
                f"ledger_schema, {HOW_TO_DISABLE}."
            )
        return _SqliteLedger.open(DEFAULT_SQLITE_PATH, "the default ledger file", read_only)
    # Imported here: SQLAlchemy only parses the URL, and loading it costs every run (even
    # one with the default SQLite ledger, or an operator command) a tenth of a second.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url.strip())
    except (ArgumentError, ValueError):
        # The parser's message repeats the whole URL, password included: not shown.
        raise LedgerError(
            "ledger_url is not a URL the ledger can read. Use sqlite:///path/to/ledger.db "
            "or postgresql://user:password@host:5432/database, " + HOW_TO_DISABLE + "."
        ) from None
    shown = mask_url(parsed)
    driver = parsed.drivername.lower()
    if driver == "sqlite":
        if schema or parsed.query:
            raise _open_error(shown, "a SQLite ledger takes no schema and no query parameters")
        if not parsed.database or parsed.database == ":memory:":
            raise _open_error(
                shown,
                "it names no file (an in-memory ledger would forget everything at the end "
                "of the run); use sqlite:///relative/path.db or sqlite:////absolute/path.db",
            )
        return _SqliteLedger.open(Path(parsed.database).expanduser(), shown, read_only)
    if driver in POSTGRES_DRIVERS:
        return _PostgresLedger.open(parsed, schema, shown, read_only)
    raise _open_error(
        shown,
        f"{parsed.drivername!r} is not a supported kind of database; use sqlite:/// or "
        "postgresql://",
    )


def mask_url(url: URL) -> str:
    """The URL as it may be shown: password and password-like parameters as ***."""
    query = {
        key: ("***" if key.lower() in SENSITIVE_QUERY_KEYS else value)
        for key, value in url.query.items()
    }
    shown = url.set(query=query).render_as_string(hide_password=True)
    return shown.replace("%2A%2A%2A", "***")


class Ledger:
    """Thread-safe; see the module docstring. Use `open_ledger` to get one."""

    def __init__(self, shown: str, read_only: bool, salt: bytes | None) -> None:
        self.url = shown  # for messages: password masked
        self.read_only = read_only
        self._lock = threading.Lock()
        self._closed = False
        # None: a read-only ledger whose tables do not exist yet (nothing was ever sent).
        self._hasher = None if salt is None else hashlib.blake2b(digest_size=8, key=salt)

    # -- public API -------------------------------------------------------------------

    def already_sent(self, rule_id: str, event_ids: Sequence[str]) -> set[str]:
        """The ids among `event_ids` that LinkedIn accepted before for `rule_id`."""
        if not event_ids or self._hasher is None:
            return set()
        by_key = self._keys(rule_id, event_ids)
        keys = sorted(by_key)  # in key order: each B-tree page is visited once

        def select() -> list[int]:
            found: list[int] = []
            for start in range(0, len(keys), MAX_IDS_PER_QUERY):
                found.extend(self._select(keys[start : start + MAX_IDS_PER_QUERY]))
            return found

        return {by_key[key] for key in self._call("look up sent events", select)}

    def record(self, rule_id: str, event_ids: Sequence[str], accepted_at: datetime | float) -> None:
        """Remember that LinkedIn accepted `event_ids` for `rule_id` (insert or ignore)."""
        self._writable("record sent events")
        at = to_epoch_ms(accepted_at)
        if not event_ids:
            return
        keys = sorted(self._keys(rule_id, event_ids))  # in key order: fewer pages touched
        self._call("record sent events", self._insert, rule_id, keys, at)

    def prune(self, older_than: datetime | float | None = None, limit: int = PRUNE_LIMIT) -> int:
        """Delete at most `limit` entries accepted before `older_than`; how many went.

        `older_than` defaults to now minus RETENTION and may not be later than now minus
        LinkedIn's 90-day window (use `forget` to resend on purpose). Bounded work: the
        oldest entries come from an index on accepted_at.
        """
        self._writable("prune")
        now = datetime.now(timezone.utc)
        cutoff = to_epoch_ms(now - RETENTION if older_than is None else older_than)
        if cutoff > to_epoch_ms(now - LINKEDIN_WINDOW):
            raise ValueError(
                "prune keeps entries younger than LinkedIn's 90-day window: they still "
                "prevent duplicates (use forget() to resend on purpose)"
            )
        if limit <= 0:
            return 0
        return self._call("prune", self._prune, cutoff, int(limit))

    def stats(self) -> list[RuleStats]:
        """Entries, oldest and newest acceptance per rule (reads the whole table)."""
        if self._hasher is None:
            return []
        rows = self._call("read statistics", self._stats)
        return [
            RuleStats(str(rule), int(n), from_epoch_ms(oldest), from_epoch_ms(newest))
            for rule, n, oldest, newest in rows
        ]

    def forget(
        self,
        rule_id: str | None = None,
        since: datetime | float | None = None,
        until: datetime | float | None = None,
    ) -> int:
        """Delete entries (of one rule, accepted in [since, until)) so they can be resent."""
        self._writable("forget entries")
        clauses: list[tuple[str, Any]] = []
        if rule_id is not None:
            clauses.append(("rule_id = ", rule_id))
        if since is not None:
            clauses.append(("accepted_at >= ", to_epoch_ms(since)))
        if until is not None:
            clauses.append(("accepted_at < ", to_epoch_ms(until)))
        return self._call("forget entries", self._delete, clauses)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- shared plumbing --------------------------------------------------------------

    def _keys(self, rule_id: str, event_ids: Iterable[str]) -> dict[int, str]:
        assert self._hasher is not None
        base = self._hasher.copy()
        rule = rule_id.encode("utf-8", "surrogatepass")
        # Length-prefixed, so no (rule, id) pair reads as another one.
        base.update(len(rule).to_bytes(4, "big") + rule)
        keys: dict[int, str] = {}
        from_bytes = int.from_bytes
        for event_id in event_ids:
            digest = base.copy()
            digest.update(event_id.encode("utf-8", "surrogatepass"))
            keys[from_bytes(digest.digest(), "big", signed=True)] = event_id
        return keys

    def _writable(self, what: str) -> None:
        if self.read_only:
            raise LedgerError(
                f"The delivery ledger at {self.url} was opened read-only (dry run) and "
                f"cannot {what}."
            )

    def _call(self, what: str, work: Callable[..., _T], *args: Any) -> _T:
        """`work(*args)` under the lock; a lost connection gets one reconnect and retry."""
        with self._lock:
            if self._closed:
                raise LedgerError(f"The delivery ledger at {self.url} is closed; cannot {what}.")
            try:
                return work(*args)
            except self._driver_errors as exc:
                if not self._reconnect(what, exc):
                    raise self._failure(what, exc) from exc
            # Every call is safe to repeat: lookups read, inserts ignore what is there,
            # deletes take what still matches.
            try:
                return work(*args)
            except self._driver_errors as exc:
                raise self._failure(what, exc) from exc

    def _failure(self, what: str, exc: BaseException) -> LedgerError:
        return LedgerError(
            f"The delivery ledger at {self.url} failed to {what}: "
            f"{_sentence(self._describe(exc))} Check the database, {HOW_TO_DISABLE}."
        )

    def _reconnect(self, what: str, exc: BaseException) -> bool:
        """After `exc`: whether a new connection is open and the call may be retried."""
        return False

    _driver_errors: tuple[type[BaseException], ...] = ()

    def _describe(self, exc: BaseException) -> str:
        return one_line(str(exc))

    # -- backend hooks ----------------------------------------------------------------

    def _select(self, keys: list[int]) -> list[int]:
        raise NotImplementedError

    def _insert(self, rule_id: str, keys: list[int], at: int) -> None:
        raise NotImplementedError

    def _prune(self, cutoff: int, limit: int) -> int:
        raise NotImplementedError

    def _stats(self) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _delete(self, clauses: list[tuple[str, Any]]) -> int:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError


# -- SQLite -------------------------------------------------------------------------------


class _SqliteLedger(Ledger):
    _driver_errors = (sqlite3.Error,)

    def __init__(
        self, conn: sqlite3.Connection | None, shown: str, read_only: bool, salt: bytes | None
    ):
        super().__init__(shown, read_only, salt)
        # None only for a read-only ledger without a file: every call returns before
        # reaching the database (no digest key), so the hooks below never see None.
        self._conn = cast(sqlite3.Connection, conn)

    @classmethod
    def open(cls, path: Path, shown: str, read_only: bool) -> _SqliteLedger:
        path = Path(os.path.abspath(path))  # a later chdir must not move the ledger
        if shown == "the default ledger file":
            shown = f"{shown} {path}"
        if read_only and not path.exists():
            return cls(None, shown, read_only, None)
        conn = None
        try:
            if read_only:
                conn = sqlite3.connect(
                    f"{path.as_uri()}?mode=ro", uri=True, timeout=SQLITE_BUSY_TIMEOUT,
                    isolation_level=None, check_same_thread=False,
                )  # fmt: skip
            else:
                _create_file(path)
                conn = sqlite3.connect(
                    path, timeout=SQLITE_BUSY_TIMEOUT, isolation_level=None,
                    check_same_thread=False,
                )  # fmt: skip
            salt = _sqlite_prepare(conn, read_only)
        except OSError as exc:
            if conn is not None:
                conn.close()
            raise _open_error(shown, f"{exc.strerror or exc} ({exc.filename or path})") from exc
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise _open_error(shown, _sqlite_problem(exc)) from exc
        except LedgerError as exc:
            if conn is not None:
                conn.close()
            raise _open_error(shown, str(exc)) from None
        return cls(conn, shown, read_only, salt)

    def _select(self, keys: list[int]) -> list[int]:
        # The key holds the rule: one probe of the rowid B-tree per id, sorted.
        marks = ",".join("?" * len(keys))
        sql = f"SELECT event_key FROM {TABLE} WHERE event_key IN ({marks})"  # noqa: S608 (only placeholders are interpolated)
        return [row[0] for row in self._conn.execute(sql, keys)]

    def _insert(self, rule_id: str, keys: list[int], at: int) -> None:
        # One statement per MAX_IDS_PER_QUERY ids, which runs without the GIL (measured
        # faster than executemany, which takes the GIL back between rows).
        chunks = [keys[i : i + MAX_IDS_PER_QUERY] for i in range(0, len(keys), MAX_IDS_PER_QUERY)]
        if len(chunks) > 1:
            self._conn.execute("BEGIN IMMEDIATE")
        try:
            for chunk in chunks:
                rows = ",".join(["(?)"] * len(chunk))
                sql = f"INSERT OR IGNORE INTO {TABLE} (rule_id, event_key, accepted_at) SELECT ?, column1, ? FROM (VALUES {rows})"  # noqa: S608
                self._conn.execute(sql, (rule_id, at, *chunk))
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")

    def _prune(self, cutoff: int, limit: int) -> int:
        # The accepted_at index bounds the work by `limit`; its inserts are cheap, as
        # acceptance times only grow.
        return self._conn.execute(
            f"DELETE FROM {TABLE} WHERE event_key IN (SELECT event_key FROM {TABLE} "  # noqa: S608
            "WHERE accepted_at < ? ORDER BY accepted_at LIMIT ?)",
            (cutoff, limit),
        ).rowcount

    def _stats(self) -> list[tuple[Any, ...]]:
        return self._conn.execute(
            f"SELECT rule_id, COUNT(*), MIN(accepted_at), MAX(accepted_at) FROM {TABLE} "  # noqa: S608
            "GROUP BY rule_id ORDER BY rule_id"
        ).fetchall()

    def _delete(self, clauses: list[tuple[str, Any]]) -> int:
        where = " AND ".join(f"{clause}?" for clause, _ in clauses) or "1"
        sql = f"DELETE FROM {TABLE} WHERE {where}"  # noqa: S608
        return self._conn.execute(sql, [value for _, value in clauses]).rowcount

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def _describe(self, exc: BaseException) -> str:
        return _sqlite_problem(exc)


def _create_file(path: Path) -> None:
    """Create the missing folders (0700) and the file (0600) before SQLite opens it."""
    missing = []
    folder = path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another worker was quicker
            folder.mkdir(mode=0o700)
            folder.chmod(0o700)  # mkdir's mode is filtered by the umask
            if folder == Path(os.path.abspath(DEFAULT_SQLITE_PATH.parent)):
                # Keeps the ledger out of the Meltano project's git repository.
                fd = os.open(folder / ".gitignore", os.O_CREAT | os.O_WRONLY, 0o600)
                with os.fdopen(fd, "w") as ignore:
                    ignore.write("*\n")
    if path.is_dir():
        raise IsADirectoryError(21, "a folder, not a file", str(path))
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        # An existing ledger of ours is made private too (SQLite gives its -wal and -shm
        # files the database file's mode); one of another user's is left as it is.
        info = path.stat()
        if info.st_uid == os.geteuid() and info.st_mode & 0o077:
            path.chmod(0o600)
        return
    os.close(fd)
    path.chmod(0o600)


def _sqlite_prepare(conn: sqlite3.Connection, read_only: bool) -> bytes | None:
    """Create (unless read-only) and check the tables; the digest key, None if empty."""
    conn.execute("PRAGMA foreign_keys = OFF")
    # Reads the header: "file is not a database" surfaces here, not on the first batch.
    conn.execute("PRAGMA schema_version").fetchone()
    if not read_only:
        conn.execute("PRAGMA journal_mode = WAL").fetchone()
        conn.execute("PRAGMA synchronous = NORMAL")
        # IMMEDIATE takes the write lock first: a read-only file fails here, and two
        # workers creating the tables at once run one after the other.
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Only a new table: an existing one of another shape or format is refused below.
            if not conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
            ).fetchone():
                # INTEGER PRIMARY KEY is the rowid: one B-tree holds keys and rows, half
                # the size of format 1's rowid table plus its (rule_id, event_key) index.
                conn.execute(
                    f"CREATE TABLE {TABLE} (rule_id TEXT NOT NULL, "
                    "event_key INTEGER PRIMARY KEY, accepted_at INTEGER NOT NULL)"
                )
                conn.execute(f"CREATE INDEX {TABLE}_accepted_at ON {TABLE} (accepted_at)")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            conn.executemany(
                f"INSERT OR IGNORE INTO {META_TABLE} (key, value) VALUES (?, ?)",  # noqa: S608
                [("format_version", FORMAT_VERSION), ("id_key", secrets.token_hex(16))],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    else:
        conn.execute("PRAGMA query_only = ON")

    def columns(table: str) -> tuple[str, ...]:
        return tuple(row[1] for row in conn.execute(f"PRAGMA table_info({table})"))

    found = columns(TABLE), columns(META_TABLE)
    if read_only and found == ((), ()):
        return None
    return _check_shape(found, dict(conn.execute(f"SELECT key, value FROM {META_TABLE}")))  # noqa: S608


def _sqlite_problem(exc: BaseException) -> str:
    text = one_line(str(exc))
    if "not a database" in text or "malformed" in text:
        return f"the file is not a valid SQLite database ({text}); move it away or point ledger_url elsewhere"
    if "readonly" in text or "unable to open" in text:
        return f"it cannot be written ({text}); make the file and its folder writable or point ledger_url elsewhere"
    return text


def _check_shape(found: tuple[tuple[str, ...], ...], meta: dict[str, Any]) -> bytes:
    if found != (COLUMNS, META_COLUMNS):
        raise LedgerError(
            f"its tables {TABLE} / {META_TABLE} do not have the ledger's columns "
            f"(found {list(found[0])} / {list(found[1])}); they belong to something else: "
            "use another file, database or schema"
        )
    version = meta.get("format_version")
    if version == "1":
        raise LedgerError(
            "it has format version '1', written by a development version of the ledger "
            f"that this target no longer reads (it reads version {FORMAT_VERSION}); move the "
            f"file away or drop the tables {TABLE} and {META_TABLE} to start a new ledger "
            "(events it recorded may then be sent once more)"
        )
    if version != FORMAT_VERSION:
        raise LedgerError(
            f"it has format version {version!r}, this target reads version {FORMAT_VERSION} "
            "(a newer target wrote it?)"
        )
    try:
        salt = bytes.fromhex(str(meta.get("id_key")))
    except ValueError:
        salt = b""
    if len(salt) != 16:
        raise LedgerError(f"its {META_TABLE} table lacks a valid id_key entry")
    return salt


# -- PostgreSQL ---------------------------------------------------------------------------


class _PostgresLedger(Ledger):
    def __init__(self, conn, table, meta_table, shown, read_only, salt, params):
        super().__init__(shown, read_only, salt)
        import psycopg

        self._driver_errors = (psycopg.Error,)
        self._conn = conn
        self._table = table
        self._params = params  # to reconnect; holds the password: never shown
        self._password = str(params.get("password") or "")
        sql = psycopg.sql
        self._q_select = sql.SQL("SELECT event_key FROM {} WHERE event_key = ANY(%s)").format(table)
        self._q_insert = sql.SQL(
            "INSERT INTO {} (rule_id, event_key, accepted_at) "
            "SELECT %s, k, %s FROM unnest(%s::bigint[]) AS k ON CONFLICT DO NOTHING"
        ).format(table)

    @staticmethod
    def _connect(params: dict[str, Any], read_only: bool):
        import psycopg

        conn = psycopg.connect(autocommit=True, **params)
        if read_only:
            conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        return conn

    @classmethod
    def open(cls, url: URL, schema: str | None, shown: str, read_only: bool) -> _PostgresLedger:
        try:
            import psycopg
            from psycopg import sql
        except ImportError:  # pragma: no cover - a runtime dependency
            raise _open_error(
                shown, "the psycopg package is missing (pip install psycopg)"
            ) from None
        params: dict[str, Any] = {key: value for key, value in url.query.items()}
        from_url = params.pop("schema", None)
        if isinstance(from_url, tuple) or any(isinstance(v, tuple) for v in params.values()):
            raise _open_error(shown, "a query parameter is repeated")
        if schema and from_url and schema != from_url:
            raise _open_error(
                shown,
                f"ledger_schema {schema!r} and the URL's schema parameter {from_url!r} differ; "
                "keep one",
            )
        schema = schema or from_url
        for key, value in (
            ("host", url.host), ("port", url.port), ("user", url.username),
            ("password", url.password), ("dbname", url.database),
        ):  # fmt: skip
            if value is not None and value != "":
                params[key] = value
        params.setdefault("connect_timeout", PG_CONNECT_TIMEOUT)
        password = str(params.get("password") or "")
        conn = None
        try:
            conn = cls._connect(params, read_only)
            schema = schema or conn.execute("SELECT current_schema()").fetchone()[0]
            if not schema:
                raise LedgerError(
                    "the connection has no current schema; set ledger_schema (or ?schema= in the URL)"
                )
            table = sql.Identifier(schema, TABLE)
            meta_table = sql.Identifier(schema, META_TABLE)
            salt = _pg_prepare(conn, schema, table, meta_table, read_only)
        except psycopg.Error as exc:
            if conn is not None:
                conn.close()
            raise _open_error(shown, _scrub(one_line(str(exc)), password)) from None
        except LedgerError as exc:
            if conn is not None:
                conn.close()
            raise _open_error(shown, str(exc)) from None
        return cls(conn, table, meta_table, shown, read_only, salt, params)

    def _select(self, keys: list[int]) -> list[int]:
        # Binary: the int8[] goes over the wire as 8 bytes an id, not as text.
        rows = self._conn.execute(self._q_select, (keys,), binary=True)
        return [row[0] for row in rows]

    def _insert(self, rule_id: str, keys: list[int], at: int) -> None:
        self._conn.execute(self._q_insert, (rule_id, at, keys), binary=True)

    def _reconnect(self, what: str, exc: BaseException) -> bool:
        import psycopg

        if not self._conn.closed:  # an error of the statement, not of the connection
            return False
        try:
            self._conn = self._connect(self._params, self.read_only)
        except psycopg.Error as again:
            # from None: the driver's exception chain is not for the log.
            raise LedgerError(
                f"The delivery ledger at {self.url} failed to {what}: the connection was "
                f"lost ({_sentence(self._describe(exc))[:-1]}) and reconnecting failed: "
                f"{_sentence(self._describe(again))} Check the database, {HOW_TO_DISABLE}."
            ) from None
        return True

    def _prune(self, cutoff: int, limit: int) -> int:
        from psycopg import sql

        query = sql.SQL(
            "DELETE FROM {0} WHERE ctid = ANY(ARRAY("
            "SELECT ctid FROM {0} WHERE accepted_at < %s LIMIT %s))"
        ).format(self._table)
        return self._conn.execute(query, (cutoff, limit)).rowcount

    def _stats(self) -> list[tuple[Any, ...]]:
        from psycopg import sql

        query = sql.SQL(
            "SELECT rule_id, COUNT(*), MIN(accepted_at), MAX(accepted_at) FROM {} "
            "GROUP BY rule_id ORDER BY rule_id"
        ).format(self._table)
        return self._conn.execute(query).fetchall()

    def _delete(self, clauses: list[tuple[str, Any]]) -> int:
        from psycopg import sql

        where = sql.SQL(" AND ").join(sql.SQL(clause + "%s") for clause, _ in clauses)
        query = sql.SQL("DELETE FROM {} WHERE {}").format(
            self._table, where if clauses else sql.SQL("TRUE")
        )
        return self._conn.execute(query, [value for _, value in clauses]).rowcount

    def _close(self) -> None:
        self._conn.close()

    def _describe(self, exc: BaseException) -> str:
        return _scrub(one_line(str(exc)), self._password)


def _pg_prepare(conn, schema: str, table, meta_table, read_only: bool) -> bytes | None:
    from psycopg import sql

    def exists(name: str) -> bool:
        row = conn.execute(
            "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text))", (schema, name)
        ).fetchone()
        return row[0] is not None

    if not read_only:
        with conn.transaction():
            # CREATE ... IF NOT EXISTS still races on the catalogs (pg_type): one at a time.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (PG_LOCK_KEY,))
            # Checked first: CREATE ... IF NOT EXISTS wants the CREATE privilege even when
            # the object exists, and a ledger user may have been granted just the tables.
            if not conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
            ).fetchone():
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                )
            if not exists(TABLE):
                conn.execute(
                    sql.SQL(
                        "CREATE TABLE {} (rule_id text NOT NULL, event_key bigint PRIMARY KEY, "
                        "accepted_at bigint NOT NULL)"
                    ).format(table)
                )
                conn.execute(
                    sql.SQL("CREATE INDEX {} ON {} (accepted_at)").format(
                        sql.Identifier(f"{TABLE}_accepted_at"), table
                    )
                )
            if not exists(META_TABLE):
                conn.execute(
                    sql.SQL("CREATE TABLE {} (key text PRIMARY KEY, value text NOT NULL)").format(
                        meta_table
                    )
                )
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (key, value) VALUES (%s, %s), (%s, %s) ON CONFLICT DO NOTHING"
                ).format(meta_table),
                ("format_version", FORMAT_VERSION, "id_key", secrets.token_hex(16)),
            )

    def columns(name: str) -> tuple[str, ...]:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (schema, name),
        ).fetchall()
        return tuple(row[0] for row in rows)

    found = columns(TABLE), columns(META_TABLE)
    if read_only and found == ((), ()):
        return None
    meta = dict(conn.execute(sql.SQL("SELECT key, value FROM {}").format(meta_table)).fetchall())
    salt = _check_shape(found, meta)
    if not read_only:
        allowed = conn.execute(
            "SELECT has_table_privilege(%s, 'SELECT, INSERT, DELETE')",
            (f"{_quote(schema)}.{TABLE}",),
        ).fetchone()[0]
        if not allowed:
            raise LedgerError(f"the user may not SELECT, INSERT and DELETE in {schema}.{TABLE}")
    return salt


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


# -- helpers ------------------------------------------------------------------------------


def _open_error(shown: str, problem: str) -> LedgerError:
    return LedgerError(
        f"The delivery ledger at {shown} cannot be opened: {_sentence(problem)} "
        f"Fix ledger_url (and ledger_schema), {HOW_TO_DISABLE}."
    )


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else text + "."


def _scrub(text: str, password: str) -> str:
    return text.replace(password, "***") if password else text


def one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def to_epoch_ms(value: datetime | float) -> int:
    """Epoch milliseconds from an aware datetime or a number of epoch milliseconds."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("a naive datetime is ambiguous: give it a time zone (UTC)")
        return int(value.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected an aware datetime or epoch milliseconds, got {value!r}")
    return int(value)


def from_epoch_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
