"""In-memory LinkedIn state: accounts, campaigns, rules, links, tokens, events and request log.

One lock guards everything. Accessors return copies so callers can never race the server.
:meth:`State.reset` rebuilds exactly the constructor configuration (accounts, campaigns, rules,
tokens); runtime additions (``add_*``, HTTP-created rules and links, OAuth tokens), events, the
request log and faults are dropped.
"""

from __future__ import annotations

import gc
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import faults as faults_mod
from .restli import account_urn, campaign_urn, conversion_urn
from .versions import active_set

FIRST_RULE_ID = 14488340  # the id of LinkedIn's recorded rule-create response
VALID, EXPIRED, REVOKED = "valid", "expired", "revoked"
# The ad account roles LinkedIn documents; VIEWER may read but not use the Conversions API.
ROLES = (
    "ACCOUNT_BILLING_ADMIN",
    "ACCOUNT_MANAGER",
    "CAMPAIGN_MANAGER",
    "CREATIVE_MANAGER",
    "VIEWER",
)
DEFAULT_ROLE = "ACCOUNT_BILLING_ADMIN"
VIEWER = "VIEWER"
DEFAULT_SCOPES = ("rw_conversions", "r_ads")
DEFAULT_CLIENT_ID = "client-id"
TOKEN_TTL_SECONDS = 5184000  # LinkedIn's access tokens live 60 days


def now_ms() -> int:
    """Current epoch milliseconds."""
    return int(time.time() * 1000)


def now_s() -> int:
    """Current epoch seconds (the unit of the introspection timestamps)."""
    return int(time.time())


def parse_scopes(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Scopes from ``"a,b"`` / ``"a b"`` or a list; None means the defaults."""
    if value is None:
        return DEFAULT_SCOPES
    items = value.replace(" ", ",").split(",") if isinstance(value, str) else value
    return tuple(dict.fromkeys(str(i).strip() for i in items if str(i).strip()))


def parse_roles(
    accounts: Iterable[int] | Mapping[int, str] | None, role: str | None
) -> str | dict[int, str]:
    """A token's roles: ``role`` on ``accounts`` (a list, or a mapping account -> role)."""
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if accounts is None:
        return role or DEFAULT_ROLE
    if isinstance(accounts, Mapping):
        roles = {int(a): str(r) for a, r in accounts.items()}
        unknown = sorted(set(roles.values()) - set(ROLES))
        if unknown:
            raise ValueError(f"unknown role {unknown[0]!r}; expected one of {', '.join(ROLES)}")
        return roles
    return dict.fromkeys((int(a) for a in accounts), role or DEFAULT_ROLE)


def copy_json(value: Any) -> Any:
    """Deep copy of a JSON-shaped value (several times faster than ``copy.deepcopy``)."""
    if type(value) is dict:
        return {k: copy_json(v) for k, v in value.items()}
    if type(value) is list:
        return [copy_json(v) for v in value]
    return value


def make_rule(rule_id: int, account_id: int, fields: Mapping[str, Any], at: int) -> dict[str, Any]:
    """A rule entity with the key order of LinkedIn's recorded create response."""
    rule: dict[str, Any] = {
        "postClickAttributionWindowSize": fields["postClickAttributionWindowSize"],
        "conversionMethod": fields["conversionMethod"],
        "viewThroughAttributionWindowSize": fields["viewThroughAttributionWindowSize"],
        "created": at,
        "type": fields["type"],
        "enabled": fields["enabled"],
        "associatedCampaigns": [],
        "campaigns": [],
        "name": fields["name"],
        "id": rule_id,
        "lastModified": at,
        "attributionType": fields["attributionType"],
        "urlRules": list(fields.get("urlRules") or []),
        "account": account_urn(account_id),
    }
    for optional in ("valueType", "value"):
        if optional in fields:
            rule[optional] = copy_json(fields[optional])
    return rule


_FREEZE_AFTER = 1000


class State:
    """All emulator state behind a single lock."""

    def __init__(
        self,
        *,
        tokens: Iterable[str] = ("emulator-token",),
        accounts: Iterable[int] = (),
        campaigns: Mapping[int, Iterable[int]] | None = None,
        rules: Iterable[Mapping[str, Any]] = (),
        active_versions: Iterable[str | int] | None = None,
        oauth_clients: Mapping[str, str] | None = None,
        refresh_tokens: Iterable[str] = (),
        rotate_refresh_tokens: bool = False,
        rate_limit_per_minute: int | None = None,
        finder_page_size: int | None = None,
        token_accounts: Mapping[str, Iterable[int] | Mapping[int, str]] | None = None,
        latency_seconds: float = 0.0,
        token_ttl_seconds: int = TOKEN_TTL_SECONDS,
    ) -> None:
        self._lock = threading.Lock()
        self.active_versions = active_set(active_versions)
        self.oauth_clients = dict(oauth_clients or {})
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.rate_limit_per_minute = rate_limit_per_minute
        self.finder_page_size = finder_page_size or 100
        self.latency_seconds = float(latency_seconds)
        # Constructor configuration: what reset() restores.
        self._config_tokens = list(tokens)
        self._config_token_accounts = {
            t: parse_roles(ids, None) for t, ids in (token_accounts or {}).items()
        }
        self.token_ttl_seconds = int(token_ttl_seconds)
        # Tokens the emulator knows belong to the first OAuth app (introspection needs one).
        self.default_client_id = next(iter(self.oauth_clients), DEFAULT_CLIENT_ID)
        self._config_accounts = [int(a) for a in accounts]
        self._config_campaigns = [
            (int(a), int(c)) for a, ids in (campaigns or {}).items() for c in ids
        ]
        self._config_rules = [dict(r) for r in rules]
        self._config_refresh = list(refresh_tokens)
        self._init_runtime()

    # ------------------------------------------------------------------ runtime
    def _init_runtime(self) -> None:
        self._accounts: dict[int, dict[str, Any]] = {}
        self._campaigns: dict[int, dict[str, Any]] = {}  # campaign id -> entity
        self._tokens: dict[str, str] = dict.fromkeys(self._config_tokens, VALID)
        # A token listed in token_accounts is a valid token limited to those accounts.
        self._token_roles: dict[str, str | dict[int, str]] = {
            t: copy_json(r) for t, r in self._config_token_accounts.items()
        }
        self._tokens.update(dict.fromkeys(self._token_roles, VALID))
        self._token_info: dict[str, dict[str, Any]] = {
            t: self._new_token_info(None, None, None) for t in self._tokens
        }
        self._refresh: dict[str, str] = dict.fromkeys(self._config_refresh, VALID)
        self._rules: dict[int, dict[str, Any]] = {}
        self._next_rule_id = FIRST_RULE_ID
        self._links: dict[tuple[str, str], int] = {}
        self._events: list[dict[str, Any]] = []
        self._events_by_rule: Counter[str] = Counter()
        self._accepted_requests = 0
        self._rules_created = 0
        self._rule_updates: list[dict[str, Any]] = []
        self._rejected: Counter[str] = Counter()
        self._requests: list[dict[str, Any]] = []
        self._faults_applied = 0
        self._faults = faults_mod.FaultBook()
        self._throttle: dict[str, deque[float]] = {}
        for account_id in self._config_accounts:
            self._add_account(account_id)
        for account_id, campaign_id in self._config_campaigns:
            self._add_campaign(account_id, campaign_id)
        for rule in self._config_rules:
            self._add_rule(**rule)

    def reset(self) -> None:
        """Forget everything and rebuild the constructor configuration (accounts, campaigns,
        rules, tokens, refresh tokens). Runtime additions, events, logs and faults are dropped."""
        with self._lock:
            self._init_runtime()

    # ------------------------------------------------------------------ runtime additions
    def _add_account(self, account_id: int, name: str | None = None, **fields: Any) -> None:
        if account_id in self._accounts:
            self._accounts[account_id].update(fields)
            if name:
                self._accounts[account_id]["name"] = name
            return
        self._accounts[account_id] = {
            "id": account_id,
            "name": name or f"Emulator account {account_id}",
            "status": "ACTIVE",
            "currency": "USD",
            "type": "BUSINESS",
            "test": False,
            "reference": f"urn:li:organization:{account_id}",
            **fields,
        }

    def _add_campaign(
        self, account_id: int, campaign_id: int, name: str | None = None, **fields: Any
    ) -> None:
        self._add_account(account_id)
        self._campaigns[campaign_id] = {
            "id": campaign_id,
            "account": account_urn(account_id),
            "name": name or f"Emulator campaign {campaign_id}",
            "status": "ACTIVE",
            "type": "SPONSORED_UPDATES",
            "test": False,
            **fields,
        }

    def add_account(self, account_id: int, name: str | None = None, **fields: Any) -> None:
        """Register (or amend) an ad account; ``fields`` such as status, currency, type."""
        with self._lock:
            self._add_account(int(account_id), name, **fields)

    def add_campaign(
        self, account_id: int, campaign_id: int, name: str | None = None, **fields: Any
    ) -> None:
        """Register a campaign under an ad account, creating the account if needed;
        ``fields`` such as status (ACTIVE, PAUSED, DRAFT, ARCHIVED...) or type."""
        with self._lock:
            self._add_campaign(int(account_id), int(campaign_id), name, **fields)

    def _add_rule(
        self,
        account: int,
        name: str,
        type: str = "PURCHASE",
        conversion_method: str = "CONVERSIONS_API",
        enabled: bool = True,
        attribution_type: str = "LAST_TOUCH_BY_CAMPAIGN",
        post_click: int = 30,
        view_through: int = 7,
        campaigns: Iterable[int] = (),
    ) -> int:
        fields = {
            "name": name,
            "type": type,
            "conversionMethod": conversion_method,
            "enabled": enabled,
            "attributionType": attribution_type,
            "postClickAttributionWindowSize": post_click,
            "viewThroughAttributionWindowSize": view_through,
        }
        self._add_account(int(account))
        rule_id = self._next_rule_id
        self._next_rule_id += 1
        self._rules[rule_id] = make_rule(rule_id, int(account), fields, now_ms())
        for campaign_id in campaigns:
            self._link(campaign_urn(int(campaign_id)), conversion_urn(rule_id), now_ms())
        return rule_id

    def add_rule(self, account: int, name: str, **fields: Any) -> int:
        """Create a pre-existing rule (no validation, optionally linked); return its numeric id.

        Keyword fields as `_add_rule`: type, conversion_method, enabled, attribution_type,
        post_click, view_through, campaigns.
        """
        with self._lock:
            return self._add_rule(account, name, **fields)

    def _new_token_info(
        self, client_id: str | None, scopes: Any, expires_at: int | None
    ) -> dict[str, Any]:
        now = now_s()
        return {
            "client_id": client_id or self.default_client_id,
            "scopes": parse_scopes(scopes),
            "created_at": now,
            "authorized_at": now,
            "expires_at": now + self.token_ttl_seconds if expires_at is None else int(expires_at),
            "auth_type": "3L",
        }

    def add_token(
        self,
        token: str,
        accounts: Iterable[int] | Mapping[int, str] | None = None,
        role: str | None = None,
        *,
        scopes: str | Iterable[str] | None = None,
        expires_at: int | None = None,
        expires_in: int | None = None,
        client_id: str | None = None,
    ) -> None:
        """Register a valid access token.

        ``accounts`` limits it to some ad accounts (a list, all with ``role``, or a mapping
        account -> role); without it the token holds ``role`` (default ACCOUNT_BILLING_ADMIN)
        on every account. ``scopes`` default to ``rw_conversions,r_ads``; the token expires at
        ``expires_at`` (epoch seconds) or ``expires_in`` seconds from now (default 60 days).
        """
        roles = parse_roles(accounts, role)
        if expires_at is None and expires_in is not None:
            expires_at = now_s() + int(expires_in)
        with self._lock:
            self._tokens[token] = VALID
            self._token_roles[token] = roles
            self._token_info[token] = self._new_token_info(client_id, scopes, expires_at)

    def set_token_status(self, token: str, status: str) -> None:
        """Mark a token valid, expired or revoked (unknown tokens are registered)."""
        if status not in (VALID, EXPIRED, REVOKED):
            raise ValueError(status)
        with self._lock:
            self._tokens[token] = status
            info = self._token_info.setdefault(token, self._new_token_info(None, None, None))
            if status == VALID and info["expires_at"] <= now_s():
                info["expires_at"] = now_s() + self.token_ttl_seconds
            elif status == EXPIRED:
                info["expires_at"] = min(info["expires_at"], now_s())

    def add_refresh_token(self, refresh_token: str) -> None:
        """Register a valid refresh token."""
        with self._lock:
            self._refresh[refresh_token] = VALID

    def revoke_refresh_token(self, refresh_token: str) -> None:
        """Invalidate a refresh token."""
        with self._lock:
            self._refresh[refresh_token] = REVOKED

    # ------------------------------------------------------------------ faults
    def add_fault(self, spec: dict[str, Any]) -> None:
        """Parse and register a fault (raises ValueError when malformed)."""
        fault = faults_mod.parse_fault(spec)
        with self._lock:
            self._faults.add(fault)

    def clear_faults(self) -> None:
        """Remove all faults."""
        with self._lock:
            self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        """Registered faults with their seen/applied counters."""
        with self._lock:
            return self._faults.describe()

    def take_request_fault(self, method: str, path: str) -> faults_mod.Fault | None:
        """Request-level fault to apply to this request, if any."""
        with self._lock:
            fault = self._faults.take_request_fault(method, path)
            self._faults_applied += fault is not None
            return fault

    def take_reject_fault(
        self, method: str, path: str, elements: Sequence[dict[str, Any]]
    ) -> tuple[faults_mod.Fault, list[int]] | None:
        """Event-rejection fault hitting this batch, if any."""
        with self._lock:
            hit = self._faults.take_reject_fault(method, path, elements)
            self._faults_applied += hit is not None
            return hit

    # ------------------------------------------------------------------ tokens / gateway
    def token_status(self, token: str) -> str | None:
        """``valid``, ``expired`` (marked so, or past its expiry time), ``revoked`` or None."""
        with self._lock:
            status = self._tokens.get(token)
            info = self._token_info.get(token)
        if status == VALID and info is not None and info["expires_at"] <= now_s():
            return EXPIRED
        return status

    def token_info(self, token: str) -> dict[str, Any] | None:
        """Introspection data of a known token (client_id, scopes, times, status), or None."""
        status = self.token_status(token)
        with self._lock:
            info = self._token_info.get(token)
            return None if info is None or status is None else {**copy_json(info), "status": status}

    def role(self, token: str, account_id: int) -> str | None:
        """The token's role on an account, or None when it holds none."""
        with self._lock:
            roles = self._token_roles.get(token, DEFAULT_ROLE)
            if isinstance(roles, str):
                return roles if account_id in self._accounts else None
            return roles.get(account_id)

    def has_scope(self, token: str, *wanted: str) -> bool:
        """Whether the token was granted any of ``wanted``."""
        with self._lock:
            info = self._token_info.get(token)
        # Tokens registered without introspection data predate scopes: all scopes.
        return info is None or any(s in info["scopes"] for s in wanted)

    def can_access(self, token: str, account_id: int, *, conversions: bool = False) -> bool:
        """Whether the token may use an account: any role plus ``r_ads``/``rw_ads`` to read it;
        for the Conversions API (``conversions``) a non-VIEWER role and both
        ``rw_conversions`` and ``r_ads``, as LinkedIn documents for those calls."""
        role = self.role(token, account_id)
        if role is None:
            return False
        if conversions:
            return (
                role != VIEWER
                and self.has_scope(token, "rw_conversions")
                and self.has_scope(token, "r_ads", "rw_ads")
            )
        return self.has_scope(token, "r_ads", "rw_ads")

    def allow_request(self, token: str) -> bool:
        """Sliding one-minute per-token throttle; False means answer 429."""
        limit = self.rate_limit_per_minute
        if not limit:
            return True
        now = time.monotonic()
        with self._lock:
            window = self._throttle.setdefault(token, deque())
            while window and now - window[0] >= 60.0:
                window.popleft()
            if len(window) >= limit:
                return False
            window.append(now)
            return True

    def issue_access_token(self, client_id: str | None = None, scopes: Any = None) -> str:
        """Mint and register a new ~100-character access token of an OAuth app."""
        token = "AQ" + secrets.token_urlsafe(74)
        with self._lock:
            self._tokens[token] = VALID
            self._token_info[token] = self._new_token_info(client_id, scopes, None)
        return token

    def use_refresh_token(self, refresh_token: str) -> str | None:
        """Validate a refresh token; return the refresh token to hand back, or None if invalid.

        With rotation on, the presented token is invalidated and a new one issued.
        """
        with self._lock:
            if self._refresh.get(refresh_token) != VALID:
                return None
            if not self.rotate_refresh_tokens:
                return refresh_token
            self._refresh[refresh_token] = REVOKED
            new = "AQ" + secrets.token_urlsafe(60)
            self._refresh[new] = VALID
            return new

    # ------------------------------------------------------------------ accounts / campaigns
    def account(self, account_id: int) -> dict[str, Any] | None:
        """Ad account entity, or None."""
        with self._lock:
            account = self._accounts.get(account_id)
            return None if account is None else _public_account(account)

    def accounts(self) -> list[dict[str, Any]]:
        """All ad accounts, by id."""
        with self._lock:
            return [_public_account(self._accounts[a]) for a in sorted(self._accounts)]

    def campaign_account(self, campaign_id: int) -> int | None:
        """Owning account of a campaign, or None when the campaign does not exist."""
        with self._lock:
            campaign = self._campaigns.get(campaign_id)
        return None if campaign is None else int(campaign["account"].rpartition(":")[2])

    def campaigns(self, account_id: int) -> list[dict[str, Any]]:
        """Campaign entities of an account, by id."""
        urn = account_urn(account_id)
        with self._lock:
            return [copy_json(c) for _, c in sorted(self._campaigns.items()) if c["account"] == urn]

    # ------------------------------------------------------------------ rules
    def rule(self, rule_id: int) -> dict[str, Any] | None:
        """Copy of a rule entity, or None."""
        with self._lock:
            rule = self._rules.get(rule_id)
            return None if rule is None else copy_json(rule)

    def rules(self) -> list[dict[str, Any]]:
        """All rules as LinkedIn returns them, by id."""
        with self._lock:
            return [copy_json(self._rules[i]) for i in sorted(self._rules)]

    def rules_for_account(self, account_id: int) -> list[dict[str, Any]]:
        """Rules owned by one account, by id."""
        urn = account_urn(account_id)
        with self._lock:
            return [copy_json(r) for i, r in sorted(self._rules.items()) if r["account"] == urn]

    def create_rule(self, account_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Store a validated rule (defaults already applied) and return a copy."""
        with self._lock:
            rule_id = self._next_rule_id
            self._next_rule_id += 1
            rule = make_rule(rule_id, account_id, fields, now_ms())
            self._rules[rule_id] = rule
            self._rules_created += 1
            return copy_json(rule)

    def update_rule(self, rule_id: int, changes: Mapping[str, Any]) -> bool:
        """Apply a validated ``$set``; False when the rule vanished meanwhile."""
        with self._lock:
            rule = self._rules.get(rule_id)
            if rule is None:
                return False
            rule.update(copy_json(dict(changes)))
            rule["lastModified"] = now_ms()
            self._rule_updates.append({"id": rule_id, "set": copy_json(dict(changes))})
            return True

    def resolve_rules(self, rule_ids: Iterable[int]) -> dict[int, tuple[int, str, bool]]:
        """``{rule id: (account id, conversionMethod, enabled)}`` for the ids that exist."""
        with self._lock:
            found = {}
            for rule_id in rule_ids:
                rule = self._rules.get(rule_id)
                if rule is not None:
                    account = int(rule["account"].rpartition(":")[2])
                    found[rule_id] = (account, rule["conversionMethod"], rule["enabled"])
            return found

    # ------------------------------------------------------------------ campaign links
    def _link(self, campaign: str, conversion: str, at: int) -> None:
        key = (campaign, conversion)
        if key in self._links:
            return
        self._links[key] = at
        rule = self._rules.get(int(conversion.rpartition(":")[2]))
        if rule is not None:
            rule["campaigns"].append(campaign)
            rule["associatedCampaigns"].append({"campaign": campaign, "associatedAt": at})

    def link(self, campaign: str, conversion: str) -> None:
        """Associate a campaign with a rule (idempotent)."""
        with self._lock:
            self._link(campaign, conversion, now_ms())

    def unlink(self, campaign: str, conversion: str) -> bool:
        """Remove an association; False when it did not exist."""
        with self._lock:
            if self._links.pop((campaign, conversion), None) is None:
                return False
            rule = self._rules.get(int(conversion.rpartition(":")[2]))
            if rule is not None:
                rule["campaigns"] = [c for c in rule["campaigns"] if c != campaign]
                rule["associatedCampaigns"] = [
                    a for a in rule["associatedCampaigns"] if a["campaign"] != campaign
                ]
            return True

    def get_link(self, campaign: str, conversion: str) -> dict[str, Any] | None:
        """The association entity, or None."""
        with self._lock:
            at = self._links.get((campaign, conversion))
        if at is None:
            return None
        return {"campaign": campaign, "conversion": conversion, "associatedAt": at}

    def campaign_links(self) -> list[dict[str, str]]:
        """All associations in creation order."""
        with self._lock:
            return [{"campaign": c, "conversion": v} for c, v in self._links]

    # ------------------------------------------------------------------ events
    def store_events(self, elements: Sequence[dict[str, Any]]) -> None:
        """Append accepted elements (each carries its rule URN in ``conversion``)."""
        with self._lock:
            self._events.extend(elements)
            self._events_by_rule.update(el["conversion"] for el in elements)
            self._accepted_requests += 1
        if len(elements) >= _FREEZE_AFTER:
            # Accepted events live until the emulator stops: keep the cyclic garbage
            # collector from re-scanning them (hundreds of thousands in a benchmark), so
            # the emulator answers as fast at the end of a long run as at its start.
            gc.freeze()

    def accepted_events(self, start: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        """Copies of accepted elements in arrival order (optionally a slice)."""
        with self._lock:
            end = None if limit is None else start + limit
            chunk = self._events[start:end]
        return [copy_json(e) for e in chunk]

    def accepted_count(self) -> int:
        """Number of accepted elements."""
        with self._lock:
            return len(self._events)

    # ------------------------------------------------------------------ request log
    def log_request(self, entry: dict[str, Any]) -> None:
        """Record one handled request (the entry is owned by the log from now on)."""
        status = entry.get("status")
        with self._lock:
            self._requests.append(entry)
            if status is None or status >= 400:
                self._rejected[str(status) if status is not None else "reset"] += 1

    def requests(self) -> list[dict[str, Any]]:
        """Copies of the request log entries, oldest first."""
        with self._lock:
            entries = list(self._requests)
        return [copy_json(e) for e in entries]

    def summary(self) -> dict[str, Any]:
        """Counters for scripts and assertions (JSON-serialisable)."""
        with self._lock:
            return {
                "accepted_events": len(self._events),
                "accepted_events_by_rule": dict(self._events_by_rule),
                "accepted_event_requests": self._accepted_requests,
                "rules_created": self._rules_created,
                "rule_updates": copy_json(self._rule_updates),
                "links": len(self._links),
                "rejected_requests": dict(self._rejected),
                "requests": len(self._requests),
                "faults_applied": self._faults_applied,
            }


def _public_account(account: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in account.items() if not k.startswith("_")}
