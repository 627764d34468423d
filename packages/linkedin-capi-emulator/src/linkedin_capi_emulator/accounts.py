"""Lookups: ``/rest/adAccounts`` (get, search), ``.../adCampaigns`` (get, search) and
``/rest/adAccountUsers?q=authenticatedUser`` (the token's role on each account).

Paging follows LinkedIn's documentation per endpoint: the adAccounts and adCampaigns search
finders page by cursor since version 202401; adAccountUsers pages by ``start``/``count``.
"""

from __future__ import annotations

from typing import Any

from . import errors
from .gateway import denied
from .messages import (
    PagingError,
    Request,
    Response,
    index_page,
    json_response,
    project,
    search_page,
)
from .restli import KeyFormatError, account_urn, parse_data
from .state import State

# LinkedIn's recorded adAccountUsers response reports Integer.MAX_VALUE as its page size when
# the caller sends no count.
_UNBOUNDED = 2147483647
_READ_SCOPES = ("r_ads", "rw_ads")
# Search criteria each finder understands (LinkedIn's documented search fields that the
# emulator's entities carry); anything else is a 400, as for an unknown Rest.li field.
_ACCOUNT_CRITERIA = frozenset({"id", "name", "status", "type", "reference", "test", "currency"})
_CAMPAIGN_CRITERIA = frozenset({"id", "name", "status", "type", "test"})


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


def _matches(actual: Any, criterion: Any) -> bool:
    """One search criterion: ``(values:List(a,b))`` or a bare scalar such as ``test:false``."""
    values = criterion.get("values") if isinstance(criterion, dict) else [criterion]
    if not isinstance(values, list):
        return False
    shown = str(actual).lower() if isinstance(actual, bool) else str(actual)
    # Ids match by number or by URN (``urn:li:sponsoredCampaign:123``).
    return any(str(v) == shown or str(v).endswith(f":{shown}") for v in values)


def _search(
    request: Request, entities: list[dict[str, Any]], allowed: frozenset[str]
) -> list[dict[str, Any]] | Response:
    """Apply the ``search=(field:(values:List(...)),...)`` criteria (all must match)."""
    raw = request.params.get("search")
    if raw is None:
        return entities
    try:
        criteria = parse_data(raw)
    except KeyFormatError:
        return json_response(
            400, errors.bad_request(f"Invalid value for parameter 'search': {raw}")
        )
    if not isinstance(criteria, dict):
        return json_response(
            400, errors.bad_request(f"Invalid value for parameter 'search': {raw}")
        )
    unknown = sorted(set(criteria) - allowed)
    if unknown:
        return json_response(400, errors.bad_request(f"Unknown search field: {unknown[0]}"))
    return [e for e in entities if all(_matches(e.get(field), c) for field, c in criteria.items())]


def _page(request: Request, state: State, found: list[dict[str, Any]]) -> Response:
    fields = request.param("fields")
    try:
        body = search_page(request, found, state.finder_page_size)
    except PagingError as exc:
        return json_response(400, errors.bad_request(str(exc)))
    body["elements"] = [project(e, fields) for e in body["elements"]]
    return json_response(200, body)


def get(request: Request, state: State, raw_account: str) -> Response:
    """``GET /rest/adAccounts/{id}``."""
    account_id = _visible_account(request, state, raw_account, "GET")
    if isinstance(account_id, Response):
        return account_id
    return json_response(200, project(state.account(account_id) or {}, request.param("fields")))


def search(request: Request, state: State) -> Response:
    """``GET /rest/adAccounts?q=search[&search=(...)]``: the accounts the token can see."""
    if request.param("q") != "search":
        return json_response(400, errors.bad_request("Only the q=search finder is supported"))
    token = request.token or ""
    if not state.has_scope(token, *_READ_SCOPES):
        return denied(request, "adAccounts", "FINDER")
    found = _search(
        request,
        [a for a in state.accounts() if state.can_access(token, a["id"])],
        _ACCOUNT_CRITERIA,
    )
    return found if isinstance(found, Response) else _page(request, state, found)


def search_campaigns(request: Request, state: State, raw_account: str) -> Response:
    """``GET /rest/adAccounts/{id}/adCampaigns?q=search[&search=(...)]``."""
    account_id = _visible_account(request, state, raw_account, "FINDER")
    if isinstance(account_id, Response):
        return account_id
    if request.param("q") != "search":
        return json_response(400, errors.bad_request("Only the q=search finder is supported"))
    found = _search(request, state.campaigns(account_id), _CAMPAIGN_CRITERIA)
    return found if isinstance(found, Response) else _page(request, state, found)


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
    """``GET /rest/adAccountUsers?q=authenticatedUser``: the token's role on each account."""
    if request.param("q") != "authenticatedUser":
        return json_response(
            400, errors.bad_request("Only the q=authenticatedUser finder is supported")
        )
    token = request.token or ""
    if not state.has_scope(token, *_READ_SCOPES):
        return denied(request, "adAccountUsers", "FINDER")
    info = state.token_info(token) or {}
    at = int(info.get("authorized_at", 0)) * 1000
    found = []
    for account in state.accounts():
        role = state.role(token, account["id"])
        if role is not None:
            found.append(
                {
                    "account": account_urn(account["id"]),
                    "changeAuditStamps": {"created": {"time": at}, "lastModified": {"time": at}},
                    "role": role,
                    "user": "urn:li:person:emulator",
                }
            )
    try:
        body = index_page(request, found, _UNBOUNDED, _UNBOUNDED, len(found))
    except PagingError as exc:
        return json_response(400, errors.bad_request(str(exc)))
    return json_response(200, body)
