"""Gateway checks every ``/rest`` call passes before endpoint logic (version, token, scope, throttle)."""

from __future__ import annotations

from . import errors
from .messages import Request, Response, json_response
from .state import EXPIRED, REVOKED, State
from .versions import base_version, normalised


def bearer_token(request: Request) -> tuple[str, str]:
    """``(scheme, token)`` from the Authorization header; empty strings when absent."""
    value = (request.header("authorization") or "").strip()
    scheme, _, token = value.partition(" ")
    return scheme, token.strip()


def check(request: Request, state: State) -> Response | None:
    """Run version, auth and throttle checks; return the error response or None to proceed.

    On success ``request.version`` and ``request.token`` are set.
    """
    version = (request.header("linkedin-version") or "").strip()
    if not version:
        return json_response(400, errors.VERSION_MISSING, X_Restli_Gateway_Error="true")
    if base_version(version) not in state.active_versions:
        return json_response(426, errors.nonexistent_version(normalised(version)))
    request.version = version

    scheme, token = bearer_token(request)
    if not token:
        return json_response(401, errors.EMPTY_ACCESS_TOKEN)
    status = state.token_status(token)
    if scheme.lower() != "bearer" or status is None:
        return json_response(401, errors.INVALID_ACCESS_TOKEN)
    if status == EXPIRED:
        return json_response(401, errors.EXPIRED_ACCESS_TOKEN)
    if status == REVOKED:
        return json_response(401, errors.REVOKED_ACCESS_TOKEN)
    request.token = token

    if not state.allow_request(token):
        return json_response(429, errors.THROTTLED)
    return None


def denied(request: Request, resource: str, method: str) -> Response:
    """403 ACCESS_DENIED for ``resource.METHOD.YYYYMMDD``."""
    return json_response(403, errors.access_denied(resource, method, request.version_stamp))
