"""``/rest/conversions``: get, finder ``q=account``, create and partial update."""

from __future__ import annotations

from typing import Any

from . import errors
from .gateway import denied
from .messages import Request, Response, int_param, json_response, paged, project
from .restli import campaign_urn, conversion_urn, parse_account_urn
from .rule_validation import DEFAULTS, schema_errors, semantic_error
from .state import State

_AUTO_ASSOCIATION = ("ALL_CAMPAIGNS", "OBJECTIVE_BASED")


def _unprocessable(lines: list[str]) -> Response:
    return json_response(422, errors.schema_error(f"{text}\n" for text in lines))


def _account_param(request: Request) -> int | Response:
    """The ``account`` query parameter as an id (encoded or raw colons), or a 400."""
    value = request.param("account")
    if value is None:
        return json_response(400, errors.bad_request("Parameter 'account' is required"))
    account_id = parse_account_urn(value)
    if account_id is None:
        return json_response(
            400, errors.bad_request(f"Invalid value for parameter 'account': {value}")
        )
    return account_id


def _rule_id(raw: str) -> int | Response:
    # The path takes the bare numeric id, never the URN.
    if raw.isascii() and raw.isdigit():
        return int(raw)
    return json_response(400, errors.bad_request(f"Invalid key: {raw}"))


def _account_of(rule: dict[str, Any]) -> int:
    return int(rule["account"].rpartition(":")[2])


def _visible_rule(
    request: Request, state: State, rule_key: str, method: str
) -> dict[str, Any] | Response:
    """The rule at `/conversions/{rule_key}?account=...`, or LinkedIn's refusal."""
    rule_id = _rule_id(rule_key)
    if isinstance(rule_id, Response):
        return rule_id
    account = _account_param(request)
    if isinstance(account, Response):
        return account
    rule = state.rule(rule_id)
    if rule is None:
        return json_response(404, errors.entity_not_found(f"Conversion {rule_id} does not exist"))
    if not state.can_access(request.token or "", _account_of(rule), conversions=True):
        return denied(request, "conversions", method)
    return rule


def get(request: Request, state: State, rule_key: str) -> Response:
    """``GET /rest/conversions/{id}?account=...``; the rule keeps its own account."""
    rule = _visible_rule(request, state, rule_key, "GET")
    if isinstance(rule, Response):
        return rule
    return json_response(200, project(rule, request.param("fields")))


def find(request: Request, state: State) -> Response:
    """Finder ``q=account`` with index paging; ``paging.total`` is -1 like the recorded response."""
    finder = request.param("q")
    if finder is None:
        return json_response(400, errors.bad_request("GET_ALL is not supported; use q=account"))
    if finder != "account":
        return json_response(400, errors.bad_request(f"Unsupported finder: {finder}"))
    account = _account_param(request)
    if isinstance(account, Response):
        return account
    if state.account(account) is None or not state.can_access(
        request.token or "", account, conversions=True
    ):
        return denied(request, "conversions", "FINDER")
    start = int_param(request, "start", 0)
    count = int_param(request, "count", 10)
    if start is None or count is None:
        return json_response(
            400, errors.bad_request("Parameters 'start' and 'count' must be integers")
        )
    count = min(count, state.finder_page_size)
    fields = request.param("fields")
    rules = state.rules_for_account(account)[start : start + count]
    return json_response(200, paged((project(r, fields) for r in rules), start, count, -1))


def create(request: Request, state: State) -> Response:
    """``POST /rest/conversions`` (CREATE): 201 with Location, x-restli-id and the full rule."""
    method = request.restli_method("CREATE")
    if method != "CREATE":
        return json_response(
            400, errors.bad_request(f"Unsupported method {method} for conversions")
        )
    if request.body_error or type(request.body) is not dict:
        return json_response(400, errors.bad_request("Request body must be a JSON object"))
    lines = schema_errors(request.body, request.version_number, operation="create")
    if lines:
        return _unprocessable(lines)
    auto = request.param("autoAssociationType")
    if auto is not None and auto not in _AUTO_ASSOCIATION:
        return json_response(400, errors.bad_request(f"Invalid autoAssociationType: {auto}"))
    fields = {**DEFAULTS, **request.body}
    account_id = parse_account_urn(fields["account"])
    assert account_id is not None  # schema_errors checked the URN
    if state.account(account_id) is None or not state.can_access(
        request.token or "", account_id, conversions=True
    ):
        return denied(request, "conversions", "CREATE")
    message = semantic_error(fields)
    if message:
        return json_response(400, errors.bad_request(message))
    rule = state.create_rule(account_id, fields)
    if auto is not None:
        # Both modes link the account's campaigns; the emulator has no campaign objectives.
        for campaign in state.campaigns(account_id):
            state.link(campaign_urn(campaign["id"]), conversion_urn(rule["id"]))
        rule = state.rule(rule["id"]) or rule
    rule_id = str(rule["id"])
    return json_response(201, rule, Location=f"/conversions/{rule_id}", x_restli_id=rule_id)


def partial_update(request: Request, state: State, rule_key: str) -> Response:
    """``POST /rest/conversions/{id}`` with ``{"patch":{"$set":{...}}}`` -> 204."""
    method = request.restli_method("PARTIAL_UPDATE")
    if method != "PARTIAL_UPDATE":
        return json_response(
            400, errors.bad_request(f"Unsupported method {method} for conversions/{rule_key}")
        )
    rule = _visible_rule(request, state, rule_key, "PARTIAL_UPDATE")
    if isinstance(rule, Response):
        return rule
    rule_id = int(rule["id"])
    body = request.body
    patch = body.get("patch") if type(body) is dict else None
    if request.body_error or type(patch) is not dict or type(patch.get("$set", {})) is not dict:
        return json_response(
            400, errors.bad_request('Expected a body of the form {"patch": {"$set": {...}}}')
        )
    unsupported = [op for op in patch if op != "$set"]
    if unsupported or set(body) != {"patch"}:
        return json_response(
            400,
            errors.bad_request(
                f"Unsupported patch content: {sorted(set(body) - {'patch'}) + unsupported}"
            ),
        )
    changes = patch.get("$set", {})
    lines = schema_errors(changes, request.version_number, operation="partial_update")
    if lines:
        return _unprocessable(lines)
    if "account" in changes and changes["account"] != rule["account"]:
        return json_response(400, errors.bad_request("Field 'account' cannot be changed"))
    message = semantic_error({**rule, **changes})
    if message:
        return json_response(400, errors.bad_request(message))
    if not state.update_rule(rule_id, changes):
        return json_response(404, errors.entity_not_found(f"Conversion {rule_id} does not exist"))
    return Response(204)
