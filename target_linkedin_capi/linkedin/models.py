"""Typed views of LinkedIn's JSON, parsed defensively.

LinkedIn adds fields, omits empty ones and varies in small ways between versions and
endpoints; a missing or odd field becomes None (or empty) here rather than a KeyError or a
wrong type further on. Unknown fields are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from target_linkedin_capi.linkedin import vocabulary

# The rule fields the target sets, by model attribute -> LinkedIn's field name.
RULE_FIELDS: Mapping[str, str] = {
    "name": "name",
    "type": "type",
    "attribution_type": "attributionType",
    "post_click_window": "postClickAttributionWindowSize",
    "view_through_window": "viewThroughAttributionWindowSize",
}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _id(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    text = str(value).strip()
    return text or None


def _object(data: object) -> Mapping[str, Any]:
    return data if isinstance(data, Mapping) else {}


@dataclass(frozen=True, slots=True)
class RuleDraft:
    """A Conversions API rule to create."""

    name: str
    account_id: str
    type: str
    attribution_type: str
    post_click_window: int
    view_through_window: int

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "account": vocabulary.account_urn(self.account_id),
            "conversionMethod": vocabulary.CONVERSIONS_API_METHOD,
            "type": self.type,
            "postClickAttributionWindowSize": self.post_click_window,
            "viewThroughAttributionWindowSize": self.view_through_window,
            "attributionType": self.attribution_type,
        }


@dataclass(frozen=True, slots=True)
class ConversionRule:
    id: str
    name: str | None
    account_id: str | None  # None when LinkedIn's `account` is not an ad account URN
    account: str | None  # as LinkedIn wrote it, for messages
    type: str | None
    attribution_type: str | None
    post_click_window: int | None
    view_through_window: int | None
    enabled: bool | None
    method: str | None
    campaigns: frozenset[str]  # ids of the linked campaigns

    @property
    def urn(self) -> str:
        return vocabulary.rule_urn(self.id)

    @property
    def takes_server_events(self) -> bool:
        return self.method == vocabulary.CONVERSIONS_API_METHOD and self.enabled is not False

    @classmethod
    def from_json(cls, data: object) -> ConversionRule | None:
        """None when the element has no usable id."""
        data = _object(data)
        rule_id = _id(data.get("id"))
        if rule_id is None:
            return None
        account = _text(data.get("account"))
        return cls(
            id=rule_id,
            name=_text(data.get("name")),
            account_id=vocabulary.account_id(account) if account else None,
            account=account,
            type=_text(data.get("type")),
            attribution_type=_text(data.get("attributionType")),
            post_click_window=_int(data.get("postClickAttributionWindowSize")),
            view_through_window=_int(data.get("viewThroughAttributionWindowSize")),
            enabled=_bool(data.get("enabled")),
            method=_text(data.get("conversionMethod")),
            campaigns=_campaign_ids(data),
        )


def _campaign_ids(data: Mapping[str, Any]) -> frozenset[str]:
    linked: set[str] = set()
    for key in ("campaigns", "associatedCampaigns"):
        items = data.get(key)
        for item in items if isinstance(items, list) else ():
            value = item.get("campaign") if isinstance(item, Mapping) else item
            campaign = vocabulary.campaign_id(value) if isinstance(value, (str, int)) else None
            if campaign:
                linked.add(campaign)
    return frozenset(linked)


@dataclass(frozen=True, slots=True)
class AdAccount:
    id: str
    name: str | None
    status: str | None
    type: str | None
    currency: str | None
    test: bool | None

    @classmethod
    def from_json(cls, data: object) -> AdAccount | None:
        data = _object(data)
        account_id = _id(data.get("id"))
        if account_id is None:
            return None
        return cls(
            id=account_id,
            name=_text(data.get("name")),
            status=_text(data.get("status")),
            type=_text(data.get("type")),
            currency=_text(data.get("currency")),
            test=_bool(data.get("test")),
        )


@dataclass(frozen=True, slots=True)
class AccountUser:
    """The token's member on one ad account, with its role (VIEWER cannot send events)."""

    account_id: str
    role: str | None

    @classmethod
    def from_json(cls, data: object) -> AccountUser | None:
        data = _object(data)
        account = _text(data.get("account"))
        account_id = vocabulary.account_id(account) if account else None
        if account_id is None:
            return None
        return cls(account_id=account_id, role=_text(data.get("role")))


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    account_id: str | None
    name: str | None
    status: str | None
    type: str | None = None  # TEXT_AD, SPONSORED_UPDATES, ...

    @classmethod
    def from_json(cls, data: object) -> Campaign | None:
        data = _object(data)
        campaign_id = _id(data.get("id"))
        if campaign_id is None:
            return None
        account = _text(data.get("account"))
        return cls(
            id=campaign_id,
            account_id=vocabulary.account_id(account) if account else None,
            name=_text(data.get("name")),
            status=_text(data.get("status")),
            type=_text(data.get("type")),
        )


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What LinkedIn's token introspection says (never the token itself)."""

    active: bool
    status: str | None
    scopes: frozenset[str]
    expires_at: int | None  # epoch seconds
    authorized_at: int | None
    auth_type: str | None

    @classmethod
    def from_json(cls, data: object) -> TokenInfo:
        data = _object(data)
        scope = data.get("scope")
        scopes = (
            frozenset(s.strip() for s in scope.split(",") if s.strip())
            if isinstance(scope, str)
            else frozenset()
        )
        return cls(
            active=data.get("active") is True,
            status=_text(data.get("status")),
            scopes=scopes,
            expires_at=_int(data.get("expires_at")),
            authorized_at=_int(data.get("authorized_at")),
            auth_type=_text(data.get("auth_type")),
        )
