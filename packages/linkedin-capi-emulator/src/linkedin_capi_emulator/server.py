"""HTTP layer: a keep-alive ``ThreadingHTTPServer`` that turns sockets into Request/Response.

Order per request: read body -> (control API, unlogged) -> latency for ``/rest`` -> request-level
fault -> route/gateway/endpoint -> write response -> append to the request log.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from . import control, errors, router
from .gateway import bearer_token
from .messages import Request, Response, json_response
from .state import EXPIRED, State

_FORM = "application/x-www-form-urlencoded"
_QUIET_ERRORS = (ConnectionError, TimeoutError, OSError)


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Threaded server holding the shared State and tracking open connections for shutdown."""

    daemon_threads = True
    block_on_close = False  # keep-alive threads must not block server_close()
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: State) -> None:
        self.state = state
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def track(self, connection: socket.socket, open_: bool) -> None:
        """Remember or forget a client connection."""
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut down idle keep-alive connections so their threads exit."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients dropping connections (timeouts, resets) are expected; stay quiet about them."""
        if isinstance(sys.exc_info()[1], _QUIET_ERRORS):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    """Request handler; all verbs funnel into :meth:`_handle`."""

    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    server_version = "LinkedInEmulator/1.0"
    timeout = 300  # idle keep-alive connections eventually release their thread
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def version_string(self) -> str:
        """``Server`` header without the Python version."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging (it would dominate benchmark time)."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    # ---------------------------------------------------------------- request side
    def _read_body(self) -> bytes | None:
        """Body bytes (Content-Length or chunked); None when a body-carrying verb has neither."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = self.headers.get("Content-Length")
        if length is None:
            # LinkedIn answers 411 to a body-less POST/PUT; the control API (curl -X POST
            # .../_emulator/reset) need not be that strict.
            if self.path.startswith("/_emulator"):
                return b""
            return None if self.command in ("POST", "PUT", "PATCH") else b""
        return self.rfile.read(int(length)) if int(length) > 0 else b""

    def _build_request(self, body: bytes) -> Request:
        target = self.path
        if "://" in target.split("?", 1)[0]:  # absolute-form request target
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        path, _, query = target.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(self.command, path, query, headers, raw_body=body)
        content_type = headers.get("content-type", "")
        if body and not content_type.startswith(_FORM):
            try:
                request.body = json.loads(body)
                request.body_is_json = True
            except ValueError:
                request.body_error = True
        return request

    # ---------------------------------------------------------------- main flow
    def _handle(self) -> None:
        state = self.server.state
        try:
            body = self._read_body()
        except (ValueError, OSError):
            body = None
        if body is None:
            self.close_connection = True
            self._write(json_response(411, {"status": 411, "message": "Length Required"}))
            return
        request = self._build_request(body)
        if request.path == control.PREFIX or request.path.startswith(control.PREFIX + "/"):
            self._write(control.dispatch(request, state))
            return

        entry = self._log_entry(request)
        if request.path.startswith("/rest/") and state.latency_seconds > 0:
            time.sleep(state.latency_seconds)  # outside the lock: concurrent requests overlap
        response = self._apply_fault(request, state, entry)
        if response is None and entry.pop("stalled", False) and self._client_gone():
            # A stalled request whose client gave up (read timeout) is never processed, as
            # when LinkedIn stalls before handling it: the client's retry is then the only
            # copy that counts.
            entry["status"] = None
            entry["abandoned"] = True
            state.log_request(entry)
            self.close_connection = True
            return
        if response is None:
            response = router.dispatch(request, state)
        if response.fault is not None:
            entry["fault"] = response.fault
        if response.reset:
            entry["status"] = None
            state.log_request(entry)
            self._reset_connection()
            return
        entry["status"] = response.status
        # Log before answering: once the client has its response, the log already shows it.
        state.log_request(entry)
        self._write(response)

    def _apply_fault(
        self, request: Request, state: State, entry: dict[str, Any]
    ) -> Response | None:
        """Apply a request-level fault; None means 'answer normally'."""
        fault = state.take_request_fault(request.method, request.path)
        if fault is None:
            return None
        entry["fault"] = fault.describe()
        if fault.kind == "delay":
            time.sleep(fault.delay)
            entry["stalled"] = True
            return None
        if fault.kind == "reset":
            return Response(0, reset=True)
        if fault.kind == "expire_token":
            _, token = bearer_token(request)
            if token:
                state.set_token_status(token, EXPIRED)
            return json_response(401, errors.EXPIRED_ACCESS_TOKEN)
        return Response(fault.status, fault.body, dict(fault.headers))

    def _client_gone(self) -> bool:
        """True when the client closed the connection while we stalled."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    @staticmethod
    def _log_entry(request: Request) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "time": time.time(),
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "headers": {k: v for k, v in request.headers.items() if k != "authorization"},
            "status": None,
            "body": request.body if request.body_is_json else None,
        }
        content_type = request.header("content-type") or ""
        if request.raw_body and not request.body_is_json:
            if content_type.startswith(_FORM):
                form = dict(
                    parse_qsl(request.raw_body.decode("utf-8", "replace"), keep_blank_values=True)
                )
                if "client_secret" in form:
                    form["client_secret"] = "***"  # noqa: S105  # never keep credentials in the log
                entry["form"] = form
            else:
                entry["body_text"] = request.raw_body[:10000].decode("utf-8", "replace")
        return entry

    # ---------------------------------------------------------------- response side
    def _write(self, response: Response) -> None:
        payload, content_type = response.payload()
        try:
            self.send_response(response.status)
            self.send_header("x-li-uuid", base64.b64encode(os.urandom(16)).decode("ascii"))
            self.send_header("x-restli-protocol-version", "2.0.0")
            if content_type and response.status != 204:
                self.send_header("Content-Type", content_type)
            if response.status not in (204, 304):  # RFC 9110: no Content-Length on 204
                self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if response.status not in (204, 304) and payload:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its read timeout fired)

    def _reset_connection(self) -> None:
        """Abort the connection with a TCP RST and no response (SO_LINGER 0, then close)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # drop makefile's reference so close() really closes the socket now
        self.connection.close()
