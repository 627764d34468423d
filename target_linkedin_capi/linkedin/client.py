"""The HTTP side of LinkedIn: one session, headers, auth, retries, rate limit, error classes.

Every answer is classified here, once:
- success -> returned;
- transient (429, 5xx, connection reset/refused, timeout) -> retried with exponential
  backoff and jitter, honouring Retry-After, within `retry_max_attempts` and
  `retry_max_wait_seconds`;
- 401 expired/invalid -> one token refresh, then one more try;
- fatal (401 revoked or not refreshable, 403, 426, other 4xx outside the event endpoint) ->
  `FatalError` with a message that says what to fix;
- 400/422 on `conversionEvents` -> `RejectedBatch`, naming the failing elements when
  LinkedIn does, so the caller can drop exactly those and resend the rest.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    stop_when_event_set,
)

from target_linkedin_capi.errors import FatalError
from target_linkedin_capi.linkedin.auth import REAUTH_ADVICE, TokenManager, host_of
from target_linkedin_capi.report.http_stats import http_stats
from target_linkedin_capi.report.redaction import redact_linkedin_message

logger = logging.getLogger(__name__)

_MAX_MESSAGE = 300
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REFRESHABLE_CODES = frozenset({"INVALID_ACCESS_TOKEN", "EXPIRED_ACCESS_TOKEN"})
_INDEX_LINE = re.compile(r"Index:\s*(\d+),\s*")
_INDICES = re.compile(r"indices\s*\[([\d,\s]*)\]")
# What may be shown of LinkedIn's `code` and `x-li-uuid` as they are: anything else is text.
_CODE = re.compile(r"^[A-Z0-9_]{1,64}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9+/=_.-]{1,128}$")


@dataclass(frozen=True)
class ApiAnswer:
    """A parsed LinkedIn error answer."""

    status: int
    code: str | None
    message: str
    request_id: str | None

    @classmethod
    def of(cls, response: requests.Response) -> ApiAnswer:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        return cls(
            status=response.status_code,
            code=str(body["code"]) if body.get("code") else None,
            # Redacted from the start: the message reaches logs, errors and the rejected
            # file by several ways (describe(), failure reasons).
            message=redact_linkedin_message(
                str(body.get("message") or response.reason or "")
            ).strip(),
            request_id=response.headers.get("x-li-uuid"),
        )

    def describe(self) -> str:
        """The answer for logs, errors and files: LinkedIn echoes submitted values (emails,
        names, IPs) in its messages, so they are masked here, the one way out."""
        code = ""
        if self.code:
            code = f" {self.code}" if _CODE.match(self.code) else " <redacted>"
        rid = ""
        if self.request_id and _REQUEST_ID.match(self.request_id):
            rid = f" (x-li-uuid {self.request_id})"
        message = redact_linkedin_message(self.message)
        if len(message) > _MAX_MESSAGE:  # e.g. "indices [0, 1, ... 4999]"
            message = message[:_MAX_MESSAGE] + f"... ({len(message)} characters)"
        return f"HTTP {self.status}{code}: {message}{rid}"


class ApiError(Exception):
    """A 4xx answer the caller has to interpret (e.g. 404 for a rule lookup)."""

    def __init__(self, answer: ApiAnswer) -> None:
        super().__init__(answer.describe())
        self.answer = answer


class RejectedBatch(Exception):
    """LinkedIn refused a batch of events (all-or-nothing) with a 400 or 422."""

    def __init__(self, answer: ApiAnswer, failures: dict[int, str] | None) -> None:
        super().__init__(answer.describe())
        self.answer = answer
        # element index -> LinkedIn's reason; None when LinkedIn named no element.
        self.failures = failures


class TransientError(Exception):
    """An answer worth retrying (429, 5xx)."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


def parse_failures(message: str, count: int) -> dict[int, str] | None:
    """Element index -> reason from LinkedIn's batch error text; None if it names none.

    422: `Index: N, ERROR :: /path :: reason` (later lines without `Index:` belong to the
    same element); 400: `... indices [i, j] (0-indexed)`. Message text is not a stable
    contract, so indices out of range mean "unknown" rather than a guess.
    """
    failures: dict[int, str] = {}
    current: int | None = None
    if "Index:" in message:
        for line in message.splitlines():
            match = _INDEX_LINE.search(line)
            if match:
                current = int(match.group(1))
                line = line[match.end() :]
            if current is not None and line.strip():
                reason = line.strip()
                failures[current] = (
                    f"{failures[current]}; {reason}" if current in failures else reason
                )
    else:
        match = _INDICES.search(message)
        if match:
            reason = message[: match.start()].rstrip(" ,.") or message
            for part in match.group(1).split(","):
                if part.strip():
                    failures[int(part)] = reason
    if not failures or any(index < 0 or index >= count for index in failures):
        return None
    return failures


class RateLimiter:
    """At most `per_minute` requests in any 60-second window, shared by all threads."""

    def __init__(self, per_minute: int, window: float = 60.0) -> None:
        self._limit = per_minute
        self._window = window
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                while self._sent and now - self._sent[0] >= self._window:
                    self._sent.popleft()
                if len(self._sent) < self._limit:
                    self._sent.append(now)
                    return
                wait = self._window - (now - self._sent[0])
            logger.info("Client-side rate limit reached; waiting %.1f s", wait)
            time.sleep(wait)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date; rare enough to fall back to backoff


class LinkedInClient:
    """Thread-safe LinkedIn REST client for the calls this target makes."""

    def __init__(
        self,
        *,
        api_base_url: str,
        api_version: str,
        tokens: TokenManager,
        session: requests.Session,
        connect_timeout: float,
        read_timeout: float,
        retry_max_attempts: int,
        retry_max_wait_seconds: float,
        rate_limit_per_minute: int,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        self.base_url = api_base_url.rstrip("/")
        self.api_version = api_version
        self.tokens = tokens
        self.session = session
        self.timeout = (connect_timeout, read_timeout)
        self.retry_max_attempts = retry_max_attempts
        self.retry_max_wait = retry_max_wait_seconds
        self.limiter = RateLimiter(rate_limit_per_minute)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        # Set when the run has failed: retry loops in other threads give up at once.
        self.aborted = threading.Event()

    @staticmethod
    def new_session(pool_size: int) -> requests.Session:
        """One session for the run: keep-alive connections, no hidden retries."""
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(pool_size, 2), max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def headers(self, restli_method: str | None = None) -> dict[str, str]:
        """The headers every REST call carries (without Authorization)."""
        headers = {
            "LinkedIn-Version": self.api_version,
            "X-Restli-Protocol-Version": "2.0.0",
            "Content-Type": "application/json",
        }
        if restli_method:
            headers["X-RestLi-Method"] = restli_method
        return headers

    def url(self, path: str, query: str | None = None) -> str:
        return f"{self.base_url}{path}" + (f"?{query}" if query else "")

    # -- the one way requests are made ------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        query: str | None = None,
        body: bytes | None = None,
        restli_method: str | None = None,
        what: str,
        attempts: int | None = None,
    ) -> requests.Response:
        """Send with retries; returns a 2xx response or raises ApiError/FatalError.

        `attempts=1` is for calls that are not idempotent (rule creation): the caller checks
        what happened before trying again.
        """
        max_attempts = attempts or self.retry_max_attempts
        url = self.url(path, query)
        headers = self.headers(restli_method)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            backoff = min(self.backoff_max, self.backoff_base * 2 ** (state.attempt_number - 1))
            delay = random.uniform(0, backoff)  # full jitter
            if isinstance(exc, TransientError) and exc.retry_after is not None:
                delay = max(delay, exc.retry_after)
            spent = state.seconds_since_start or 0.0
            return max(0.0, min(delay, self.retry_max_wait - spent))

        def log_retry(state: RetryCallState) -> None:
            http_stats.retry()
            exc = state.outcome.exception() if state.outcome else None
            cause = f"HTTP {exc.status}" if isinstance(exc, TransientError) else type(exc).__name__
            sleep = state.next_action.sleep if state.next_action else 0.0
            logger.warning(
                "LinkedIn %s: %s; retrying (attempt %d of %d) in %.1f s",
                what,
                cause,
                state.attempt_number + 1,
                max_attempts,
                sleep,
            )

        retrying = Retrying(
            retry=retry_if_exception_type(
                (TransientError, requests.ConnectionError, requests.Timeout)
            ),
            stop=stop_after_attempt(max_attempts)
            | stop_after_delay(self.retry_max_wait)
            | stop_when_event_set(self.aborted),
            wait=wait,
            before_sleep=log_retry,
            sleep=self.aborted.wait,  # an abort cuts the wait short
            reraise=True,
        )
        try:
            return retrying(self._attempt, method, url, headers, body, what)
        except TransientError as exc:
            if attempts == 1:
                raise
            raise FatalError(
                f"LinkedIn {what} still failed with HTTP {exc.status} after "
                f"{self.retry_max_attempts} attempts or {self.retry_max_wait:.0f} s of "
                "retries. LinkedIn may be throttling this token (600 requests per minute, "
                "a daily cap that resets at 00:00 UTC) or having an outage; run again later. "
                "Nothing after the last checkpoint was marked as delivered."
            ) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            if attempts == 1:
                raise
            raise FatalError(
                f"LinkedIn {what} could not be completed: {type(exc).__name__} after "
                f"{self.retry_max_attempts} attempts or {self.retry_max_wait:.0f} s of "
                f"retries (api_base_url {self.base_url}). Check the network and run again; "
                "nothing after the last checkpoint was marked as delivered."
            ) from None
        except (requests.RequestException, UnicodeError) as exc:
            # Reported by type only: requests quotes header values in its messages
            # (InvalidHeader shows 'Bearer <token>'), and other texts quote the URL.
            raise FatalError(
                f"LinkedIn {what} could not be sent: {type(exc).__name__} (details withheld: "
                "they may quote the request and its token). Check access_token (no line "
                "breaks or spaces) and api_base_url; nothing after the last checkpoint was "
                "marked as delivered."
            ) from None

    def _attempt(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, what: str
    ) -> requests.Response:
        refreshed = False
        while True:
            token = self.tokens.token()
            self.limiter.acquire()
            http_stats.request()
            response = self.session.request(
                method,
                url,
                data=body,
                headers={**headers, "Authorization": f"Bearer {token}"},
                timeout=self.timeout,
                # LinkedIn's REST API does not redirect; following one would take the token
                # and the events to a URL that the https/loopback check never saw.
                allow_redirects=False,
            )
            status = response.status_code
            if 300 <= status < 400:
                raise FatalError(
                    f"LinkedIn {what} answered with a redirect (HTTP {status}) from the host "
                    f"of api_base_url ({host_of(self.base_url)}). LinkedIn does not redirect "
                    "these calls, so the target did not follow it and the token was sent "
                    "nowhere else. Set api_base_url to LinkedIn's REST base "
                    "(https://api.linkedin.com/rest)."
                )
            if status < 400:
                return response
            if status in RETRY_STATUSES:
                http_stats.answer(status)
                raise TransientError(status, _retry_after(response))
            answer = ApiAnswer.of(response)
            if status == 401:
                if answer.code in REFRESHABLE_CODES and not refreshed and self.tokens.can_refresh:
                    logger.info("LinkedIn says the access token is %s", answer.code)
                    self.tokens.refresh(token)
                    refreshed = True
                    continue
                raise FatalError(self._auth_message(answer, refreshed))
            if status == 426:
                raise FatalError(
                    f"LinkedIn no longer serves API version {self.api_version} "
                    f"({answer.describe()}). Set api_version to a currently active version "
                    "(LinkedIn supports each monthly version for about a year; see "
                    "https://learn.microsoft.com/en-us/linkedin/marketing/versioning)."
                )
            if status == 403:
                raise FatalError(
                    f"LinkedIn refused {what}: {answer.describe()}. Likely causes: the "
                    "authorising member lacks a role on the ad account (ACCOUNT_BILLING_ADMIN, "
                    "ACCOUNT_MANAGER, CAMPAIGN_MANAGER or CREATIVE_MANAGER; VIEWER is not "
                    "enough); the token lacks the scopes rw_conversions and r_ads; or the "
                    "conversion rule id is wrong (LinkedIn answers an unknown rule with "
                    "'No ad accounts found')."
                )
            raise ApiError(answer)

    @staticmethod
    def _auth_message(answer: ApiAnswer, refreshed: bool) -> str:
        if answer.code == "REVOKED_ACCESS_TOKEN":
            lead = "LinkedIn says the access token was revoked"
        elif refreshed:
            lead = "LinkedIn refused the freshly refreshed access token"
        else:
            lead = "LinkedIn refused the access token"
        return f"{lead} ({answer.describe()}). {REAUTH_ADVICE}"

    # -- endpoints --------------------------------------------------------------------------

    def send_events(self, body: bytes, count: int) -> None:
        """BATCH_CREATE `count` events (body already serialised); raises RejectedBatch."""
        try:
            self.call(
                "POST",
                "/conversionEvents",
                body=body,
                restli_method="BATCH_CREATE",
                what=f"batch of {count} conversion events",
            )
        except ApiError as exc:
            # Gateway answers carry a `code` (e.g. VERSION_MISSING); element-level
            # validation answers carry only a message and a status.
            if exc.answer.status in (400, 422) and not exc.answer.code:
                raise RejectedBatch(exc.answer, parse_failures(exc.answer.message, count)) from None
            raise FatalError(
                f"LinkedIn refused a batch of events: {exc.answer.describe()}"
            ) from None

    def get_json(self, path: str, query: str | None = None, *, what: str) -> Any:
        return self.call("GET", path, query=query, what=what).json()
