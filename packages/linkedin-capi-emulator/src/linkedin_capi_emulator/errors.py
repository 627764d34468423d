"""LinkedIn's error bodies, verbatim where LinkedIn documents them or they were observed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Body = dict[str, Any]

ROUTE_NOT_FOUND: Body = {
    "status": 404,
    "code": "RESOURCE_NOT_FOUND",
    "message": "No virtual resource found",
}
VERSION_MISSING: Body = {
    "status": 400,
    "code": "VERSION_MISSING",
    "message": "A version must be present. Please specify a version by adding the "
    "LinkedIn-Version header.",
}
# The reference records only code and serviceErrorCode for the empty-token case; the message is
# the one LinkedIn's older docs show for a missing token.
EMPTY_ACCESS_TOKEN: Body = {
    "status": 401,
    "serviceErrorCode": 65604,
    "code": "EMPTY_ACCESS_TOKEN",
    "message": "Empty oauth2_access_token",
}
INVALID_ACCESS_TOKEN: Body = {
    "status": 401,
    "serviceErrorCode": 65600,
    "code": "INVALID_ACCESS_TOKEN",
    "message": "Invalid access token",
}
REVOKED_ACCESS_TOKEN: Body = {
    "status": 401,
    "serviceErrorCode": 65601,
    "code": "REVOKED_ACCESS_TOKEN",
    "message": "The token used in the request has been revoked by the user",
}
EXPIRED_ACCESS_TOKEN: Body = {
    "status": 401,
    "serviceErrorCode": 65602,
    "code": "EXPIRED_ACCESS_TOKEN",
    "message": "The token used in the request has expired",
}
THROTTLED: Body = {
    "serviceErrorCode": 101,
    "message": "Resource level throttle limit for calls to this resource is reached.",
    "status": 429,
}
NO_AD_ACCOUNTS: Body = {"message": "No ad accounts found", "status": 403}
BATCH_TOO_LARGE: Body = {
    "message": "Batch size exceeds the maximum of 5000 elements",
    "status": 400,
}
INVALID_KEY: Body = {"status": 400, "message": "Invalid key format"}

OAUTH_INVALID_GRANT: Body = {
    "error": "invalid_request",
    "error_description": "The provided authorization grant or refresh token is invalid, "
    "expired or revoked",
}
OAUTH_INVALID_CLIENT: Body = {
    "error": "invalid_client",
    "error_description": "Client authentication failed",
}
# Introspection: LinkedIn documents only the statuses (400 bad client id or token, 401 bad
# secret); these bodies follow its other OAuth errors and are the emulator's own wording.
OAUTH_INVALID_CLIENT_ID: Body = {
    "error": "invalid_request",
    "error_description": "The passed in client_id is invalid",
}
OAUTH_INVALID_TOKEN: Body = {
    "error": "invalid_request",
    "error_description": "The provided token is invalid",
}

# HTTP reason phrases for default fault bodies.
_REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    409: "Conflict",
    423: "Locked",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def nonexistent_version(normalised_version: str) -> Body:
    """426 for a sunset or never-released version (message shows ``YYYYMM01``)."""
    return {
        "status": 426,
        "code": "NONEXISTENT_VERSION",
        "message": f"Requested version {normalised_version} is not active",
    }


def access_denied(resource: str, method: str, normalised_version: str) -> Body:
    """403 for a token without a role on the ad account (shape from other LinkedIn resources)."""
    return {
        "status": 403,
        "serviceErrorCode": 100,
        "code": "ACCESS_DENIED",
        "message": f"Not enough permissions to access: {resource}.{method}.{normalised_version}",
    }


def method_not_allowed(method: str) -> Body:
    """405; LinkedIn's body is not recorded, so this mirrors the 404 shape."""
    return {
        "status": 405,
        "code": "METHOD_NOT_ALLOWED",
        "message": f"Method {method} is not allowed on this resource",
    }


def entity_not_found(message: str) -> Body:
    """404 for a well-routed request whose entity does not exist."""
    return {"status": 404, "code": "RESOURCE_NOT_FOUND", "message": message}


def bad_request(message: str) -> Body:
    """Generic 400 in the ``{status, message}`` shape of Rest.li validation errors."""
    return {"status": 400, "message": message}


def schema_error(lines: Iterable[str]) -> Body:
    """422 with Rest.li's ``ERROR :: <path> :: <reason>\\n`` lines already formatted."""
    return {"message": "".join(lines), "status": 422}


def indices_text(indices: Iterable[int]) -> str:
    """Java's ``List.toString`` as used in ``indices [0, 3] (0-indexed)``."""
    return "[" + ", ".join(str(i) for i in indices) + "]"


def window_error(indices: Iterable[int]) -> Body:
    """400 for events older than 90 days or in the future (Observed text)."""
    return {
        "message": "Conversion time should be within 90 days and not exceed current time, "
        f"indices {indices_text(indices)} (0-indexed).",
        "status": 400,
    }


def wrong_method_error(indices: Iterable[int]) -> Body:
    """400 for events sent to an Insight Tag (non-CAPI) rule."""
    return {
        "message": "Incorrect conversions information provided. Conversion's method should be "
        f"CONVERSIONS_API, indices {indices_text(indices)} (0-indexed)",
        "status": 400,
    }


def disabled_rule_error(indices: Iterable[int]) -> Body:
    """400 for events sent to a disabled ("deleted") rule."""
    return {
        "message": "Invalid Conversion information provided, this event(s) is associated to a "
        "conversion that's marked as deleted. Conversion enabled should be true, "
        f"indices {indices_text(indices)} (0-indexed)",
        "status": 400,
    }


def identity_error(indices: Iterable[int]) -> Body:
    """400 for events with no usable user identifier."""
    return {
        "message": "The request must contain one of these fields: userIds, userInfo with "
        f"firstName and lastName, externalIds, lead, indices {indices_text(indices)} "
        "(0-indexed).",
        "status": 400,
    }


def campaign_not_in_account(campaign_urn: str, conversion_urn: str) -> Body:
    """400 when linking a campaign that is unknown or belongs to another ad account."""
    return {
        "status": 400,
        "message": f"Campaign {campaign_urn} does not exist or does not belong to the ad "
        f"account of conversion {conversion_urn}",
    }


def oauth_missing(parameter: str) -> Body:
    """400 for a refresh request without a required form parameter."""
    return {
        "error": "invalid_request",
        "error_description": f'A required parameter "{parameter}" is missing',
    }


def default_fault_body(status: int) -> Body:
    """A LinkedIn-like body for an injected status without an explicit body."""
    if status == 429:
        return dict(THROTTLED)
    if status == 401:
        return dict(INVALID_ACCESS_TOKEN)
    return {"message": _REASONS.get(status, "Error"), "status": status}
