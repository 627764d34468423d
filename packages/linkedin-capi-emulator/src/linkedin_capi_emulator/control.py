"""The ``/_emulator`` control API for scripts and other processes (no auth, no version header)."""

from __future__ import annotations

from typing import Any

from .messages import Request, Response, int_param, json_response
from .state import EXPIRED, REVOKED, State

PREFIX = "/_emulator"


def _error(status: int, message: str) -> Response:
    return json_response(status, {"status": status, "message": message})


def _body_object(request: Request) -> dict[str, Any] | None:
    return request.body if type(request.body) is dict else None


def dispatch(request: Request, state: State) -> Response:
    """Serve one control request."""
    route = (request.method, request.path[len(PREFIX) :].rstrip("/") or "/")
    body = _body_object(request)
    if route == ("GET", "/state"):
        return json_response(
            200,
            {
                **state.summary(),
                "rules": state.rules(),
                "campaign_links": state.campaign_links(),
                "faults": state.faults(),
            },
        )
    if route == ("GET", "/events"):
        start = int_param(request, "start", 0)
        limit = int_param(request, "limit", -1)
        if start is None or limit is None:
            return _error(400, "start and limit must be integers")
        return json_response(200, state.accepted_events(start, None if limit < 0 else limit))
    if route == ("GET", "/requests"):
        return json_response(200, state.requests())
    if route == ("GET", "/faults"):
        return json_response(200, state.faults())
    if route == ("DELETE", "/faults"):
        state.clear_faults()
        return json_response(200, {"faults": 0})
    if route == ("POST", "/faults"):
        specs = request.body if type(request.body) is list else [request.body]
        try:
            for spec in specs:
                state.add_fault(spec)
        except ValueError as exc:
            return _error(400, str(exc))
        return json_response(200, {"added": len(specs), "faults": state.faults()})
    if route in (("POST", "/tokens/expire"), ("POST", "/tokens/revoke")):
        token = body.get("token") if body else None
        if not isinstance(token, str) or not token:
            return _error(400, 'expected {"token": "..."}')
        status = EXPIRED if route[1].endswith("expire") else REVOKED
        state.set_token_status(token, status)
        return json_response(200, {"token": token, "status": status})
    if route == ("POST", "/reset"):
        state.reset()
        return json_response(200, {"reset": True})
    if route == ("POST", "/latency"):
        seconds = body.get("seconds") if body else None
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
            return _error(400, 'expected {"seconds": <non-negative number>}')
        state.latency_seconds = float(seconds)
        return json_response(200, {"seconds": state.latency_seconds})
    if route == ("POST", "/rules"):
        return _add_rule(state, body)
    if route == ("POST", "/campaigns"):
        return _add_campaign(state, body)
    if route == ("POST", "/accounts"):
        return _add_account(state, body)
    if route == ("POST", "/tokens"):
        return _add_token(state, body)
    return _error(404, f"unknown control endpoint {request.method} {request.path}")


def _add_rule(state: State, body: dict[str, Any] | None) -> Response:
    """``POST /_emulator/rules`` with add_rule's keyword arguments; answers the new id."""
    allowed = {
        "account", "name", "type", "conversion_method", "enabled", "attribution_type",
        "post_click", "view_through", "campaigns",
    }  # fmt: skip
    if not body or "account" not in body or "name" not in body or not set(body) <= allowed:
        return _error(400, f"expected an object with account, name and optional {sorted(allowed)}")
    rule_id = state.add_rule(**body)
    return json_response(200, {"id": rule_id, "rule": state.rule(rule_id)})


def _add_campaign(state: State, body: dict[str, Any] | None) -> Response:
    """``POST /_emulator/campaigns`` with ``{"account": N, "campaign": N}`` and optional
    name, status, type."""
    extra = {k: v for k, v in (body or {}).items() if k in _CAMPAIGN_FIELDS}
    try:
        # A missing body (None) raises TypeError, answered below like a missing key.
        account, campaign = int(body["account"]), int(body["campaign"])  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        return _error(400, 'expected {"account": N, "campaign": N}')
    if set(body or {}) - {"account", "campaign"} - set(extra):
        return _error(400, f"unknown campaign fields; allowed: {sorted(_CAMPAIGN_FIELDS)}")
    state.add_campaign(account, campaign, **extra)
    return json_response(200, {"account": account, "campaign": campaign})


_CAMPAIGN_FIELDS = frozenset({"name", "status", "type", "test"})
_ACCOUNT_FIELDS = frozenset({"name", "status", "currency", "type", "test", "reference"})
_TOKEN_FIELDS = frozenset(
    {"token", "accounts", "role", "scopes", "expires_at", "expires_in", "client_id"}
)


def _add_account(state: State, body: dict[str, Any] | None) -> Response:
    """``POST /_emulator/accounts`` with ``{"account": N}`` and optional name, status,
    currency, type, test, reference."""
    body = body or {}
    try:
        account = int(body["account"])
    except (KeyError, TypeError, ValueError):
        return _error(400, 'expected {"account": N, ...}')
    extra = {k: v for k, v in body.items() if k != "account"}
    if set(extra) - _ACCOUNT_FIELDS:
        return _error(400, f"unknown account fields; allowed: {sorted(_ACCOUNT_FIELDS)}")
    state.add_account(account, **extra)
    return json_response(200, {"account": state.account(account)})


def _add_token(state: State, body: dict[str, Any] | None) -> Response:
    """``POST /_emulator/tokens``: ``{"token": "...", "accounts": [N...] | {"N": ROLE},
    "role": ROLE, "scopes": "a,b", "expires_at": S | "expires_in": S, "client_id": "..."}``."""
    if not body or not isinstance(body.get("token"), str) or set(body) - _TOKEN_FIELDS:
        return _error(400, f"expected an object with token and optional {sorted(_TOKEN_FIELDS)}")
    details = dict(body)
    token = details.pop("token")
    accounts = details.pop("accounts", None)
    role = details.pop("role", None)
    try:
        if isinstance(accounts, dict):
            accounts = {int(a): r for a, r in accounts.items()}
        state.add_token(token, accounts, role, **details)
    except (TypeError, ValueError) as exc:
        return _error(400, str(exc))
    info = state.token_info(token) or {}
    return json_response(200, {"client_id": info.get("client_id"), "scopes": info.get("scopes")})
