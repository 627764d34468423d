"""The rejected-records file: what a line holds, how keys are masked, and file modes."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
import textwrap
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from target_linkedin_capi.config.settings import parse_settings
from target_linkedin_capi.errors import ConfigError
from target_linkedin_capi.report.tally import JsonLines, RunTally
from tests.helpers import base_config

SECRET = "s3cret-for-hmac-0123456789"
DERIVED = "k-" + "0123456789abcdef" * 2 + "01234567"


def hmac_of(text: str, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def reject_one(path: Path, secret: str | None = None, **overrides: Any) -> dict[str, Any]:
    report = RunTally(str(path), secret) if secret else RunTally(str(path))
    line: dict[str, Any] = {
        "stream": "orders",
        "rule": "rule 1",
        "reason": "timestamp_missing",
        "message": "timestamp is missing",
        "field": "timestamp",
        "key": {"id": 42},
        "event_id": None,
        "source": "local",
    }
    line.update(overrides)
    report.reject(**line)
    report.rejected_file.close()
    [written] = [json.loads(x) for x in path.read_text().splitlines()]
    return written


# -- item 6: what a rejected line holds ----------------------------------------------------------


def test_key_values_are_written_as_they_are_by_default(tmp_path: Path) -> None:
    key = {"order_id": 1042, "customer_email": "+44 7700 900123", "amount": Decimal("42.50")}
    line = reject_one(tmp_path / "r.jsonl", key=key, event_id="order-1042")
    assert line["key"] == {"order_id": 1042, "customer_email": "+44 7700 900123", "amount": "42.50"}
    assert line["event_id"] == "order-1042"


def test_an_email_is_never_written_nor_as_linkedins_sha256(tmp_path: Path) -> None:
    email = "Buyer@Example.com"
    line = reject_one(tmp_path / "r.jsonl", key={"email": email}, event_id=email)
    text = json.dumps(line)
    assert "Buyer@Example.com".lower() not in text.lower()
    for variant in (email, email.lower()):  # what LinkedIn receives as SHA256_EMAIL
        assert hashlib.sha256(variant.encode()).hexdigest() not in text
    assert line["key"]["email"].startswith("<withheld")
    assert line["event_id"].startswith("<withheld")


def test_with_masking_every_key_value_and_event_id_is_an_hmac(tmp_path: Path) -> None:
    key = {"id": 42, "ref": "AB-7", "amount": Decimal("42.50"), "flag": True, "none": None,
           "email": "Buyer@Example.com"}  # fmt: skip
    line = reject_one(tmp_path / "r.jsonl", SECRET, key=key, event_id="order-1042")
    assert line["key"] == {
        "id": hmac_of("42"),
        "ref": hmac_of("AB-7"),
        "amount": hmac_of("42.50"),
        "flag": hmac_of("true"),
        "none": None,
        "email": hmac_of("Buyer@Example.com"),
    }
    assert line["event_id"] == hmac_of("order-1042")


def test_the_targets_own_event_id_is_written_as_it_is_unless_keys_are_masked(
    tmp_path: Path,
) -> None:
    assert reject_one(tmp_path / "a.jsonl", event_id=DERIVED)["event_id"] == DERIVED
    # An unkeyed hash of the key: anyone who can guess keys could recompute it.
    masked = reject_one(tmp_path / "b.jsonl", SECRET, event_id=DERIVED)["event_id"]
    assert masked != DERIVED and DERIVED not in masked


def test_messages_never_carry_record_values(tmp_path: Path) -> None:
    message = "LinkedIn: eventId order-777 for someone@example.org is a duplicate"
    line = reject_one(tmp_path / "a.jsonl", message=message, event_id="order-777")
    assert "someone@example.org" not in line["message"]
    masked = reject_one(tmp_path / "b.jsonl", SECRET, message=message, event_id="order-777",
                        key={"id": "order-777"})  # fmt: skip
    assert "order-777" not in json.dumps(masked)
    assert masked["message"].startswith("LinkedIn: eventId <redacted>")


def test_a_long_hostile_message_is_redacted_in_linear_time() -> None:
    # A long run of characters without '@' used to be rescanned from every position.
    script = textwrap.dedent("""
        from target_linkedin_capi.report.redaction import redact_linkedin_message
        text = "a" * 400_000 + " @x " + "b" * 400_000 + " x@y"
        assert redact_linkedin_message(text).endswith(" <redacted>")
        print("done")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30, check=True)  # fmt: skip
    assert done.stdout.strip() == "done"


def test_masking_needs_its_secret(tmp_path: Path) -> None:
    for secret in (None, "", "qz-9x"):
        config = base_config(rejected_records_mask_keys=True)
        if secret is not None:
            config["rejected_records_mask_secret"] = secret
        with pytest.raises(ConfigError) as caught:
            parse_settings(config)
        assert caught.value.setting == "rejected_records_mask_secret"
        if secret:
            assert secret not in str(caught.value)
    settings = parse_settings(
        base_config(rejected_records_mask_keys=True, rejected_records_mask_secret=SECRET)
    )
    assert settings.rejected_records_mask_secret == SECRET
    assert SECRET in settings.secrets  # masked in every log line
    assert SECRET not in repr(settings)
    # Off: the secret is not used (and not required).
    assert parse_settings(base_config()).rejected_records_mask_secret is None


def test_the_hmac_is_what_python_computes_for_the_documented_text() -> None:
    # The reference the operator recomputes: HMAC-SHA-256(secret, key::text), hex.
    from target_linkedin_capi.report.tally import hmac_hex

    assert hmac_hex(SECRET, 42) == hmac_of("42")
    assert hmac_hex(SECRET, Decimal("0.10")) == hmac_of("0.10")
    assert hmac_hex(SECRET, "Ünïcødé") == hmac_of("Ünïcødé")


def _pg_connect(database: str = "test"):
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        return psycopg2.connect(host=os.environ.get("PGHOST", "127.0.0.1"),
                                port=int(os.environ.get("PGPORT", "5432")),
                                user=os.environ.get("PGUSER", "postgres"),
                                password=os.environ.get("PGPASSWORD") or None,
                                dbname=database, connect_timeout=5)  # fmt: skip
    except psycopg2.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")


@pytest.fixture
def scratch_db():
    """A throw-away database with pgcrypto (an extension is per database: none is shared)."""
    admin = _pg_connect()
    admin.autocommit = True
    name = f"privacy_hmac_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pgcrypto'")
        if cur.fetchone() is None:
            admin.close()
            pytest.skip("pgcrypto is not available")
        cur.execute(f"CREATE DATABASE {name}")
    try:
        conn = _pg_connect(name)
        conn.autocommit = True
        try:
            yield conn
        finally:
            conn.close()
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


def test_the_documented_postgres_query_finds_the_row(scratch_db, tmp_path: Path) -> None:
    from target_linkedin_capi.target import _msgspec_decoder

    with scratch_db.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
        cur.execute("CREATE TABLE orders (n bigint, ref text, id uuid, amount numeric(10, 2))")
        cur.execute(
            "INSERT INTO orders VALUES (42, 'AB-7 Ünï', gen_random_uuid(), 42.50), "
            "(-7, 'x', gen_random_uuid(), 0.10), (9000000000000, '', gen_random_uuid(), 3)"
        )
        # The record as a tap sends it (JSON), read as the target reads its input.
        cur.execute("SELECT row_to_json(o)::text FROM orders o")
        records = [_msgspec_decoder.decode(row[0]) for row in cur.fetchall()]
        for index, record in enumerate(records):
            path = tmp_path / f"r{index}.jsonl"
            masked = reject_one(path, SECRET, key=record)["key"]
            for column in ("n", "ref", "id", "amount"):
                cur.execute(
                    f"SELECT count(*) FROM orders "  # noqa: S608 - fixed column names
                    f"WHERE encode(hmac({column}::text, %s, 'sha256'), 'hex') = %s",
                    (SECRET, masked[column]),
                )
                assert cur.fetchone()[0] == 1, (column, record[column])


# -- item 7: files are private ----------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _in_child(code: str, umask: int) -> None:
    """Umask is per process: tests that set it run in a child, never in the test runner."""
    script = f"import os\nos.umask({umask:#o})\n" + textwrap.dedent(code)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)


def test_files_are_0600_in_0700_folders_whatever_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "rejected.jsonl"
    dry = tmp_path / "dry" / "requests.jsonl"
    _in_child(f"""
        from target_linkedin_capi.report.tally import JsonLines, RunTally
        report = RunTally({str(target)!r})
        report.reject(stream="s", rule="r", reason="no_identifier", message="m", field=None,
                      key={{"id": 1}}, event_id=None, source="local")
        report.rejected_file.close()
        out = JsonLines({str(dry)!r})
        out.write({{"a": 1}})
        out.close()
    """, umask=0o022)  # fmt: skip
    assert _mode(target) == 0o600 and _mode(dry) == 0o600
    for folder in (tmp_path / "new", tmp_path / "new" / "deeper", tmp_path / "dry"):
        assert _mode(folder) == 0o700
    assert _mode(tmp_path) == stat.S_IMODE(os.stat(tmp_path).st_mode)  # not ours: unchanged


def test_a_stricter_umask_is_honoured(tmp_path: Path) -> None:
    target = tmp_path / "strict" / "out.jsonl"
    _in_child(f"""
        from target_linkedin_capi.report.tally import JsonLines
        out = JsonLines({str(target)!r})
        out.write({{"a": 1}})
        out.close()
    """, umask=0o277)  # fmt: skip
    assert _mode(target) == 0o400
    assert _mode(target.parent) == 0o500
    target.parent.chmod(0o700)  # let pytest clean up


def test_an_existing_file_we_own_is_tightened_and_appended_to(tmp_path: Path) -> None:
    target = tmp_path / "rejected.jsonl"
    target.write_text('{"old":1}\n')
    target.chmod(0o644)
    out = JsonLines(str(target))
    out.write({"new": 2})
    out.close()
    assert _mode(target) == 0o600
    assert target.read_text().splitlines() == ['{"old":1}', '{"new":2}']


def test_private_file_can_truncate(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old content")
    from target_linkedin_capi.report.files import private_file  # the helper every writer uses

    with private_file(target, append=False) as handle:
        handle.write("{}")
    assert target.read_text() == "{}" and _mode(target) == 0o600
