"""errors.classify: one LinkedIn answer -> one error class; transport.should_retry: the one
retry decision; advice: what each error tells the person."""

from __future__ import annotations

import json

import pytest
import requests

from target_linkedin_capi.linkedin import advice
from target_linkedin_capi.linkedin.errors import (
    AccessDeniedError,
    AuthenticationError,
    BatchRefusedError,
    ClientError,
    ConnectionFailedError,
    LinkedInError,
    NotFoundError,
    RedirectRefusedError,
    RequestNotSentError,
    ServerError,
    ThrottledError,
    VersionSunsetError,
    classify,
)
from target_linkedin_capi.linkedin.transport import should_retry


def answer(status: int, body: object = None, **headers: str) -> LinkedInError:
    content = json.dumps(body).encode() if body is not None else b""
    return classify(status, headers, content, reason="Reason", what="a call")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (301, RedirectRefusedError),
        (307, RedirectRefusedError),
        (400, ClientError),
        (401, AuthenticationError),
        (403, AccessDeniedError),
        (404, NotFoundError),
        (408, ServerError),
        (409, ClientError),
        (422, ClientError),
        (426, VersionSunsetError),
        (429, ThrottledError),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_each_status_is_one_class(status: int, kind: type[LinkedInError]) -> None:
    error = answer(status, {"message": "m", "status": status})
    assert type(error) is kind
    assert error.http_status == status
    assert error.what == "a call"


def test_fields_are_read_from_the_answer() -> None:
    error = answer(
        401,
        {"status": 401, "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN", "message": "m"},
        **{"x-li-uuid": "abc-123"},
    )
    assert isinstance(error, AuthenticationError)
    assert (error.code, error.service_error_code, error.request_id) == (
        "REVOKED_ACCESS_TOKEN",
        65601,
        "abc-123",
    )
    assert error.reason == "revoked" and not error.refreshable
    assert error.describe() == "HTTP 401 REVOKED_ACCESS_TOKEN: m (x-li-uuid abc-123)"
    assert answer(401, {"code": "EXPIRED_ACCESS_TOKEN"}).refreshable


def test_retry_after_is_read_for_throttling_and_server_errors() -> None:
    throttled = answer(429, **{"Retry-After": "7"})
    assert isinstance(throttled, ThrottledError) and throttled.retry_after == 7.0
    assert answer(503, **{"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}).retry_after is None


def test_batch_refusals_only_for_a_batch_and_without_a_gateway_code() -> None:
    body = {"message": "Index: 1, ERROR :: /a :: b\n", "status": 422}
    refused = classify(422, {}, json.dumps(body).encode(), batch_count=2)
    assert isinstance(refused, BatchRefusedError) and refused.failures == {1: "ERROR :: /a :: b"}
    assert type(classify(422, {}, json.dumps(body).encode())) is ClientError
    gateway = {"message": "A version must be present", "code": "VERSION_MISSING", "status": 400}
    assert type(classify(400, {}, json.dumps(gateway).encode(), batch_count=2)) is ClientError


@pytest.mark.parametrize(
    ("message", "rule_level"),
    [
        ("this event(s) is associated to a conversion that's marked as deleted, indices [0]", True),
        ("Conversion method should be CONVERSIONS_API, indices [0, 1] (0-indexed)", True),
        ("Conversion time should be within 90 days, indices [0] (0-indexed)", False),
    ],
)
def test_rule_level_refusals(message: str, rule_level: bool) -> None:
    body = json.dumps({"message": message, "status": 400}).encode()
    refused = classify(400, {}, body, batch_count=2)
    assert isinstance(refused, BatchRefusedError)
    assert refused.rule_level is rule_level


def test_messages_are_redacted_and_odd_codes_and_ids_withheld() -> None:
    error = answer(
        400,
        {"code": "grace@example.org", "message": "Member grace.hopper@example.org at 203.0.113.9"},
        **{"x-li-uuid": "grace hopper"},
    )
    shown = error.describe() + str(error) + error.message
    for raw in ("grace", "example.org", "203.0.113.9"):
        assert raw not in shown
    long = answer(400, {"message": "x" * 1000})
    assert "(1000 characters)" in long.describe()


def test_non_json_and_empty_bodies() -> None:
    error = classify(400, {}, b"<html>", reason="Bad Request")
    assert error.message == "Bad Request" and error.code is None
    assert classify(404, {}, b"\xff\xfe").message == ""


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (ThrottledError(http_status=429), True),
        (ServerError(http_status=502), True),
        (ConnectionFailedError(requests.ConnectionError()), True),
        (ConnectionFailedError(requests.Timeout()), True),
        (RequestNotSentError(requests.exceptions.InvalidHeader()), False),
        (AuthenticationError(http_status=401), False),
        (AccessDeniedError(http_status=403), False),
        (VersionSunsetError(http_status=426), False),
        (NotFoundError(http_status=404), False),
        (BatchRefusedError(http_status=422), False),
        (RedirectRefusedError(http_status=302), False),
        (ValueError("not LinkedIn"), False),
    ],
)
def test_should_retry(error: BaseException, retry: bool) -> None:
    assert should_retry(error) is retry


def test_advice_for_any_call() -> None:
    def text(error: LinkedInError) -> str | None:
        return advice.for_error(error, base_url="https://api.test/rest", host="api.test")

    revoked = AuthenticationError(http_status=401, code="REVOKED_ACCESS_TOKEN", what="x")
    assert "revoked" in (text(revoked) or "") and "Direct API" in (text(revoked) or "")
    sunset = VersionSunsetError(http_status=426)
    sunset.api_version = "202501"
    assert "202501" in (text(sunset) or "") and "api_version" in (text(sunset) or "")
    denied = text(AccessDeniedError(http_status=403, what="lookup"))
    assert denied and "ACCOUNT_MANAGER" in denied and "rw_conversions" in denied
    throttled = ServerError(http_status=503, what="batch")
    throttled.retries = (4, 30.0)
    assert "HTTP 503 after 4 attempts or 30 s" in (text(throttled) or "")
    lost = ConnectionFailedError(requests.ConnectionError("10.0.0.1 secret"), what="batch")
    assert "ConnectionError" in (text(lost) or "") and "10.0.0.1" not in (text(lost) or "")
    assert text(ClientError(http_status=409)) is None  # depends on the call
