"""``/rest/campaignConversions``: campaign <-> rule associations by compound key."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from . import errors
from .gateway import denied
from .messages import Request, Response, json_response, paged
from .restli import (
    KeyFormatError,
    parse_campaign_conversion_key,
    parse_campaign_urn,
    parse_conversion_urn,
    parse_list,
)
from .state import State
from .validation import UNRECOGNIZED, line

_ENTITY_FIELDS = ("campaign", "conversion")


def _invalid_key() -> Response:
    return json_response(400, dict(errors.INVALID_KEY))


def _entity_error(entity: Any, campaign: str, conversion: str) -> Response | None:
    """The body must be exactly ``{"campaign": <key campaign>, "conversion": <key conversion>}``."""
    if type(entity) is not dict:
        return json_response(400, errors.bad_request("Entity must be a JSON object"))
    unknown = [line(f"/{k}", UNRECOGNIZED) for k in entity if k not in _ENTITY_FIELDS]
    if unknown:
        return json_response(422, errors.schema_error(f"{text}\n" for text in unknown))
    if entity.get("campaign") != campaign or entity.get("conversion") != conversion:
        return json_response(
            400, errors.bad_request("The entity's campaign and conversion must match the key")
        )
    return None


def _link(request: Request, state: State, campaign: str, conversion: str) -> Response:
    """Rule must exist (404), be visible (403), and own the campaign's account (400)."""
    rule_id = parse_conversion_urn(conversion)
    rules = state.resolve_rules([rule_id]) if rule_id is not None else {}
    if rule_id not in rules:
        return json_response(
            404, errors.entity_not_found(f"Conversion {conversion} does not exist")
        )
    account_id = rules[rule_id][0]
    if not state.can_access(request.token or "", account_id, conversions=True):
        return denied(request, "campaignConversions", "UPDATE")
    campaign_id = parse_campaign_urn(campaign)
    if campaign_id is None or state.campaign_account(campaign_id) != account_id:
        return json_response(400, errors.campaign_not_in_account(campaign, conversion))
    state.link(campaign, conversion)
    return Response(204)


def _key(raw: str) -> tuple[str, str] | None:
    try:
        return parse_campaign_conversion_key(raw)
    except KeyFormatError:
        return None


def update(request: Request, state: State, raw_key: str) -> Response:
    """``PUT /rest/campaignConversions/(campaign:...,conversion:...)`` -> 204 (idempotent)."""
    key = _key(raw_key)
    if key is None:
        return _invalid_key()
    if request.body_error:
        return json_response(400, errors.bad_request("Request body must be a JSON object"))
    problem = _entity_error(request.body, *key)
    return problem or _link(request, state, *key)


def batch_update(request: Request, state: State) -> Response:
    """``PUT ?ids=List(...)`` (BATCH_UPDATE): per-key results and errors, Rest.li batch style."""
    method = request.restli_method("BATCH_UPDATE")
    if method != "BATCH_UPDATE":
        return json_response(
            400, errors.bad_request(f"Unsupported method {method} for campaignConversions")
        )
    raw_ids = request.params.get("ids")
    if raw_ids is None:
        return json_response(400, errors.bad_request("Parameter 'ids' is required"))
    try:
        raw_keys = parse_list(raw_ids)
        keys = {raw: parse_campaign_conversion_key(raw) for raw in raw_keys}
    except KeyFormatError:
        return _invalid_key()
    entities = request.body.get("entities") if type(request.body) is dict else None
    if request.body_error or type(entities) is not dict:
        return json_response(
            400, errors.bad_request('Expected a body of the form {"entities": {...}}')
        )
    body_keys = {}
    for raw in entities:
        parsed = _key(raw)
        if parsed is None:
            return _invalid_key()
        body_keys[parsed] = raw
    if set(body_keys) != set(keys.values()):
        return json_response(
            400, errors.bad_request("Batch request mismatch: ids and entities differ")
        )

    results: dict[str, dict[str, int]] = {}
    failures: dict[str, dict[str, Any]] = {}
    for raw, (campaign, conversion) in keys.items():
        entity = entities[body_keys[(campaign, conversion)]]
        outcome = _entity_error(entity, campaign, conversion) or _link(
            request, state, campaign, conversion
        )
        if outcome.status == 204:
            results[raw] = {"status": 204}
        else:
            failures[raw] = {"status": outcome.status, "message": outcome.body["message"]}
    return json_response(200, {"results": results, "errors": failures})


def get(request: Request, state: State, raw_key: str) -> Response:
    """``GET /rest/campaignConversions/(key)`` -> ``{campaign, conversion, associatedAt}``."""
    key = _key(raw_key)
    if key is None:
        return _invalid_key()
    link = state.get_link(*key)
    if link is None:
        return json_response(
            404, errors.entity_not_found("Campaign conversion association does not exist")
        )
    return json_response(200, link)


def delete(request: Request, state: State, raw_key: str) -> Response:
    """``DELETE /rest/campaignConversions/(key)`` -> 204, or 404 when not associated."""
    key = _key(raw_key)
    if key is None:
        return _invalid_key()
    if not state.unlink(*key):
        return json_response(
            404, errors.entity_not_found("Campaign conversion association does not exist")
        )
    return Response(204)


def find(request: Request, state: State) -> Response:
    """Finder ``q=campaigns&campaigns=List(urn%3Ali%3AsponsoredCampaign%3A1,...)``."""
    if request.param("q") != "campaigns" or "campaigns" not in request.params:
        return json_response(400, errors.bad_request("Only the q=campaigns finder is supported"))
    try:
        wanted = {parse_key_value(raw) for raw in parse_list(request.params["campaigns"])}
    except KeyFormatError:
        return json_response(400, errors.bad_request("Invalid value for parameter 'campaigns'"))
    links = [
        state.get_link(link["campaign"], link["conversion"])
        for link in state.campaign_links()
        if link["campaign"] in wanted
    ]
    found = [link for link in links if link is not None]
    return json_response(200, paged(found, 0, len(found), len(found)))


def parse_key_value(raw: str) -> str:
    """Decode one encoded campaign URN inside a ``List(...)`` query value."""
    value = unquote(raw)
    if ":" in raw or parse_campaign_urn(value) is None:
        raise KeyFormatError(raw)
    return value
