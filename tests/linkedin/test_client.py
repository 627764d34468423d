"""The HTTP client (client.py, auth.py) against requests-mock: requests, retries, auth, errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests

from target_linkedin_capi.errors import FatalError
from target_linkedin_capi.linkedin.client import LinkedInClient
from target_linkedin_capi.linkedin.errors import BatchRefusedError, LinkedInError, parse_failures
from target_linkedin_capi.linkedin.restli import RestliMethod
from target_linkedin_capi.linkedin.transport import RateLimiter, Request
from tests.constants import ACCOUNT_QUERY, API_BASE, OAUTH_URL, TOKEN

# Same values as tests/conftest.py.
EVENTS_URL = f"{API_BASE}/conversionEvents"

MakeClient = Callable[..., LinkedInClient]
PAYLOAD_MARKER = "payload-marker-4f2a"
EVENTS = [
    {
        "conversion": "urn:lla:llaPartnerConversion:456",
        "conversionHappenedAt": 1_789_475_400_000,
        "eventId": PAYLOAD_MARKER,
        "user": {"userIds": [{"idType": "SHA256_EMAIL", "idValue": "a" * 64}]},
    },
    {
        "conversion": "urn:lla:llaPartnerConversion:456",
        "conversionHappenedAt": 1_789_475_400_001,
        "user": {"userIds": [], "externalIds": ["c-2"]},
    },
]
BODY = json.dumps({"elements": EVENTS}).encode()
OK = {"status_code": 200, "json": {"elements": [{"status": 201}, {"status": 201}]}}
ALL_STATUSES_OK = {"status_code": 201}


def oauth_form(request: Any) -> dict[str, list[str]]:
    return parse_qs(request.text)


# -- the exact request -----------------------------------------------------------------------


def test_batch_create_request(client: LinkedInClient, requests_mock: Any) -> None:
    requests_mock.post(EVENTS_URL, **OK)
    client.batch_create_events(BODY, len(EVENTS))
    (request,) = requests_mock.request_history
    assert request.method == "POST"
    assert request.url == EVENTS_URL
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["LinkedIn-Version"] == "202609"
    assert request.headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert request.headers["X-RestLi-Method"] == "BATCH_CREATE"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == BODY
    assert request.json() == {"elements": EVENTS}
    assert request.timeout == (1.0, 1.0)  # explicit timeouts, never unbounded


def test_any_2xx_is_success(client: LinkedInClient, requests_mock: Any) -> None:
    requests_mock.post(EVENTS_URL, status_code=201)
    client.batch_create_events(BODY, 2)
    assert requests_mock.call_count == 1


def test_base_url_trailing_slash_and_version(make_client: MakeClient, requests_mock: Any) -> None:
    client = make_client(api_base_url=API_BASE + "/", api_version="202607")
    requests_mock.post(EVENTS_URL, **OK)
    client.batch_create_events(BODY, 2)
    assert requests_mock.last_request.url == EVENTS_URL
    assert requests_mock.last_request.headers["LinkedIn-Version"] == "202607"


def test_one_session_for_all_calls(client: LinkedInClient, requests_mock: Any) -> None:
    client.session.headers["X-Session-Marker"] = "the-one-session"
    requests_mock.post(EVENTS_URL, **OK)
    requests_mock.get(f"{API_BASE}/conversions/1?{ACCOUNT_QUERY}", json={"id": 1})
    client.batch_create_events(BODY, 2)
    assert client.get_rule("123", "1").id == "1"
    assert requests_mock.call_count == 2
    for request in requests_mock.request_history:
        assert request.headers["X-Session-Marker"] == "the-one-session"


# -- retries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_status_is_retried(
    client: LinkedInClient, requests_mock: Any, sleeps: list[float], status: int
) -> None:
    requests_mock.post(EVENTS_URL, [{"status_code": status}, {"status_code": status}, OK])
    client.batch_create_events(BODY, 2)
    assert requests_mock.call_count == 3
    assert len(sleeps) == 2
    bodies = {r.body for r in requests_mock.request_history}
    assert bodies == {BODY}  # the same batch resent


@pytest.mark.parametrize(
    "exc",
    [requests.ConnectionError, requests.exceptions.ReadTimeout, requests.exceptions.ConnectTimeout],
)
def test_connection_errors_and_timeouts_are_retried(
    client: LinkedInClient, requests_mock: Any, sleeps: list[float], exc: type[Exception]
) -> None:
    requests_mock.post(EVENTS_URL, [{"exc": exc}, OK])
    client.batch_create_events(BODY, 2)
    assert requests_mock.call_count == 2
    assert len(sleeps) == 1


def test_retry_after_is_honoured(
    client: LinkedInClient, requests_mock: Any, sleeps: list[float]
) -> None:
    requests_mock.post(EVENTS_URL, [{"status_code": 429, "headers": {"Retry-After": "7"}}, OK])
    client.batch_create_events(BODY, 2)
    assert sleeps == [pytest.approx(7.0, abs=0.5)]  # backoff alone would be <= 0.02 s


def test_retry_after_beyond_budget_is_capped(
    make_client: MakeClient, requests_mock: Any, fake_clock: Any
) -> None:
    client = make_client(retry_max_attempts=50, retry_max_wait_seconds=5)
    requests_mock.post(EVENTS_URL, status_code=503, headers={"Retry-After": "100"})
    with pytest.raises(FatalError) as caught:
        client.batch_create_events(BODY, 2)
    assert sum(fake_clock.sleeps) <= 5.0
    assert requests_mock.call_count < 50  # the time budget, not the attempt budget, ended it
    assert "503" in str(caught.value)


def test_attempt_budget(make_client: MakeClient, requests_mock: Any, sleeps: list[float]) -> None:
    client = make_client(retry_max_attempts=3)
    requests_mock.post(EVENTS_URL, status_code=500)
    with pytest.raises(FatalError) as caught:
        client.batch_create_events(BODY, 2)
    assert requests_mock.call_count == 3
    assert len(sleeps) == 2
    message = str(caught.value)
    assert "HTTP 500" in message
    assert "3 attempts" in message
    assert TOKEN not in message


def test_connection_errors_exhausted_are_fatal(
    make_client: MakeClient, requests_mock: Any, sleeps: list[float]
) -> None:
    client = make_client(retry_max_attempts=2)
    requests_mock.post(EVENTS_URL, exc=requests.ConnectionError("refused"))
    with pytest.raises(FatalError) as caught:
        client.batch_create_events(BODY, 2)
    assert requests_mock.call_count == 2
    assert API_BASE in str(caught.value)


def test_retry_log_lines(
    make_client: MakeClient,
    requests_mock: Any,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client(retry_max_attempts=4)
    requests_mock.post(
        EVENTS_URL,
        [{"status_code": 503}, {"status_code": 429, "headers": {"Retry-After": "3"}}, OK],
    )
    caplog.set_level(logging.DEBUG)
    client.batch_create_events(BODY, 2)
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2
    assert all(r.levelno == logging.WARNING for r in retries)
    first, second = (r.getMessage() for r in retries)
    assert "HTTP 503" in first
    assert "attempt 2 of 4" in first
    assert "HTTP 429" in second
    assert "attempt 3 of 4" in second
    assert "in 3.0 s" in second  # the wait
    everything = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert TOKEN not in everything
    assert PAYLOAD_MARKER not in everything
    assert "a" * 64 not in everything


# -- 4xx -------------------------------------------------------------------------------------


def test_426_is_fatal_names_version_and_is_not_retried(
    make_client: MakeClient, requests_mock: Any, sleeps: list[float]
) -> None:
    client = make_client(api_version="202510")
    requests_mock.post(
        EVENTS_URL,
        status_code=426,
        json={
            "status": 426,
            "code": "NONEXISTENT_VERSION",
            "message": "Requested version 20251001 is not active",
        },
    )
    with pytest.raises(FatalError) as caught:
        client.batch_create_events(BODY, 2)
    assert requests_mock.call_count == 1
    assert sleeps == []
    assert "202510" in str(caught.value)
    assert "api_version" in str(caught.value)


def test_403_is_fatal_and_names_causes(
    client: LinkedInClient, requests_mock: Any, sleeps: list[float]
) -> None:
    requests_mock.post(
        EVENTS_URL, status_code=403, json={"message": "No ad accounts found", "status": 403}
    )
    with pytest.raises(FatalError) as caught:
        client.batch_create_events(BODY, 2)
    assert requests_mock.call_count == 1
    message = str(caught.value)
    assert "No ad accounts found" in message
    assert "role" in message
    assert "ACCOUNT_MANAGER" in message
    assert "rw_conversions" in message
    assert "r_ads" in message
    assert "rule" in message


def test_422_batch_names_failing_elements(client: LinkedInClient, requests_mock: Any) -> None:
    message = (
        "Index: 0, ERROR :: /conversionValue/amount :: field is required but not found and has "
        "no default value\nERROR :: /user/userInfo/firstName :: field is required but not found "
        "and has no default value\nIndex: 2, ERROR :: /user/lead :: Invalid Urn format. Invalid "
        "prefix.\n"
    )
    requests_mock.post(EVENTS_URL, status_code=422, json={"message": message, "status": 422})
    with pytest.raises(BatchRefusedError) as caught:
        client.batch_create_events(BODY, 3)
    assert requests_mock.call_count == 1
    assert caught.value.http_status == 422
    failures = caught.value.failures
    assert failures is not None
    assert set(failures) == {0, 2}
    assert "/conversionValue/amount" in failures[0]
    assert "/user/userInfo/firstName" in failures[0]  # continuation line, same element
    assert "/user/lead" in failures[2]
    assert "/user/lead" not in failures[0]


def test_400_with_indices_names_failing_elements(
    client: LinkedInClient, requests_mock: Any
) -> None:
    message = "Conversion time should be within 90 days and not exceed current time, indices [0, 3] (0-indexed)."
    requests_mock.post(EVENTS_URL, status_code=400, json={"message": message, "status": 400})
    with pytest.raises(BatchRefusedError) as caught:
        client.batch_create_events(BODY, 5)
    failures = caught.value.failures
    assert failures is not None
    assert set(failures) == {0, 3}
    assert all("Conversion time should be within 90 days" in reason for reason in failures.values())


def test_rejected_batch_without_indices(client: LinkedInClient, requests_mock: Any) -> None:
    requests_mock.post(
        EVENTS_URL, status_code=422, json={"message": "ERROR :: /x :: bad", "status": 422}
    )
    with pytest.raises(BatchRefusedError) as caught:
        client.batch_create_events(BODY, 2)
    assert caught.value.failures is None


def test_gateway_400_with_code_is_fatal(client: LinkedInClient, requests_mock: Any) -> None:
    requests_mock.post(
        EVENTS_URL,
        status_code=400,
        headers={"X-Restli-Gateway-Error": "true"},
        json={
            "status": 400,
            "code": "VERSION_MISSING",
            "message": "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
        },
    )
    with pytest.raises(FatalError) as caught:
        client.batch_create_events(BODY, 2)
    assert not isinstance(caught.value, BatchRefusedError)
    assert "VERSION_MISSING" in str(caught.value)
    assert requests_mock.call_count == 1


def test_other_4xx_on_events_is_fatal(client: LinkedInClient, requests_mock: Any) -> None:
    requests_mock.post(
        EVENTS_URL,
        status_code=404,
        json={"status": 404, "code": "RESOURCE_NOT_FOUND", "message": "No virtual resource found"},
    )
    with pytest.raises(FatalError):
        client.batch_create_events(BODY, 2)


def test_4xx_on_other_calls_is_api_error(client: LinkedInClient, requests_mock: Any) -> None:
    requests_mock.get(
        f"{API_BASE}/conversions/9",
        status_code=404,
        json={"status": 404, "message": "Not found"},
        headers={"x-li-uuid": "req-1"},
    )
    with pytest.raises(LinkedInError) as caught:
        client.transport.send(Request(RestliMethod.GET, "/conversions/9", "lookup"))
    assert caught.value.http_status == 404
    assert "req-1" in str(caught.value)  # the id LinkedIn support asks for


def test_non_json_error_body(client: LinkedInClient, requests_mock: Any) -> None:
    requests_mock.get(
        f"{API_BASE}/conversions/9", status_code=400, text="<html>bad</html>", reason="Bad Request"
    )
    with pytest.raises(LinkedInError) as caught:
        client.transport.send(Request(RestliMethod.GET, "/conversions/9", "lookup"))
    assert caught.value.message == "Bad Request"


# -- parse_failures --------------------------------------------------------------------------


def test_parse_failures_out_of_range_or_absent_is_none() -> None:
    assert parse_failures("Index: 5, ERROR :: /a :: b\n", 3) is None
    assert parse_failures("Index: 0, ERROR :: /a :: b\nIndex: 3, ERROR :: /a :: b\n", 3) is None
    assert parse_failures("bad things, indices [7] (0-indexed)", 2) is None
    assert parse_failures("bad things happened", 2) is None
    assert parse_failures("", 2) is None
    assert parse_failures("x, indices [] (0-indexed)", 2) is None


def test_parse_failures_exact() -> None:
    assert parse_failures("Index: 1, ERROR :: /a :: b\n", 2) == {1: "ERROR :: /a :: b"}
    assert parse_failures("Oops, indices [1] (0-indexed).", 2) == {1: "Oops"}


# -- auth ------------------------------------------------------------------------------------

REFRESH = {"refresh_token": "rt-SECRET-1", "client_id": "cid", "client_secret": "cs-SECRET"}
EXPIRED = {
    "status_code": 401,
    "json": {
        "status": 401,
        "serviceErrorCode": 65602,
        "code": "EXPIRED_ACCESS_TOKEN",
        "message": "The token used in the request has expired",
    },
}
REVOKED = {
    "status_code": 401,
    "json": {
        "status": 401,
        "serviceErrorCode": 65601,
        "code": "REVOKED_ACCESS_TOKEN",
        "message": "The token used in the request has been revoked by the user",
    },
}


def assert_new_token_help(message: str) -> None:
    assert "rw_conversions" in message
    assert "r_ads" in message
    assert "Direct API" in message
    assert TOKEN not in message
    assert "SECRET" not in message


def test_expired_token_is_refreshed_once_then_retried(
    make_client: MakeClient, requests_mock: Any
) -> None:
    client = make_client(**REFRESH)
    requests_mock.post(EVENTS_URL, [EXPIRED, OK])
    oauth = requests_mock.post(OAUTH_URL, json={"access_token": "tok-NEW", "expires_in": 5184000})
    client.batch_create_events(BODY, 2)
    assert oauth.call_count == 1
    form = oauth_form(oauth.last_request)
    assert form == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["rt-SECRET-1"],
        "client_id": ["cid"],
        "client_secret": ["cs-SECRET"],
    }
    assert oauth.last_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    events = [r for r in requests_mock.request_history if r.url == EVENTS_URL]
    assert [r.headers["Authorization"] for r in events] == [f"Bearer {TOKEN}", "Bearer tok-NEW"]
    assert events[1].body == BODY


def test_refreshed_token_refused_again_is_fatal(
    make_client: MakeClient, requests_mock: Any
) -> None:
    client = make_client(**REFRESH)
    requests_mock.post(EVENTS_URL, [EXPIRED, EXPIRED, OK])
    oauth = requests_mock.post(OAUTH_URL, json={"access_token": "tok-NEW", "expires_in": 5184000})
    with pytest.raises(FatalError) as caught:
        client.batch_create_events(BODY, 2)
    assert oauth.call_count == 1
    assert_new_token_help(str(caught.value))


def test_refresh_failure_is_fatal(make_client: MakeClient, requests_mock: Any) -> None:
    client = make_client(**REFRESH)
    requests_mock.post(EVENTS_URL, [EXPIRED, OK])
    requests_mock.post(
        OAUTH_URL,
        status_code=400,
        json={
            "error": "invalid_request",
            "error_description": "The provided authorization grant or refresh token is invalid, expired or revoked",
        },
    )
    with pytest.raises(FatalError) as caught:
        client.batch_create_events(BODY, 2)
    assert_new_token_help(str(caught.value))
    assert "invalid_request" in str(caught.value)


def test_revoked_token_is_fatal_without_refresh(
    make_client: MakeClient, requests_mock: Any
) -> None:
    client = make_client(**REFRESH)
    requests_mock.post(EVENTS_URL, [REVOKED, OK])
    oauth = requests_mock.post(OAUTH_URL, json={"access_token": "tok-NEW"})
    with pytest.raises(FatalError) as caught:
        client.batch_create_events(BODY, 2)
    assert oauth.call_count == 0
    assert "revoked" in str(caught.value)
    assert_new_token_help(str(caught.value))


def test_401_without_refresh_credentials_is_fatal(
    client: LinkedInClient, requests_mock: Any
) -> None:
    requests_mock.post(EVENTS_URL, [EXPIRED, OK])
    oauth = requests_mock.post(OAUTH_URL, json={"access_token": "tok-NEW"})
    with pytest.raises(FatalError) as caught:
        client.batch_create_events(BODY, 2)
    assert oauth.call_count == 0
    assert requests_mock.call_count == 1
    assert_new_token_help(str(caught.value))


def test_new_refresh_token_is_adopted_and_not_logged(
    make_client: MakeClient, requests_mock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(**REFRESH)
    requests_mock.post(EVENTS_URL, [EXPIRED, OK, EXPIRED, OK])
    oauth = requests_mock.post(
        OAUTH_URL,
        [
            {
                "json": {
                    "access_token": "tok-NEW-1",
                    "refresh_token": "rt-SECRET-2",
                    "expires_in": 5184000,
                }
            },
            {"json": {"access_token": "tok-NEW-2", "expires_in": 5184000}},
        ],
    )
    client.batch_create_events(BODY, 2)
    client.batch_create_events(BODY, 2)
    assert oauth.call_count == 2
    # The second refresh uses the refresh token LinkedIn issued in the first.
    assert oauth_form(oauth.request_history[1])["refresh_token"] == ["rt-SECRET-2"]
    assert requests_mock.request_history[-1].headers["Authorization"] == "Bearer tok-NEW-2"
    assert any("new refresh token" in r.getMessage() for r in caplog.records)
    text = caplog.text
    for secret in ("rt-SECRET-1", "rt-SECRET-2", "tok-NEW-1", "tok-NEW-2", "cs-SECRET", TOKEN):
        assert secret not in text


def test_refresh_only_credentials_fetch_a_token_first(
    make_client: MakeClient, requests_mock: Any
) -> None:
    client = make_client(access_token=None, **REFRESH)
    requests_mock.post(EVENTS_URL, **OK)
    oauth = requests_mock.post(OAUTH_URL, json={"access_token": "tok-FIRST", "expires_in": 5184000})
    client.batch_create_events(BODY, 2)
    assert oauth.call_count == 1
    assert requests_mock.last_request.headers["Authorization"] == "Bearer tok-FIRST"


# -- rate limit ------------------------------------------------------------------------------


def test_rate_limiter_keeps_within_limit(fake_clock: Any) -> None:
    limiter = RateLimiter(per_minute=3)
    times = []
    for _ in range(10):
        limiter.acquire()
        times.append(fake_clock.now)
    assert fake_clock.sleeps  # it had to wait
    for i in range(len(times) - 3):
        assert times[i + 3] - times[i] >= 60.0  # never 4 requests within one minute
    assert times[2] == times[0]  # the first 3 go at once
    assert times[-1] - times[0] <= 3 * 60.0  # and no waiting beyond what the limit needs


def test_client_uses_its_rate_limiter(
    make_client: MakeClient, requests_mock: Any, fake_clock: Any
) -> None:
    client = make_client(rate_limit_per_minute=2)
    requests_mock.post(EVENTS_URL, **OK)
    for _ in range(5):
        client.batch_create_events(BODY, 2)
    assert requests_mock.call_count == 5
    assert sum(fake_clock.sleeps) >= 120.0  # 5 requests at 2 per minute: two full waits


# -- secrets, LinkedIn's text, redirects (safety issue: items 5, 9, 10) ----------------------

LEAKY = "Member grace.hopper@example.org at 203.0.113.9 (2001:db8::7) sent 'Grace Hopper'"
LEAKED = ("grace.hopper", "example.org", "203.0.113.9", "2001:db8::7", "Grace Hopper")


def test_a_token_requests_cannot_send_is_fatal_and_named_by_type_only(
    make_client: MakeClient, requests_mock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # What happened with a token read from a file: requests refuses the header and quotes
    # it, escaped, in the exception text.
    requests_mock.post(EVENTS_URL, **OK)
    client = make_client(access_token="tok-SECRET-abc123\n")
    with caplog.at_level(logging.DEBUG), pytest.raises(FatalError) as caught:
        client.batch_create_events(BODY, 2)
    message = str(caught.value)
    assert "InvalidHeader" in message and "access_token" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    for shown in (message, caplog.text):
        assert "SECRET" not in shown and "abc123" not in shown
    assert requests_mock.call_count == 0


def test_any_requests_exception_text_is_withheld(
    client: LinkedInClient, requests_mock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    requests_mock.post(EVENTS_URL, exc=requests.exceptions.InvalidURL(f"Bearer {TOKEN} looked odd"))
    with caplog.at_level(logging.DEBUG), pytest.raises(FatalError) as caught:
        client.batch_create_events(BODY, 2)
    assert "InvalidURL" in str(caught.value)
    assert TOKEN not in str(caught.value) and TOKEN not in caplog.text


@pytest.mark.parametrize("status", [400, 403, 426])
def test_linkedin_messages_in_fatal_errors_are_redacted(
    make_client: MakeClient, requests_mock: Any, status: int
) -> None:
    client = make_client(api_version="202510")
    body: dict[str, Any] = {"status": status, "message": LEAKY}
    if status != 403:
        body["code"] = "SOME_CODE"  # a gateway 400 (with a code) is fatal, not a rejection
    requests_mock.post(EVENTS_URL, status_code=status, json=body)
    with pytest.raises(FatalError) as caught:
        client.batch_create_events(BODY, 2)
    message = str(caught.value)
    assert "<redacted>" in message
    for raw in LEAKED:
        assert raw not in message


def test_linkedin_messages_in_api_errors_and_rejections_are_redacted(
    client: LinkedInClient, requests_mock: Any
) -> None:
    requests_mock.get(f"{API_BASE}/conversions/1", status_code=404, json={"message": LEAKY})
    with pytest.raises(LinkedInError) as api_error:
        client.transport.send(Request(RestliMethod.GET, "/conversions/1", "rule lookup"))
    message = f"Index: 1, ERROR :: /user/userInfo/firstName :: {LEAKY}\n"
    requests_mock.post(EVENTS_URL, status_code=422, json={"message": message, "status": 422})
    with pytest.raises(BatchRefusedError) as rejected:
        client.batch_create_events(BODY, 2)
    assert rejected.value.failures is not None and set(rejected.value.failures) == {1}
    shown = [str(api_error.value), str(rejected.value), *rejected.value.failures.values()]
    for text in shown:
        for raw in LEAKED:
            assert raw not in text


def test_a_linkedin_code_or_request_id_that_is_text_is_not_echoed(
    client: LinkedInClient, requests_mock: Any
) -> None:
    requests_mock.post(
        EVENTS_URL,
        status_code=409,
        json={"code": "grace.hopper@example.org", "message": "conflict"},
        headers={"x-li-uuid": "grace hopper at 203.0.113.9"},
    )
    with pytest.raises(FatalError) as caught:
        client.batch_create_events(BODY, 2)
    assert "grace" not in str(caught.value) and "203.0.113.9" not in str(caught.value)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_fatal_and_not_followed(
    client: LinkedInClient, requests_mock: Any, status: int
) -> None:
    elsewhere = "http://api.linkedin.test/rest/conversionEvents?token=1"
    requests_mock.post(EVENTS_URL, status_code=status, headers={"Location": elsewhere})
    requests_mock.post(elsewhere, **OK)
    requests_mock.get(elsewhere, **OK)
    with pytest.raises(FatalError) as caught:
        client.batch_create_events(BODY, 2)
    message = str(caught.value)
    assert requests_mock.call_count == 1  # the token and events went nowhere else
    assert "api_base_url" in message and "api.linkedin.test" in message
    assert "does not redirect" in message and "token=1" not in message


# -- offset paging ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "find"),
    [
        ("/conversions", lambda client: list(client.find_rules("123"))),
        ("/adAccountUsers", lambda client: list(client.find_ad_account_users())),
    ],
)
def test_a_short_page_with_total_minus_one_is_the_last(
    client: LinkedInClient, requests_mock: Any, path: str, find: Callable[..., Any]
) -> None:
    # LinkedIn's finders send total -1; a page shorter than asked for ends the paging
    # without a request for an empty page.
    element = (
        {"id": 7, "account": "urn:li:sponsoredAccount:123", "name": "Leads"}
        if path == "/conversions"
        else {"account": "urn:li:sponsoredAccount:123", "role": "ACCOUNT_MANAGER"}
    )
    paging = {"start": 0, "count": 100, "total": -1}
    requests_mock.get(
        f"{API_BASE}{path}",
        [{"json": {"elements": [element], "paging": paging}}, {"json": {"elements": []}}],
    )
    assert len(find(client)) == 1
    assert requests_mock.call_count == 1
