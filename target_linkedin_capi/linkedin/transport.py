"""How requests reach LinkedIn: headers, auth, the rate limit and the one retry policy.

`HttpTransport.send()` sends a Rest.li request and returns a 2xx `Answer` or raises the
`LinkedInError` that `errors.classify()` names. What is retried is decided in one place,
`should_retry()` (after stripe-python's `_should_retry`): 429, 5xx/408, connection failures
and timeouts, with exponential backoff and full jitter, honouring Retry-After, within
`retry_max_attempts` and `retry_max_wait_seconds`. A 401 that says expired/invalid gets one
token refresh and one more try.

`RecordingTransport` is the dry run: reads go through to LinkedIn, so rules are really
looked up, and writes are appended to the dry-run file instead of being sent. Nothing else
in the target needs to know whether a run is dry.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
import requests
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    stop_when_event_set,
)

from target_linkedin_capi.linkedin import restli
from target_linkedin_capi.linkedin.auth import TokenManager
from target_linkedin_capi.linkedin.errors import (
    AuthenticationError,
    ConnectionFailedError,
    LinkedInError,
    RequestNotSentError,
    TransientError,
    VersionSunsetError,
    classify,
)
from target_linkedin_capi.linkedin.restli import RestliMethod
from target_linkedin_capi.report.http_stats import http_stats

logger = logging.getLogger(__name__)

# The id a recorded (not sent) CREATE answers with: LinkedIn never hands out 0.
RECORDED_CREATE_ID = "0"


@dataclass(frozen=True, slots=True)
class Request:
    """One Rest.li call, before headers and the token are added."""

    method: RestliMethod
    path: str  # below api_base_url
    what: str  # for messages: "lookup of conversion rule 456"
    query: str | None = None
    body: bytes | None = None
    # A batch of events: LinkedIn's 400/422 then name refused elements (errors.classify).
    batch_count: int | None = None
    # 1 for calls that are not idempotent: the caller checks what happened before retrying.
    attempts: int | None = None
    # OAuth endpoints (introspection): a form, to an absolute URL, without a Bearer token.
    url: str | None = None
    form: Mapping[str, str] | None = None

    @property
    def reads(self) -> bool:
        return self.method.reads or self.form is not None


@dataclass(frozen=True, slots=True)
class Answer:
    """A 2xx answer."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes = b""

    def json(self) -> Any:
        """The JSON body, or {} when there is none or it is not JSON."""
        if not self.content:
            return {}
        try:
            return json.loads(self.content)
        except ValueError:
            return {}


def should_retry(error: BaseException) -> bool:
    """The one retry decision: throttling, server failures and lost connections."""
    if isinstance(error, RequestNotSentError):
        return False  # the same request would be refused the same way
    return isinstance(error, (TransientError, ConnectionFailedError))


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


class HttpTransport:
    """Thread-safe sender of Rest.li requests over one keep-alive session."""

    records_writes = False

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

    def headers(self, method: RestliMethod) -> dict[str, str]:
        """The headers a call carries, without Authorization."""
        headers = {
            restli.VERSION_HEADER: self.api_version,
            restli.PROTOCOL_HEADER: restli.PROTOCOL_VERSION,
            "Content-Type": "application/json",
        }
        if method.announced:
            headers[restli.METHOD_HEADER] = method.value
        return headers

    def url(self, request: Request) -> str:
        if request.url is not None:
            return request.url
        return f"{self.base_url}{request.path}" + (f"?{request.query}" if request.query else "")

    def send(self, request: Request) -> Answer:
        max_attempts = request.attempts or self.retry_max_attempts

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
            cause = (
                f"HTTP {exc.http_status}" if isinstance(exc, TransientError) else _cause_name(exc)
            )
            sleep = state.next_action.sleep if state.next_action else 0.0
            logger.warning(
                "LinkedIn %s: %s; retrying (attempt %d of %d) in %.1f s",
                request.what,
                cause,
                state.attempt_number + 1,
                max_attempts,
                sleep,
            )

        retrying = Retrying(
            retry=retry_if_exception(should_retry),
            stop=stop_after_attempt(max_attempts)
            | stop_after_delay(self.retry_max_wait)
            | stop_when_event_set(self.aborted),
            wait=wait,
            before_sleep=log_retry,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, request)
        except LinkedInError as error:
            if should_retry(error) and request.attempts != 1:
                error.retries = (self.retry_max_attempts, self.retry_max_wait)
            raise

    def _sleep(self, seconds: float) -> None:
        """Wait between attempts; an abort (another thread's fatal error) cuts it short."""
        self.aborted.wait(seconds)

    def _attempt(self, request: Request) -> Answer:
        url = self.url(request)
        refreshed = False
        while True:
            token = self.tokens.token()
            self.limiter.acquire()
            http_stats.request()
            try:
                if request.form is not None:
                    response = self.session.post(
                        url, data=dict(request.form), timeout=self.timeout, allow_redirects=False
                    )
                else:
                    response = self.session.request(
                        request.method.http_method,
                        url,
                        data=request.body,
                        headers={
                            **self.headers(request.method),
                            "Authorization": f"Bearer {token}",
                        },
                        timeout=self.timeout,
                        # LinkedIn's REST API does not redirect; following one would take
                        # the token and the events to a URL the https check never saw.
                        allow_redirects=False,
                    )
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise ConnectionFailedError(exc, what=request.what) from None
            except (requests.RequestException, UnicodeError) as exc:
                # By type only: requests quotes header values (the token) in its texts.
                raise RequestNotSentError(exc, what=request.what) from None
            status = response.status_code
            if 200 <= status < 300:
                return Answer(status, response.headers, response.content)
            error = classify(
                status,
                response.headers,
                response.content,
                reason=response.reason or "",
                what=request.what,
                batch_count=request.batch_count,
            )
            if status == 429:
                http_stats.throttled_answer()
            if isinstance(error, AuthenticationError):
                if error.refreshable and not refreshed and self.tokens.can_refresh:
                    logger.info("LinkedIn says the access token is %s", error.code)
                    self.tokens.refresh(token)
                    refreshed = True
                    continue
                error.refreshed = refreshed
            elif isinstance(error, VersionSunsetError):
                error.api_version = self.api_version
            raise error


def _cause_name(exc: BaseException | None) -> str:
    if isinstance(exc, ConnectionFailedError):
        return exc.cause_name
    return type(exc).__name__


class Recorder(Protocol):
    def write(self, line: Mapping[str, Any]) -> None: ...


class RecordingTransport:
    """A dry run's transport: reads are sent, writes are written to `output` instead.

    Each write becomes one line as LinkedIn would get it (method, URL, headers, body), never
    with the Authorization header. The file is private (see report/files.py).
    """

    records_writes = True

    def __init__(self, inner: HttpTransport, output: Recorder) -> None:
        self.inner = inner
        self.output = output

    @property
    def aborted(self) -> threading.Event:
        return self.inner.aborted

    def send(self, request: Request) -> Answer:
        if request.reads:
            return self.inner.send(request)
        self.output.write(
            {
                "method": request.method.http_method,
                "url": self.inner.url(request),
                "headers": self.inner.headers(request.method),
                "body": msgspec.json.decode(request.body) if request.body else None,
            }
        )
        if request.method is RestliMethod.CREATE:
            return Answer(201, {restli.CREATED_ID_HEADER: RECORDED_CREATE_ID})
        return Answer(204)


Transport = HttpTransport | RecordingTransport
