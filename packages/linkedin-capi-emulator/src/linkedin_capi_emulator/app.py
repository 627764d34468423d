"""The :class:`Emulator` facade: configure State, run the HTTP server in a daemon thread."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from .server import EmulatorHTTPServer
from .state import EXPIRED, REVOKED, TOKEN_TTL_SECONDS, State

DEFAULT_TOKEN = "emulator-token"  # noqa: S105 - a fake token for local tests
DEFAULT_ACCOUNT = 5010001
# A second account with its own campaign, so "a campaign of another account" can be shown.
OTHER_ACCOUNT = 5010002
DEFAULT_ACCOUNTS = (DEFAULT_ACCOUNT, OTHER_ACCOUNT)
DEFAULT_CAMPAIGNS: dict[int, tuple[int, ...]] = {
    DEFAULT_ACCOUNT: (6010001, 6010002, 6010003),
    OTHER_ACCOUNT: (6020001,),
}
DEFAULT_OAUTH_CLIENTS = {"client-id": "client-secret"}
DEFAULT_REFRESH_TOKENS = ("refresh-1",)


class Emulator:
    """A local LinkedIn REST API (Conversions API, rules, campaign links, ad accounts, OAuth).

    Use as a context manager, or call :meth:`start` / :meth:`stop`; :meth:`serve_forever`
    blocks the calling thread instead (used by the CLI). ``rules`` takes dicts of
    :meth:`add_rule` keyword arguments; like accounts, campaigns and tokens they are part of the
    configuration that ``state.reset()`` restores, whereas later ``add_*`` calls are not.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: Iterable[str] | None = None,
        accounts: Iterable[int] | None = None,
        campaigns: Mapping[int, Iterable[int]] | None = None,
        latency_seconds: float = 0.0,
        active_versions: Iterable[str | int] | None = None,
        oauth_clients: Mapping[str, str] | None = None,
        refresh_tokens: Iterable[str] | None = None,
        rotate_refresh_tokens: bool = False,
        rate_limit_per_minute: int | None = None,
        finder_page_size: int | None = None,
        token_accounts: Mapping[str, Iterable[int] | Mapping[int, str]] | None = None,
        rules: Iterable[Mapping[str, Any]] | None = None,
        token_ttl_seconds: int = TOKEN_TTL_SECONDS,
    ) -> None:
        account_ids = [int(a) for a in (accounts if accounts is not None else DEFAULT_ACCOUNTS)]
        if campaigns is None:
            campaigns = {a: DEFAULT_CAMPAIGNS[a] for a in account_ids if a in DEFAULT_CAMPAIGNS}
        self.host = host
        self._requested_port = port
        self.state = State(
            tokens=list(tokens) if tokens is not None else [DEFAULT_TOKEN],
            accounts=account_ids,
            campaigns=campaigns,
            rules=rules or (),
            active_versions=active_versions,
            oauth_clients=oauth_clients if oauth_clients is not None else DEFAULT_OAUTH_CLIENTS,
            refresh_tokens=(
                list(refresh_tokens) if refresh_tokens is not None else DEFAULT_REFRESH_TOKENS
            ),
            rotate_refresh_tokens=rotate_refresh_tokens,
            rate_limit_per_minute=rate_limit_per_minute,
            finder_page_size=finder_page_size,
            token_accounts=token_accounts,
            latency_seconds=latency_seconds,
            token_ttl_seconds=token_ttl_seconds,
        )
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._serving = threading.Event()

    # ---------------------------------------------------------------- lifecycle
    def bind(self) -> Emulator:
        """Open the listening socket (idempotent); the port is known afterwards."""
        if self._server is None:
            self._server = EmulatorHTTPServer((self.host, self._requested_port), self.state)
        return self

    def start(self) -> Emulator:
        """Bind and serve in a daemon thread."""
        self.bind()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._serve, name="linkedin-emulator", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Bind and serve in the calling thread until :meth:`stop` or KeyboardInterrupt."""
        self.bind()
        self._serve()

    def _serve(self) -> None:
        assert self._server is not None
        self._serving.set()
        self._server.serve_forever(poll_interval=0.1)

    def stop(self) -> None:
        """Stop serving, close the socket and any open keep-alive connections."""
        server, self._server = self._server, None
        if server is None:
            return
        if self._serving.is_set() and (
            self._thread is None or self._thread is not threading.current_thread()
        ):
            server.shutdown()  # returns at once if serve_forever already exited
        server.server_close()
        server.close_connections()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None
        self._serving.clear()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- addresses
    @property
    def port(self) -> int:
        """The bound port (after :meth:`start` / :meth:`bind`)."""
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://HOST:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/rest`` (the ``api.linkedin.com/rest`` equivalent)."""
        return f"{self.url}/rest"

    @property
    def oauth_token_url(self) -> str:
        """``http://HOST:PORT/oauth/v2/accessToken``."""
        return f"{self.url}/oauth/v2/accessToken"

    @property
    def control_url(self) -> str:
        """``http://HOST:PORT/_emulator``."""
        return f"{self.url}/_emulator"

    # ---------------------------------------------------------------- configuration helpers
    def add_fault(self, fault: dict[str, Any] | list[dict[str, Any]]) -> None:
        """Register one fault or a list of faults (see faults.py for the format)."""
        for spec in fault if isinstance(fault, list) else [fault]:
            self.state.add_fault(spec)

    def clear_faults(self) -> None:
        """Remove all faults."""
        self.state.clear_faults()

    def add_rule(self, account: int, name: str, **fields: Any) -> int:
        """Create a pre-existing rule (optionally linked to campaigns); returns its numeric id.

        Keyword fields as `State.add_rule`: type, conversion_method, enabled,
        attribution_type, post_click, view_through, campaigns.
        """
        return self.state.add_rule(account, name, **fields)

    def add_account(self, account: int, name: str | None = None, **fields: Any) -> None:
        """Register an ad account (``fields``: status, currency, type, test, reference)."""
        self.state.add_account(account, name, **fields)

    def add_campaign(
        self, account: int, campaign_id: int, name: str | None = None, **fields: Any
    ) -> None:
        """Register a campaign under an ad account (``fields``: status, type, test)."""
        self.state.add_campaign(account, campaign_id, name, **fields)

    def add_token(
        self,
        token: str,
        accounts: Iterable[int] | Mapping[int, str] | None = None,
        role: str | None = None,
        **details: Any,
    ) -> None:
        """Register a valid access token: its ``role`` on ``accounts`` (or a mapping account ->
        role; every account when omitted), and ``scopes``, ``expires_at`` / ``expires_in``,
        ``client_id`` as `State.add_token` describes."""
        self.state.add_token(token, accounts, role, **details)

    def expire_token(self, token: str) -> None:
        """Make the token answer 401 EXPIRED_ACCESS_TOKEN."""
        self.state.set_token_status(token, EXPIRED)

    def revoke_token(self, token: str) -> None:
        """Make the token answer 401 REVOKED_ACCESS_TOKEN."""
        self.state.set_token_status(token, REVOKED)

    def set_latency(self, seconds: float) -> None:
        """Delay every ``/rest`` answer by ``seconds``."""
        self.state.latency_seconds = float(seconds)

    def reset(self) -> None:
        """Shorthand for ``state.reset()``."""
        self.state.reset()
