"""Access tokens: the configured one, and OAuth refresh when LinkedIn says it expired.

Kept apart from the Rest.li client, as in LinkedIn's own Python client: the client asks for
the current token and reports a 401; this module decides whether a refresh can help.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from contextlib import suppress
from pathlib import Path
from typing import Any

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential
from urllib3.util import parse_url

from target_linkedin_capi.errors import FatalError
from target_linkedin_capi.linkedin.advice import REAUTH_ADVICE
from target_linkedin_capi.report.redaction import redact_linkedin_message

logger = logging.getLogger(__name__)

_REFRESH_ATTEMPTS = 4
# LinkedIn's refresh tokens last 365 days from consent and refreshing does not extend them:
# say so while there is still time to re-authorise.
REFRESH_EXPIRY_WARNING_DAYS = 30
# Tokens are about 500 characters (LinkedIn says to allow 1,000): a larger file is not one.
_MAX_TOKEN_FILE = 64 * 1024
_OAUTH_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")
_MAX_DESCRIPTION = 300


def unsendable_position(value: str) -> int | None:
    """Index of the first character outside visible ASCII, else None.

    Bearer tokens and OAuth client credentials are visible ASCII. Anything else (a line
    break, a space, a byte-order mark, a typographic quote) is a copy-paste accident that
    requests would refuse with an exception quoting the whole header, token included.
    """
    for index, char in enumerate(value):
        if not "!" <= char <= "~":
            return index
    return None


def host_of(url: str) -> str:
    """The host of a configured URL, for messages: never its path or query."""
    with suppress(ValueError):
        return parse_url(url).host or "?"
    return "?"


def _describe(exc: BaseException | None) -> str:
    return str(exc) if isinstance(exc, _TransientRefresh) else type(exc).__name__


class _TransientRefresh(Exception):
    """The OAuth endpoint answered 429 or 5xx: worth another try."""


class TokenManager:
    """Hands out the current access token; refreshes it at most once per stale token."""

    def __init__(
        self,
        *,
        access_token: str | None,
        refresh_token: str | None,
        client_id: str | None,
        client_secret: str | None,
        oauth_token_url: str,
        session: requests.Session,
        timeout: tuple[float, float],
        refresh_token_path: str | None = None,
    ) -> None:
        self._token = access_token
        self._refresh_token = refresh_token
        self._configured_refresh_token = refresh_token
        self._client_id = client_id
        self._client_secret = client_secret
        self._url = oauth_token_url
        self._session = session
        self._timeout = timeout
        self._lock = threading.Lock()
        self.secrets: set[str] = {s for s in (access_token, refresh_token, client_secret) if s}
        self._path = Path(refresh_token_path).expanduser() if refresh_token_path else None
        self._using_stored = False  # the refresh token in use came from refresh_token_path
        self._store_pending = False  # the file holds a token LinkedIn refused
        self._warned: set[str] = set()  # one warning of each kind per run
        if self._path is not None and refresh_token:
            self._load_stored_refresh_token(self._path)

    @property
    def can_refresh(self) -> bool:
        return bool(self._refresh_token and self._client_id and self._client_secret)

    @property
    def introspect_url(self) -> str:
        """LinkedIn's introspection endpoint, next to the token endpoint."""
        return self._url.rsplit("/", 1)[0] + "/introspectToken"

    def introspection_form(self) -> dict[str, str] | None:
        """The form that asks LinkedIn about the current token; None without app credentials."""
        if not (self._client_id and self._client_secret):
            return None
        return {
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "token": self.token(),
        }

    def token(self) -> str:
        """The current access token, refreshing first when only refresh credentials exist."""
        with self._lock:
            if self._token is None:
                self._refresh_locked()
            assert self._token is not None
            return self._token

    def refresh(self, stale_token: str) -> str:
        """A fresh token after `stale_token` was refused; one refresh serves every thread."""
        with self._lock:
            if self._token != stale_token and self._token is not None:
                return self._token  # another thread already refreshed
            if not self.can_refresh:
                raise FatalError(
                    "LinkedIn refused the access token (expired or invalid) and no "
                    "refresh_token/client_id/client_secret are configured. " + REAUTH_ADVICE
                )
            self._refresh_locked()
            assert self._token is not None
            return self._token

    def _post_refresh(self) -> requests.Response:
        """The refresh POST, retried on connection errors, timeouts and 5xx/429."""

        def attempt() -> requests.Response:
            response = self._session.post(
                self._url,
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": self._refresh_token,
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                },
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=self._timeout,
                # A redirect would re-post the refresh token and client secret to wherever
                # it points; LinkedIn does not redirect this call.
                allow_redirects=False,
            )
            if response.status_code == 429 or response.status_code >= 500:
                raise _TransientRefresh(f"HTTP {response.status_code}")
            return response

        retrying = Retrying(
            retry=retry_if_exception_type(
                (_TransientRefresh, requests.ConnectionError, requests.Timeout)
            ),
            stop=stop_after_attempt(_REFRESH_ATTEMPTS),
            wait=wait_random_exponential(multiplier=0.5, max=10),
            before_sleep=lambda state: logger.warning(
                "Refreshing the access token failed (%s); retrying (attempt %d of %d)",
                _describe(state.outcome.exception() if state.outcome else None),
                state.attempt_number + 1,
                _REFRESH_ATTEMPTS,
            ),
            reraise=True,
        )
        return retrying(attempt)

    def _exchange(self) -> tuple[requests.Response, dict[str, Any]]:
        """One refresh exchange (with its retries): the answer and its JSON body."""
        try:
            response = self._post_refresh()
        except (requests.RequestException, _TransientRefresh) as exc:
            # Only the type: a requests exception's text may quote the request.
            raise FatalError(
                f"Could not refresh the access token at {host_of(self._url)} "
                f"(oauth_token_url): {_describe(exc)}, {_REFRESH_ATTEMPTS} attempts. "
                "Run again later."
            ) from None
        if 300 <= response.status_code < 400:
            raise FatalError(
                f"The OAuth token URL (oauth_token_url, host {host_of(self._url)}) answered "
                f"with a redirect (HTTP {response.status_code}). LinkedIn does not redirect "
                "token requests, so the target did not follow it and sent the refresh token "
                "and client secret nowhere else. Set oauth_token_url to LinkedIn's token "
                "endpoint (https://www.linkedin.com/oauth/v2/accessToken)."
            )
        try:
            body = response.json()
        except ValueError:
            body = {}
        return response, body if isinstance(body, dict) else {}

    def _refresh_locked(self) -> None:
        logger.info("Refreshing the LinkedIn access token at %s", host_of(self._url))
        response, body = self._exchange()
        if self._refused(response, body) and self._using_stored:
            # The stored token may be older than a refresh token the user configured after
            # re-authorising; the configured one gets one chance.
            self._warn_once(
                "stored-refused",
                "LinkedIn refused the refresh token stored in %s (%s); trying the configured "
                "refresh_token instead",
                self._path,
                _oauth_error(response, body),
            )
            self._refresh_token = self._configured_refresh_token
            self._using_stored = False
            self._store_pending = True
            response, body = self._exchange()
        if self._refused(response, body):
            description = body.get("error_description")
            description = (
                redact_linkedin_message(str(description))[:_MAX_DESCRIPTION] if description else ""
            )
            raise FatalError(
                "LinkedIn refused to refresh the access token: "
                f"{_oauth_error(response, body)}"
                f"{' (' + description + ')' if description else ''}. The refresh token is "
                "invalid, expired (they last 365 days from consent) or revoked, or the client "
                "id/secret are wrong. " + REAUTH_ADVICE
            )
        token = str(body["access_token"]).strip()
        self.secrets.add(token)
        position = unsendable_position(token)
        if position is not None:
            raise FatalError(
                "LinkedIn's OAuth answer held an access token that cannot be sent in an HTTP "
                f"header (an unexpected character at position {position + 1}). Check that "
                "oauth_token_url is LinkedIn's token endpoint; " + REAUTH_ADVICE
            )
        self._token = token
        self._adopt_refresh_token(body.get("refresh_token"))
        self._check_refresh_expiry(body.get("refresh_token_expires_in"))
        logger.info(
            "Access token refreshed; it expires in about %s days",
            _days(body.get("expires_in")) or 0,
        )

    @staticmethod
    def _refused(response: requests.Response, body: dict[str, Any]) -> bool:
        return response.status_code != 200 or not body.get("access_token")

    # -- the refresh token: rotation, refresh_token_path, expiry ------------------------------

    def _adopt_refresh_token(self, value: object) -> None:
        new = str(value).strip() if value else ""
        if new:
            self.secrets.add(new)
        if new and new != self._refresh_token:
            self._refresh_token = new
            if self._path is None:
                self._warn_once(
                    "rotated",
                    "LinkedIn issued a new refresh token: it is used for the rest of this run, "
                    "but the configured refresh_token will stop working, so the next run will "
                    "fail to refresh. Set refresh_token_path to a file the target may write "
                    "(e.g. `meltano config target-linkedin-capi set refresh_token_path "
                    "$HOME/.config/linkedin/refresh-token`) so that it keeps the newest token, "
                    "or store the new one in your secrets after re-authorising (the value is "
                    "not logged).",
                )
                return
            self._store_refresh_token(self._path, new)
        elif self._store_pending and self._path is not None and self._refresh_token:
            # The file held a refused token and the configured one worked: keep that one.
            self._store_refresh_token(self._path, self._refresh_token)
        self._store_pending = False

    def _check_refresh_expiry(self, expires_in: object) -> None:
        days = _days(expires_in)
        if days is not None and days < REFRESH_EXPIRY_WARNING_DAYS:
            self._warn_once(
                "expiry",
                "The LinkedIn refresh token expires in about %d days (refresh tokens last 365 "
                "days from the member's consent; refreshing does not extend them). Before "
                "then, have the member authorise the app again and configure the new "
                "refresh_token, or the target will stop: %s",
                days,
                REAUTH_ADVICE,
            )

    def _warn_once(self, kind: str, message: str, *args: object) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            logger.warning(message, *args)

    def _load_stored_refresh_token(self, path: Path) -> None:
        """Prefer the token kept in refresh_token_path by an earlier run, when there is one.

        The file wins whenever it exists and is not empty: whether it is newer than the
        configuration cannot be told (Meltano writes a fresh config file for every run, and
        environment variables have no date). A refused stored token falls back to the
        configured one (see _refresh_locked).
        """
        try:
            with path.open("r", encoding="utf-8", errors="replace") as file:
                text = file.read(_MAX_TOKEN_FILE + 1).strip()
        except FileNotFoundError:
            return
        except OSError as exc:
            self._warn_once(
                "unreadable",
                "Could not read refresh_token_path %s (%s); using the configured refresh_token",
                path,
                exc.strerror or type(exc).__name__,
            )
            return
        if not text:
            return
        if len(text) > _MAX_TOKEN_FILE or unsendable_position(text) is not None:
            self._warn_once(
                "unusable",
                "refresh_token_path %s does not hold a refresh token (unexpected characters "
                "or size); using the configured refresh_token, and the file is rewritten "
                "when LinkedIn answers",
                path,
            )
            self._store_pending = True
            return
        self.secrets.add(text)
        if text != self._refresh_token:
            logger.info(
                "Using the refresh token kept in %s (refresh_token_path) instead of the "
                "configured refresh_token",
                path,
            )
            self._refresh_token = text
            self._using_stored = True

    def _store_refresh_token(self, path: Path, token: str) -> None:
        """Write `token` to `path` atomically (temp file + rename), readable only by us."""
        try:
            _make_private_folders(path.parent)
            fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            try:
                os.fchmod(fd, 0o600)  # mkstemp's default; stated for clarity across platforms
                with os.fdopen(fd, "w", encoding="ascii") as file:
                    file.write(token + "\n")
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temp, path)
            except BaseException:
                with suppress(OSError):
                    os.unlink(temp)
                raise
        except OSError as exc:
            logger.error(
                "The refresh token in use could not be saved to %s (refresh_token_path): %s. "
                "This run continues with it; if LinkedIn issued it as a new one, the next run "
                "needs the file to be writable or a newly authorised refresh_token.",
                path,
                exc.strerror or type(exc).__name__,
            )
            return
        logger.info("Saved the new refresh token to %s (refresh_token_path)", path)


def _make_private_folders(folder: Path) -> None:
    """Create `folder` and any missing parents with mode 0700 (mkdir's parents=True would
    give the parents the default mode)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir(mode=0o700)


def _days(seconds: Any) -> int | None:
    try:
        return int(float(seconds)) // 86400 if seconds is not None else None
    except (TypeError, ValueError):
        return None


def _oauth_error(response: requests.Response, body: dict[str, Any]) -> str:
    """LinkedIn's OAuth error code, or the status: never free text from the answer."""
    error = body.get("error")
    if isinstance(error, str) and _OAUTH_ERROR_CODE.match(error):
        return error
    return f"HTTP {response.status_code}"
