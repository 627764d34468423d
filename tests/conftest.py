"""Shared fixtures for the unit tests: a valid base config, settings, mappers and clients.

Everything here is offline: HTTP goes to `requests-mock` (the `requests_mock` fixture of the
requests-mock pytest plugin) at API_BASE, which is never a real host.

Test modules get the helpers through fixtures (`make_config`, `make_settings`,
`make_mapper`, `make_client`) rather than by importing this file (the e2e tests have a
conftest of their own, so `import conftest` is ambiguous). The values are in
tests/constants.py and the plain functions in tests/helpers.py, for modules that need them
at import time.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from linkedin_capi_emulator import Emulator

from target_linkedin_capi.config.settings import Settings
from target_linkedin_capi.events.mapper import EventMapper
from target_linkedin_capi.linkedin.auth import TokenManager
from target_linkedin_capi.linkedin.client import LinkedInClient
from tests.constants import (
    API_BASE,
    API_VERSION,
    EMULATOR_ACCOUNT,
    EMULATOR_TOKEN,
    OAUTH_URL,
    RULE_URN,
    TOKEN,
)
from tests.helpers import base_config, settings_of


@pytest.fixture(autouse=True)
def _default_ledger_outside_the_repository(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A run in this process puts its default ledger in a folder of the test's own.

    The default is `.linkedin-capi/` in the working directory, which is the repository here.
    The runs of one test share it, as runs in one project do. Child processes are started in
    a folder of their own (tests/harness.py) or with ledger settings.
    """
    import target_linkedin_capi.run as run_module

    real_open = run_module.open_ledger
    folder: list[Path] = []

    def open_ledger(url: str | None, schema: str | None = None, *, read_only: bool = False):
        if not (url or "").strip() and not schema:
            if not folder:
                folder.append(tmp_path_factory.mktemp("ledger"))
            url = f"sqlite:///{folder[0] / '.linkedin-capi' / 'ledger.sqlite3'}"
        return real_open(url, schema, read_only=read_only)

    monkeypatch.setattr(run_module, "open_ledger", open_ledger)


def mapper_of(
    *,
    stream: str = "orders",
    keys: tuple[str, ...] = (),
    notes: Counter[str] | None = None,
    api_version: int = 202609,
    **overrides: Any,
) -> EventMapper:
    """An EventMapper for the (single) rule of `base_config(**overrides)`."""
    spec = settings_of(**overrides).rules[0]
    return EventMapper(
        spec,
        RULE_URN,
        spec.label,
        stream,
        keys,
        api_version,
        notes if notes is not None else Counter(),
    )


def make_client(**overrides: Any) -> LinkedInClient:
    """A real LinkedInClient with tiny backoff; HTTP is answered by requests-mock."""
    session = requests.Session()
    token_args = {
        "access_token": TOKEN,
        "refresh_token": None,
        "client_id": None,
        "client_secret": None,
    }
    token_args.update({k: overrides.pop(k) for k in list(overrides) if k in token_args})
    tokens = TokenManager(
        **token_args,
        oauth_token_url=OAUTH_URL,
        session=session,
        timeout=(1.0, 1.0),
    )
    args: dict[str, Any] = {
        "api_base_url": API_BASE,
        "api_version": API_VERSION,
        "tokens": tokens,
        "session": session,
        "connect_timeout": 1.0,
        "read_timeout": 1.0,
        "retry_max_attempts": 4,
        "retry_max_wait_seconds": 30,
        "rate_limit_per_minute": 10_000,
        "backoff_base": 0.01,
        "backoff_max": 0.02,
    }
    args.update(overrides)
    client = LinkedInClient(**args)
    # The client waits between retries on its abort event (so that a fatal error in one
    # thread cuts the others' waits short). Route those waits through time.sleep, which
    # the `sleeps` and `fake_clock` fixtures replace: no test really waits.
    client.aborted = SleepingEvent()
    return client


class SleepingEvent(threading.Event):
    """An Event whose timed wait is a time.sleep (looked up at call time)."""

    def wait(self, timeout: float | None = None) -> bool:
        if not self.is_set() and timeout:
            time.sleep(timeout)
        return self.is_set()


@pytest.fixture
def make_config() -> Callable[..., dict[str, Any]]:
    return base_config


@pytest.fixture
def make_settings() -> Callable[..., Settings]:
    return settings_of


@pytest.fixture
def make_mapper() -> Callable[..., EventMapper]:
    return mapper_of


@pytest.fixture(name="make_client")
def make_client_fixture(requests_mock: Any) -> Callable[..., LinkedInClient]:
    """LinkedInClient factory; requesting it activates requests-mock."""
    return make_client


@pytest.fixture
def client(requests_mock: Any) -> LinkedInClient:
    return make_client()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Replace time.sleep (used by tenacity and the rate limiter); records each wait."""
    recorded: list[float] = []
    monkeypatch.setattr(time, "sleep", recorded.append)
    return recorded


class FakeClock:
    """time.monotonic that only moves when time.sleep is called."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    clock = FakeClock()
    monkeypatch.setattr(time, "monotonic", clock.monotonic)
    monkeypatch.setattr(time, "sleep", clock.sleep)
    return clock


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """The LinkedIn emulator with its token, ad account and one campaign; a module that needs
    more (other accounts, OAuth clients) defines its own."""
    with Emulator(
        port=0, tokens=[EMULATOR_TOKEN], accounts=[EMULATOR_ACCOUNT],
        campaigns={EMULATOR_ACCOUNT: [6010001]},
    ) as emulator:  # fmt: skip
        yield emulator


@pytest.fixture
def rule(emu: Emulator) -> int:
    """A Conversions API rule in the emulator's ad account."""
    return int(emu.add_rule(account=EMULATOR_ACCOUNT, name="Purchases (CAPI)", type="PURCHASE"))
