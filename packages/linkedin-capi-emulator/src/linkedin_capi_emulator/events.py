"""``POST /rest/conversionEvents``: single CREATE and BATCH_CREATE."""

from __future__ import annotations

import secrets
from typing import Any

from . import errors
from .faults import reject_body
from .gateway import denied
from .messages import Request, Response, json_response
from .state import State, now_ms
from .validation import (
    CONVERSION_PREFIX,
    REQUIRED,
    UNRECOGNIZED,
    has_identity,
    line,
    not_array,
    validate_event,
)

MAX_BATCH = 5000
WINDOW_MS = 90 * 24 * 60 * 60 * 1000
_PREFIX_LEN = len(CONVERSION_PREFIX)
_UNPARSABLE = {"message": "Unable to parse the request body as a JSON object", "status": 400}


def _batch_elements(body: Any) -> list[Any] | Response:
    """The ``elements`` list of a BATCH_CREATE body, or the error response."""
    if type(body) is not dict:
        return json_response(400, _UNPARSABLE)
    lines = [line(f"/{key}", UNRECOGNIZED) for key in body if key != "elements"]
    elements = body.get("elements")
    if elements is None:
        lines.insert(0, line("/elements", REQUIRED))
    elif type(elements) is not list:
        lines.insert(0, line("/elements", not_array(elements)))
    if lines:
        return json_response(422, errors.schema_error(f"{text}\n" for text in lines))
    if not elements:
        return json_response(
            400, {"message": "Batch must contain at least one element", "status": 400}
        )
    if len(elements) > MAX_BATCH:
        return json_response(400, errors.BATCH_TOO_LARGE)
    return elements


def create(request: Request, state: State) -> Response:
    """Validate all elements, resolve rules, apply business rules, then store all-or-nothing."""
    method = request.restli_method("CREATE")
    if method not in ("CREATE", "BATCH_CREATE"):
        return json_response(
            400, errors.bad_request(f"Unsupported method {method} for conversionEvents")
        )
    if request.body_error:
        return json_response(400, _UNPARSABLE)
    batch = method == "BATCH_CREATE"
    if batch:
        parsed = _batch_elements(request.body)
        if isinstance(parsed, Response):
            return parsed
        elements = parsed
    elif type(request.body) is not dict:
        return json_response(400, _UNPARSABLE)
    else:
        elements = [request.body]

    # Step 9: schema, collecting every error of every element.
    version = request.version_number
    lines: list[str] = []
    for index, element in enumerate(elements):
        found = validate_event(element, version)
        if found:
            if batch:
                found[0] = f"Index: {index}, {found[0]}"
            lines.extend(found)
    if lines:
        return json_response(422, errors.schema_error(f"{text}\n" for text in lines))

    hit = state.take_reject_fault(request.method, request.path, elements)
    if hit is not None:
        fault, indices = hit
        body = reject_body(fault.style, indices, batch)
        response = json_response(body["status"], body)
        response.fault = fault.describe()
        return response

    # Step 10: rule resolution.
    rule_ids = [int(element["conversion"][_PREFIX_LEN:]) for element in elements]
    rules = state.resolve_rules(set(rule_ids))
    if len(rules) != len(set(rule_ids)):
        return json_response(403, errors.NO_AD_ACCOUNTS)
    for account_id in {account for account, _, _ in rules.values()}:
        if not state.can_access(request.token or "", account_id, conversions=True):
            return denied(request, "conversionEvents", method)
    wrong_method = [i for i, r in enumerate(rule_ids) if rules[r][1] != "CONVERSIONS_API"]
    if wrong_method:
        return json_response(400, errors.wrong_method_error(wrong_method))
    disabled = [i for i, r in enumerate(rule_ids) if not rules[r][2]]
    if disabled:
        return json_response(400, errors.disabled_rule_error(disabled))

    # Step 11: business rules, evaluated against the emulator's clock like LinkedIn's.
    now = now_ms()
    oldest = now - WINDOW_MS
    out_of_window = [
        i for i, el in enumerate(elements) if not oldest <= el["conversionHappenedAt"] <= now
    ]
    if out_of_window:
        return json_response(400, errors.window_error(out_of_window))
    anonymous = [i for i, el in enumerate(elements) if not has_identity(el["user"])]
    if anonymous:
        return json_response(400, errors.identity_error(anonymous))

    state.store_events(elements)
    if batch:
        return json_response(200, {"elements": [{"status": 201}] * len(elements)})
    # The created-resource id is opaque and unrelated to eventId.
    return Response(201, None, {"x-restli-id": secrets.token_hex(12)})
