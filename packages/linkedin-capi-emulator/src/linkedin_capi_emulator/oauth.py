"""OAuth: ``POST /oauth/v2/accessToken`` (``grant_type=refresh_token``) and
``POST /oauth/v2/introspectToken``."""

from __future__ import annotations

from urllib.parse import parse_qsl

from . import errors
from .messages import Request, Response, json_response
from .state import State

ACCESS_TOKEN_TTL = 5184000  # 60 days
REFRESH_TOKEN_TTL = 31536000  # 365 days
SCOPE = "r_ads,rw_conversions"
REQUIRED = ("grant_type", "refresh_token", "client_id", "client_secret")
INTROSPECT_REQUIRED = ("client_id", "client_secret", "token")


def form_params(request: Request) -> dict[str, str]:
    """Form body parameters, falling back to the query string (LinkedIn accepts both)."""
    params = dict(parse_qsl(request.query, keep_blank_values=True))
    params.update(parse_qsl(request.raw_body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def access_token(request: Request, state: State) -> Response:
    """Exchange a refresh token for a new access token (optionally rotating the refresh token)."""
    params = form_params(request)
    for name in REQUIRED:
        if not params.get(name):
            return json_response(400, errors.oauth_missing(name))
    if params["grant_type"] != "refresh_token":
        return json_response(
            400,
            {
                "error": "unsupported_grant_type",
                "error_description": "The emulator only supports grant_type=refresh_token",
            },
        )
    if state.oauth_clients.get(params["client_id"]) != params["client_secret"]:
        return json_response(401, errors.OAUTH_INVALID_CLIENT)
    refresh_token = state.use_refresh_token(params["refresh_token"])
    if refresh_token is None:
        return json_response(400, errors.OAUTH_INVALID_GRANT)
    return json_response(
        200,
        {
            "access_token": state.issue_access_token(params["client_id"], SCOPE),
            "expires_in": ACCESS_TOKEN_TTL,
            "refresh_token": refresh_token,
            "refresh_token_expires_in": REFRESH_TOKEN_TTL,
            "scope": SCOPE,
        },
    )


def introspect(request: Request, state: State) -> Response:
    """Token introspection: 400 for an unknown client id or token, 401 for a wrong client
    secret, 200 ``{"active": false}`` for another app's token, else the token's data."""
    params = form_params(request)
    for name in INTROSPECT_REQUIRED:
        if not params.get(name):
            return json_response(400, errors.oauth_missing(name))
    secret = state.oauth_clients.get(params["client_id"])
    if secret is None:
        return json_response(400, errors.OAUTH_INVALID_CLIENT_ID)
    if secret != params["client_secret"]:
        return json_response(401, errors.OAUTH_INVALID_CLIENT)
    info = state.token_info(params["token"])
    if info is None:
        return json_response(400, errors.OAUTH_INVALID_TOKEN)
    if info["client_id"] != params["client_id"]:
        return json_response(200, {"active": False})
    status = {"valid": "active"}.get(info["status"], info["status"])
    return json_response(
        200,
        {
            "active": status == "active",
            "client_id": info["client_id"],
            "authorized_at": info["authorized_at"],
            "created_at": info["created_at"],
            "status": status,
            "expires_at": info["expires_at"],
            "scope": ",".join(info["scopes"]),
            "auth_type": info["auth_type"],
        },
    )
