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


# -- redirects, LinkedIn's text, rotation, expiry (safety issue: items 9, 10, 11) -------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_from_the_token_url_is_fatal_and_not_followed(requests_mock, status):
    elsewhere = "http://collector.example/steal?x=1"
    requests_mock.post(URL, status_code=status, headers={"Location": elsewhere})
    requests_mock.post(elsewhere, json={"access_token": "stolen"})
    requests_mock.get(elsewhere, json={"access_token": "stolen"})
    with pytest.raises(FatalError) as caught:
        manager().token()
    message = str(caught.value)
    assert requests_mock.call_count == 1  # the secrets went nowhere else
    assert "oauth_token_url" in message and "www.linkedin.com" in message
    assert "does not redirect" in message
    assert "accessToken" not in message.replace("oauth/v2/accessToken)", "")  # host, no path
    assert "refresh-secret-1" not in message and "client-secret-1" not in message


def test_linkedin_text_in_a_refused_refresh_is_redacted(requests_mock):
    requests_mock.post(URL, status_code=400, json={
        "error": "invalid_request",
        "error_description": "Token of grace.hopper@example.org from 203.0.113.9 and "
                             "2001:db8::7 is invalid, 'Grace Hopper'",
    })  # fmt: skip
    with pytest.raises(FatalError) as caught:
        manager().token()
    message = str(caught.value)
    assert "invalid_request" in message
    for raw in ("grace.hopper", "example.org", "203.0.113.9", "2001:db8::7", "Grace Hopper"):
        assert raw not in message


def test_an_oauth_error_code_that_is_not_a_code_is_not_echoed(requests_mock):
    requests_mock.post(URL, status_code=400, json={"error": "user grace@example.org said no"})
    with pytest.raises(FatalError) as caught:
        manager().token()
    assert "grace" not in str(caught.value) and "HTTP 400" in str(caught.value)


def test_refreshed_access_token_with_a_line_break_is_fatal_and_masked(requests_mock):
    requests_mock.post(URL, json={"access_token": "new-token\nX-Injected: 1"})
    tokens = manager()
    with pytest.raises(FatalError) as caught:
        tokens.token()
    assert "new-token" not in str(caught.value)
    assert "new-token\nX-Injected: 1" in tokens.secrets  # masked if anything prints it


def rotating(requests_mock, new="rotated-refresh-9", expires_in=31_000_000):
    requests_mock.post(URL, json={"access_token": "token-a", "refresh_token": new,
                                  "refresh_token_expires_in": expires_in})  # fmt: skip


def test_a_rotated_refresh_token_is_kept_in_refresh_token_path(requests_mock, tmp_path, caplog):
    import stat

    rotating(requests_mock)
    folder = tmp_path / "new" / "private"
    path = folder / "refresh-token"
    with caplog.at_level(logging.DEBUG):
        manager(refresh_token_path=str(path)).token()
    assert path.read_text().strip() == "rotated-refresh-9"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    assert [p.name for p in folder.iterdir()] == ["refresh-token"]  # no temp file left
    assert "rotated-refresh-9" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_stored_refresh_token_is_used_on_the_next_run(requests_mock, tmp_path, caplog):
    path = tmp_path / "refresh-token"
    path.write_text("stored-refresh-7\n")
    rotating(requests_mock, new="stored-refresh-7")
    with caplog.at_level(logging.DEBUG):
        tokens = manager(refresh_token_path=str(path))
        assert tokens.token() == "token-a"
    assert "refresh_token=stored-refresh-7" in requests_mock.last_request.text
    assert "stored-refresh-7" in tokens.secrets
    assert "stored-refresh-7" not in caplog.text


def test_a_refused_stored_token_falls_back_to_the_configured_one(requests_mock, tmp_path, caplog):
    path = tmp_path / "refresh-token"
    path.write_text("stale-refresh-5")

    def answer(request, context):
        if "refresh_token=stale-refresh-5" in request.text:
            context.status_code = 400
            return {"error": "invalid_request", "error_description": "revoked"}
        return {"access_token": "token-a", "refresh_token": "refresh-secret-1"}

    requests_mock.post(URL, json=answer)
    with caplog.at_level(logging.DEBUG):
        assert manager(refresh_token_path=str(path)).token() == "token-a"
    assert requests_mock.call_count == 2
    assert path.read_text().strip() == "refresh-secret-1"  # the one that worked
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "configured refresh_token" in warnings[0].getMessage()
    assert "stale-refresh-5" not in caplog.text


def test_a_rotated_refresh_token_without_a_path_is_one_warning(requests_mock, caplog):
    requests_mock.post(URL, [
        {"json": {"access_token": "token-a", "refresh_token": "rotated-refresh-9"}},
        {"json": {"access_token": "token-b", "refresh_token": "rotated-refresh-10"}},
    ])  # fmt: skip
    tokens = manager()
    with caplog.at_level(logging.DEBUG):
        tokens.token()
        tokens.refresh("token-a")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "stop working" in warnings[0] and "refresh_token_path" in warnings[0]
    assert "rotated-refresh" not in caplog.text


def test_a_soon_expiring_refresh_token_is_one_warning(requests_mock, caplog):
    requests_mock.post(URL, json={"access_token": "token-a", "refresh_token": "refresh-secret-1",
                                  "refresh_token_expires_in": 12 * 86400})  # fmt: skip
    tokens = manager()
    with caplog.at_level(logging.DEBUG):
        tokens.token()
        tokens.refresh("token-a")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "expires in about 12 days" in warnings[0]


def test_a_distant_refresh_expiry_is_not_a_warning(requests_mock, caplog):
    rotating(requests_mock, new="refresh-secret-1", expires_in=200 * 86400)
    with caplog.at_level(logging.DEBUG):
        manager().token()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_unwritable_refresh_token_path_is_reported_without_the_token(
    requests_mock, tmp_path, caplog
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    rotating(requests_mock)
    with caplog.at_level(logging.DEBUG):
        assert manager(refresh_token_path=str(blocker / "refresh-token")).token() == "token-a"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "could not be saved" in errors[0]
    assert "rotated-refresh-9" not in caplog.text
