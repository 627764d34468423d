"""Route table and dispatch for LinkedIn paths: 404/405 first, then the gateway (routing, version, token, scope and throttle checks, in LinkedIn's order)."""

from __future__ import annotations

import re
from collections.abc import Callable

from . import accounts, errors, events, gateway, links, oauth, rules_api
from .messages import Request, Response, json_response
from .state import State

Handler = Callable[..., Response]
_SEG = r"([^/]+)"

# (path regex, {HTTP method: handler}, needs the /rest gateway checks)
ROUTES: list[tuple[re.Pattern[str], dict[str, Handler], bool]] = [
    (re.compile(r"/rest/conversionEvents/?"), {"POST": events.create}, True),
    (re.compile(r"/rest/conversions"), {"GET": rules_api.find, "POST": rules_api.create}, True),
    (
        re.compile(rf"/rest/conversions/{_SEG}"),
        {"GET": rules_api.get, "POST": rules_api.partial_update},
        True,
    ),
    (
        re.compile(r"/rest/campaignConversions"),
        {"PUT": links.batch_update, "GET": links.find},
        True,
    ),
    (
        re.compile(rf"/rest/campaignConversions/{_SEG}"),
        {"PUT": links.update, "GET": links.get, "DELETE": links.delete},
        True,
    ),
    (re.compile(r"/rest/adAccounts"), {"GET": accounts.search}, True),
    (re.compile(rf"/rest/adAccounts/{_SEG}"), {"GET": accounts.get}, True),
    (re.compile(rf"/rest/adAccounts/{_SEG}/adCampaigns"), {"GET": accounts.search_campaigns}, True),
    (
        re.compile(rf"/rest/adAccounts/{_SEG}/adCampaigns/{_SEG}"),
        {"GET": accounts.get_campaign},
        True,
    ),
    (re.compile(r"/rest/adAccountUsers"), {"GET": accounts.account_users}, True),
    (re.compile(r"/oauth/v2/accessToken"), {"POST": oauth.access_token}, False),
    (re.compile(r"/oauth/v2/introspectToken"), {"POST": oauth.introspect}, False),
]


def dispatch(request: Request, state: State) -> Response:
    """Route a LinkedIn request: unknown path 404, wrong verb 405, gateway checks, endpoint."""
    for pattern, handlers, gated in ROUTES:
        match = pattern.fullmatch(request.path)
        if match is None:
            continue
        handler = handlers.get(request.method)
        if handler is None:
            response = json_response(405, errors.method_not_allowed(request.method))
            response.headers["Allow"] = ", ".join(sorted(handlers))
            return response
        if gated:
            problem = gateway.check(request, state)
            if problem is not None:
                return problem
        return handler(request, state, *match.groups())
    return json_response(404, dict(errors.ROUTE_NOT_FOUND))
