"""Access tokens: the configured one, and OAuth refresh when LinkedIn says it expired.

Kept apart from the Rest.li client, as in LinkedIn's own Python client: the client asks for
the current token and reports a 401; this module decides whether a refresh can help.
"""

from __future__ import annotations

import logging
import threading

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from target_linkedin_capi.errors import FatalError

logger = logging.getLogger(__name__)

_REFRESH_ATTEMPTS = 4


def _describe(exc: BaseException | None) -> str:
    return str(exc) if isinstance(exc, _TransientRefresh) else type(exc).__name__


class _TransientRefresh(Exception):
    """The OAuth endpoint answered 429 or 5xx: worth another try."""


REAUTH_ADVICE = (
    "Get a new token: either an OAuth token with the scopes rw_conversions and r_ads (set "
    "access_token, or refresh_token + client_id + client_secret), or a Direct API token from "
    "Campaign Manager (Signals Manager > Direct API > Generate access token)."
)


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
    ) -> None:
        self._token = access_token
        self._refresh_token = refresh_token
        self._client_id = client_id
        self._client_secret = client_secret
        self._url = oauth_token_url
        self._session = session
        self._timeout = timeout
        self._lock = threading.Lock()
        self.secrets: set[str] = {s for s in (access_token, refresh_token, client_secret) if s}

    @property
    def can_refresh(self) -> bool:
        return bool(self._refresh_token and self._client_id and self._client_secret)

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

    def _refresh_locked(self) -> None:
        logger.info("Refreshing the LinkedIn access token at %s", self._url)
        try:
            response = self._post_refresh()
        except (requests.RequestException, _TransientRefresh) as exc:
            raise FatalError(
                f"Could not refresh the access token at {self._url}: "
                f"{exc if isinstance(exc, _TransientRefresh) else type(exc).__name__}, "
                f"{_REFRESH_ATTEMPTS} attempts. Run again later."
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not body.get("access_token"):
            error = body.get("error") or f"HTTP {response.status_code}"
            description = body.get("error_description") or ""
            raise FatalError(
                f"LinkedIn refused to refresh the access token: {error}"
                f"{' (' + description + ')' if description else ''}. The refresh token is "
                "invalid, expired (they last 365 days from consent) or revoked, or the client "
                "id/secret are wrong. " + REAUTH_ADVICE
            )
        self._token = str(body["access_token"])
        self.secrets.add(self._token)
        new_refresh = body.get("refresh_token")
        if new_refresh and new_refresh != self._refresh_token:
            self._refresh_token = str(new_refresh)
            self.secrets.add(self._refresh_token)
            logger.warning(
                "LinkedIn issued a new refresh token; it is used for the rest of this run. "
                "Store the new one in your secrets before the old one expires (the value is "
                "not logged)."
            )
        logger.info(
            "Access token refreshed; it expires in about %s days",
            int(body.get("expires_in") or 0) // 86400,
        )
