"""Small functions the tests share (values are in tests/constants.py).

Test functions of the unit suite get `base_config` and `settings_of` through the
`make_config` / `make_settings` fixtures of tests/conftest.py; modules that need them at
import time, or outside pytest, import them from here.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from target_linkedin_capi.config.settings import Settings, parse_settings
from tests.constants import (
    ACCOUNT,
    API_BASE,
    API_VERSION,
    OAUTH_URL,
    RULE,
    TARGET_ENV_PREFIX,
    TOKEN,
)


def now_ms() -> int:
    return int(time.time() * 1000)


def base_config(**overrides: Any) -> dict[str, Any]:
    """A minimal valid config for the unit tests; `None` values remove a key."""
    config: dict[str, Any] = {
        "access_token": TOKEN,
        "ad_account_id": ACCOUNT,
        "conversion_rule_id": RULE,
        "api_version": API_VERSION,
        "api_base_url": API_BASE,
        "oauth_token_url": OAUTH_URL,
    }
    config.update(overrides)
    return {k: v for k, v in config.items() if v is not None}


def settings_of(**overrides: Any) -> Settings:
    return parse_settings(base_config(**overrides))


def in_ci() -> bool:
    """Under CI a test that cannot reach its service fails instead of skipping."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def child_env(*also_drop: str) -> dict[str, str]:
    """This process's environment for a child run, without the target's own settings.

    A developer's TARGET_LINKEDIN_CAPI_* variables (a real token, say) must neither reach
    LinkedIn nor change what a test checks; `also_drop` names further prefixes to remove
    (MELTANO_, TAP_POSTGRES_).
    """
    dropped = (TARGET_ENV_PREFIX, *also_drop)
    return {k: v for k, v in os.environ.items() if not k.startswith(dropped)}


class CountingHandler(http.server.BaseHTTPRequestHandler):
    """Serves `body` to any GET and counts the requests (for tests that nothing is fetched)."""

    hits = 0
    body = b""
    content_type = "application/octet-stream"

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        return


@contextlib.contextmanager
def counting_server(
    path: str, body: bytes, content_type: str = "application/octet-stream"
) -> Iterator[tuple[str, type[CountingHandler]]]:
    """A local HTTP server that would serve `body` at `path`; yields (URL, handler class)."""
    handler = type("Handler", (CountingHandler,), {"body": body, "content_type": content_type})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/{path}", handler
    finally:
        server.shutdown()
        server.server_close()
