"""Validation lookups: ``/rest/adAccounts``, ``.../adCampaigns``, ``/rest/adAccountUsers``."""

from __future__ import annotations

from . import errors
from .gateway import denied
from .messages import Request, Response, json_response, paged, project
from .restli import account_urn
from .state import State

# The recorded adAccountUsers response reports Integer.MAX_VALUE as its page size.
_UNBOUNDED = 2147483647


def _numeric(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() else None


def _visible_account(request: Request, state: State, raw: str, method: str) -> int | Response:
    account_id = _numeric(raw)
    if account_id is None:
        return json_response(400, errors.bad_request(f"Invalid key: {raw}"))
    if state.account(account_id) is None:
        return json_response(
            404, errors.entity_not_found(f"Ad account {account_id} does not exist")
        )
    if not state.can_access(request.token or "", account_id):
        return denied(request, "adAccounts", method)
    return account_id


def get(request: Request, state: State, raw_account: str) -> Response:
    """``GET /rest/adAccounts/{id}``."""
    account_id = _visible_account(request, state, raw_account, "GET")
    if isinstance(account_id, Response):
        return account_id
    return json_response(200, project(state.account(account_id) or {}, request.param("fields")))


def search(request: Request, state: State) -> Response:
    """``GET /rest/adAccounts?q=search``: the accounts the token can see."""
    if request.param("q") != "search":
        return json_response(400, errors.bad_request("Only the q=search finder is supported"))
    token = request.token or ""
    fields = request.param("fields")
    found = [project(a, fields) for a in state.accounts() if state.can_access(token, a["id"])]
    return json_response(200, paged(found, 0, len(found), len(found)))


def search_campaigns(request: Request, state: State, raw_account: str) -> Response:
    """``GET /rest/adAccounts/{id}/adCampaigns?q=search`` (the search filter is ignored)."""
    account_id = _visible_account(request, state, raw_account, "FINDER")
    if isinstance(account_id, Response):
        return account_id
    if request.param("q") != "search":
        return json_response(400, errors.bad_request("Only the q=search finder is supported"))
    fields = request.param("fields")
    found = [project(c, fields) for c in state.campaigns(account_id)]
    return json_response(200, paged(found, 0, len(found), len(found)))


def get_campaign(request: Request, state: State, raw_account: str, raw_campaign: str) -> Response:
    """``GET /rest/adAccounts/{id}/adCampaigns/{cid}``; 404 when the campaign is elsewhere."""
    account_id = _visible_account(request, state, raw_account, "GET")
    if isinstance(account_id, Response):
        return account_id
    campaign_id = _numeric(raw_campaign)
    for campaign in state.campaigns(account_id):
        if campaign["id"] == campaign_id:
            return json_response(200, project(campaign, request.param("fields")))
    return json_response(404, errors.entity_not_found(f"Campaign {raw_campaign} does not exist"))


def account_users(request: Request, state: State) -> Response:
    """``GET /rest/adAccountUsers?q=authenticatedUser``: one non-viewer role per visible account."""
    if request.param("q") != "authenticatedUser":
        return json_response(
            400, errors.bad_request("Only the q=authenticatedUser finder is supported")
        )
    token = request.token or ""
    found = [
        {
            "user": "urn:li:person:emulator",
            "account": account_urn(a["id"]),
            "role": "ACCOUNT_BILLING_ADMIN",
        }
        for a in state.accounts()
        if state.can_access(token, a["id"])
    ]
    return json_response(200, paged(found, 0, _UNBOUNDED, len(found)))
