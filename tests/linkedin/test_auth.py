"""Access tokens and OAuth refresh (requests-mock)."""

from __future__ import annotations

import logging

import pytest
import requests

from target_linkedin_capi.errors import FatalError
from target_linkedin_capi.linkedin.auth import TokenManager

URL = "https://www.linkedin.com/oauth/v2/accessToken"


def manager(**overrides):
    args = {
        "access_token": None,
        "refresh_token": "refresh-secret-1",
        "client_id": "client-id",
        "client_secret": "client-secret-1",
        "oauth_token_url": URL,
        "session": requests.Session(),
        "timeout": (1, 1),
    }
    args.update(overrides)
    return TokenManager(**args)


def test_refresh_is_retried_on_5xx_and_connection_errors(requests_mock, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda _seconds: None)
    requests_mock.post(URL, [
        {"status_code": 503},
        {"exc": requests.ConnectionError},
        {"json": {"access_token": "new-token-123", "expires_in": 5184000}},
    ])  # fmt: skip
    assert manager().token() == "new-token-123"
    assert requests_mock.call_count == 3
    form = requests_mock.last_request.text
    assert "grant_type=refresh_token" in form and "refresh_token=refresh-secret-1" in form


def test_refresh_gives_up_after_its_attempts(requests_mock, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda _seconds: None)
    requests_mock.post(URL, status_code=502)
    with pytest.raises(FatalError, match="Could not refresh"):
        manager().token()
    assert requests_mock.call_count == 4


def test_a_refused_refresh_is_fatal_with_advice_and_no_secret(requests_mock):
    requests_mock.post(URL, status_code=400, json={"error": "invalid_grant",
                                                   "error_description": "expired"})  # fmt: skip
    with pytest.raises(FatalError) as caught:
        manager().token()
    message = str(caught.value)
    assert "invalid_grant" in message and "rw_conversions" in message
    assert "refresh-secret-1" not in message and "client-secret-1" not in message


def test_a_new_refresh_token_is_used_and_announced_without_its_value(requests_mock, caplog):
    requests_mock.post(URL, [
        {"json": {"access_token": "token-a", "refresh_token": "rotated-refresh-9"}},
        {"json": {"access_token": "token-b"}},
    ])  # fmt: skip
    tokens = manager()
    with caplog.at_level(logging.DEBUG):
        assert tokens.token() == "token-a"
        assert tokens.refresh("token-a") == "token-b"
    assert "refresh_token=rotated-refresh-9" in requests_mock.last_request.text
    assert "new refresh token" in caplog.text
    assert "rotated-refresh-9" not in caplog.text


def test_a_stale_token_is_refreshed_once_for_all_threads(requests_mock):
    requests_mock.post(URL, json={"access_token": "fresh"})
    tokens = manager(access_token="old")
    assert tokens.refresh("old") == "fresh"
    assert tokens.refresh("old") == "fresh"  # a second thread holding the old token
    assert requests_mock.call_count == 1
