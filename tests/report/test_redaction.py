"""The secret filter on log handlers, and the redaction of LinkedIn's messages (redaction.py)."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote, urlencode

import pytest
import requests

from target_linkedin_capi.report.redaction import SecretFilter, redact_linkedin_message

SECRET = "AQX+t0k/EN=sec"  # `+/=` are percent-encoded in form bodies


@pytest.fixture
def logged() -> tuple[logging.Logger, list[str]]:
    """A logger whose one handler carries the filter; returns what it printed."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(SecretFilter(lambda: {SECRET}))
    logger = logging.getLogger("test-redaction")
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.DEBUG)
    return logger, lines


@pytest.mark.parametrize(
    "form",
    [
        SECRET,
        repr(f"Bearer {SECRET}\n"),  # requests' InvalidHeader text
        json.dumps({"token": SECRET + "\n"}),
        urlencode({"refresh_token": SECRET}),  # form body
        quote(SECRET, safe=""),
        "AQX%2bt0k%2fEN%3dsec",  # lower-case escapes
    ],
)
def test_every_form_of_a_secret_is_masked_in_message_and_args(
    logged: tuple[logging.Logger, list[str]], form: str
) -> None:
    logger, lines = logged
    logger.error("in the message: " + form)  # no args: not %-formatted
    logger.error("in the args: %s", form)
    assert len(lines) == 2
    for line in lines:
        assert "***" in line
        for part in ("t0k", "EN=sec", "EN%3Dsec", "EN%3dsec"):
            assert part not in line


def test_a_secret_with_a_newline_is_masked_in_an_invalid_header_traceback(
    logged: tuple[logging.Logger, list[str]],
) -> None:
    logger, lines = logged
    try:
        requests.Request(
            "GET", "https://x.test", headers={"Authorization": f"Bearer {SECRET}\n"}
        ).prepare()
    except requests.exceptions.InvalidHeader:
        logger.exception("the call failed")
    try:
        try:
            raise ValueError(f"inner {SECRET!r}")
        except ValueError:
            raise RuntimeError("outer") from None
    except RuntimeError as exc:
        try:
            raise KeyError("wrapped") from exc
        except KeyError:
            logger.debug("chained", exc_info=True)
    (invalid, chained) = lines
    assert "InvalidHeader" in invalid and "Traceback" in invalid
    assert "outer" in chained and "wrapped" in chained
    for line in lines:
        assert "t0k" not in line


def test_lines_without_secrets_are_untouched(logged: tuple[logging.Logger, list[str]]) -> None:
    logger, lines = logged
    logger.warning("sent %d events to %s", 3, "rule 7")
    assert lines == ["WARNING sent 3 events to rule 7"]


@pytest.mark.parametrize(
    ("message", "kept", "gone"),
    [
        ("Email grace.hopper@example.org is wrong", "Email", "grace.hopper"),
        ("Email grace.hopper%40example.org is wrong", "Email", "grace.hopper"),
        ("from 203.0.113.9, sunset", "sunset", "203.0.113.9"),
        ("from 203.0.113.9:8080.", "from", "203.0.113.9"),
        ("from 2001:db8::7 and ::1", "and", "2001:db8"),
        ("from [fe80::1%eth0]:443", "from", "fe80"),
        ('"Grace" is not an enum symbol', "is not an enum symbol", "Grace"),
        ("field 'Grace Hopper' too long", "too long", "Grace"),
        ('"SHA256_EMAIL" is not valid', '"SHA256_EMAIL"', "<none>"),
        ("Conversion's method should be CONVERSIONS_API", "Conversion's method", "<none>"),
        ("Index: 0, ERROR :: /user/userIds/0/idValue :: x", "Index: 0, ERROR :: /user", "<none>"),
        ("hash " + "a" * 64 + " at 12:30:45", "a" * 64 + " at 12:30:45", "<none>"),
    ],
)
def test_linkedin_messages_lose_emails_quoted_values_and_ips(
    message: str, kept: str, gone: str
) -> None:
    redacted = redact_linkedin_message(message)
    assert kept in redacted
    assert gone not in redacted


def test_redaction_of_a_hostile_message_is_linear() -> None:
    # Run in the test process: a quadratic pattern would take minutes here, not seconds.
    import subprocess
    import sys

    code = (
        "from target_linkedin_capi.report.redaction import redact_linkedin_message as r\n"
        "for text in ['a' * 2_000_000, ':' * 2_000_000, '1.' * 1_000_000, 'a%4' * 700_000,"
        " '\"' + 'x' * 2_000_000, \"'\" + 'x' * 2_000_000]:\n"
        "    r(text)\n"
        "print('done')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stdout.strip() == "done", result.stderr
