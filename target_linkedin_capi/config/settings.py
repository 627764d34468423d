"""The target's settings: the JSON schema users see, and the checked plan built from it.

Data flows one way: the raw config (already schema-validated by the SDK) becomes a frozen
`Settings` with one `RuleSpec` per conversion rule. Every cross-field check lives here and
raises `ConfigError` naming the setting, before any record is read or any call is made.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from singer_sdk import typing as th
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from target_linkedin_capi.config.links import LinkError, looks_like_link, parse_link
from target_linkedin_capi.errors import ConfigError
from target_linkedin_capi.events.fields import CANONICAL_FIELDS
from target_linkedin_capi.linkedin import vocabulary as linkedin
from target_linkedin_capi.linkedin.auth import unsendable_position
from target_linkedin_capi.plan.rules import RuleSpec

logger = logging.getLogger(__name__)

# Keys that describe one conversion rule; `conversion_rules` entries take the same keys.
RULE_KEYS = (
    "ad_account_id",
    "conversion_rule_id",
    "conversion_rule_name",
    "conversion_type",
    "attribution_type",
    "post_click_attribution_window_size",
    "view_through_attribution_window_size",
    "campaign_ids",
)
# A rule's identity is never inherited by `conversion_rules` entries from the top level:
# a top-level id or name declares the fallback rule for streams no entry matches.
IDENTITY_KEYS = ("conversion_rule_id", "conversion_rule_name")


# Ids are digits, often written unquoted in YAML: accept numbers as well as strings.
_ID = th.CustomType({"type": ["string", "integer"]})


def _rule_properties() -> list[th.Property]:
    return [
        th.Property(
            "ad_account_id",
            _ID,
            title="Ad account",
            description="LinkedIn ad account that owns the rule: `123` or "
            "`urn:li:sponsoredAccount:123`. Required (top level or in each rule entry).",
        ),
        th.Property(
            "conversion_rule_id",
            _ID,
            title="Conversion rule id",
            description="Existing Conversions-API rule to send to (numeric id or "
            "`urn:lla:llaPartnerConversion:<id>`). Verified at startup. When unset, the rule "
            "named conversion_rule_name is used.",
        ),
        th.Property(
            "conversion_rule_name",
            th.StringType,
            title="Conversion rule name",
            description="Rule name. Without an id, the enabled Conversions-API rule with "
            "exactly this name is used, or created if none exists.",
        ),
        th.Property(
            "conversion_type",
            th.StringType,
            title="Conversion type",
            allowed_values=list(linkedin.CONVERSION_TYPES),
            description="LinkedIn rule type, e.g. PURCHASE, LEAD, SIGN_UP. Needed to create a "
            "rule; MARKETING_QUALIFIED_LEAD and SALES_QUALIFIED_LEAD need api_version >= 202608.",
        ),
        th.Property(
            "attribution_type",
            th.StringType,
            title="Attribution type",
            allowed_values=list(linkedin.ATTRIBUTION_TYPES),
            description="LAST_TOUCH_BY_CAMPAIGN ('each campaign') or LAST_TOUCH_BY_CONVERSION "
            f"('single campaign'). A new rule gets {linkedin.DEFAULT_ATTRIBUTION_TYPE} "
            "when unset; an existing rule keeps its own.",
        ),
        th.Property(
            "post_click_attribution_window_size",
            th.IntegerType,
            title="Post-click window (days)",
            allowed_values=list(linkedin.POST_CLICK_WINDOWS),
            description="Days. 180 and 365 only for PURCHASE, ADD_TO_CART, LEAD, QUALIFIED_LEAD "
            "and SUBMIT_APPLICATION (180 also for MQL/SQL). A new rule gets "
            f"{linkedin.DEFAULT_POST_CLICK_WINDOW} when unset; an existing rule keeps its own.",
        ),
        th.Property(
            "view_through_attribution_window_size",
            th.IntegerType,
            title="View-through window (days)",
            allowed_values=list(linkedin.VIEW_THROUGH_WINDOWS),
            description=f"Days. A new rule gets {linkedin.DEFAULT_VIEW_THROUGH_WINDOW} when unset; "
            "an existing rule keeps its own.",
        ),
        th.Property(
            "campaign_ids",
            th.ArrayType(_ID),
            title="Campaigns",
            description="Campaigns to associate with the rule (ids or "
            "`urn:li:sponsoredCampaign:` URNs). Links are only ever added, never removed.",
        ),
    ]


def _mapping_properties() -> list[th.Property]:
    return [
        th.Property(
            "field_mappings",
            th.ObjectType(
                additional_properties=th.OneOf(th.StringType, th.ArrayType(th.StringType))
            ),
            title="Field mappings",
            description="Canonical field -> source path (dotted paths reach into nested "
            "objects, e.g. `customer.email`), or a list of paths tried in order, the first "
            "usable value winning (e.g. `[email, customer.email]`). Canonical fields: "
            f"{', '.join(CANONICAL_FIELDS)}. Unmapped fields are read from the record "
            "property of the same name.",
        ),
        th.Property(
            "field_defaults",
            th.ObjectType(),
            title="Field defaults",
            description="Canonical field -> constant used when the mapped value is absent or "
            'null, e.g. {"value_currency": "USD"}.',
        ),
    ]


CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "access_token",
        th.StringType,
        secret=True,
        title="Access token",
        description="OAuth access token (scopes rw_conversions and r_ads) or a Campaign "
        "Manager 'Direct API' token. Optional when refresh_token, client_id and client_secret "
        "are set.",
    ),
    th.Property(
        "refresh_token",
        th.StringType,
        secret=True,
        title="Refresh token",
        description="OAuth refresh token; with client_id and client_secret the target "
        "obtains a new access token when none is set or the current one is rejected (HTTP 401).",
    ),
    th.Property(
        "client_id",
        th.StringType,
        secret=True,
        title="OAuth client id",
        description="Client id of the LinkedIn developer app; used to refresh the access token.",
    ),
    th.Property(
        "client_secret",
        th.StringType,
        secret=True,
        title="OAuth client secret",
        description="Client secret of the LinkedIn developer app; used to refresh the access "
        "token.",
    ),
    th.Property(
        "refresh_token_path",
        th.StringType,
        title="Refresh token file",
        description="File where the target keeps the refresh token when LinkedIn issues a new "
        "one (written atomically, mode 0600; its folder is created with mode 0700). Whenever "
        "this file exists and is not empty, its token is used instead of refresh_token (a "
        "config file's age says nothing under Meltano, which writes it anew for every run); "
        "if LinkedIn refuses the file's token, the configured refresh_token is tried once.",
    ),
    th.Property(
        "api_version",
        th.StringType(pattern=r"^\d{6}(\.\d{2})?$"),
        default=linkedin.DEFAULT_API_VERSION,
        title="LinkedIn API version",
        description="`YYYYMM`, sent as LinkedIn-Version. LinkedIn sunsets each version about "
        "a year after release (HTTP 426 NONEXISTENT_VERSION); keep it current.",
    ),
    th.Property(
        "api_base_url",
        th.StringType,
        default=linkedin.DEFAULT_API_BASE_URL,
        title="API base URL",
        description="Every REST call goes below it. https:// unless the host is loopback "
        "(the bundled emulator, `linkedin-capi-emulator`, for tests without "
        "real conversions).",
    ),
    th.Property(
        "oauth_token_url",
        th.StringType,
        default=linkedin.DEFAULT_OAUTH_TOKEN_URL,
        title="OAuth token URL",
        description="Where refresh tokens are exchanged. https:// unless loopback.",
    ),
    *_rule_properties(),
    th.Property(
        "conversion_rules",
        th.ArrayType(
            th.ObjectType(
                *_rule_properties(),
                th.Property("streams", th.ArrayType(th.StringType)),
                *_mapping_properties(),
            )
        ),
        title="Conversion rules",
        description="Several rules in one run. Each entry takes the rule keys plus `streams` "
        '(stream names, shell-style globs, e.g. `["public-orders", "*-signups"]`) and '
        "optional field_mappings/field_defaults, merged key by key over the top-level ones. A "
        "stream feeds every entry whose globs match it; other streams go to the top-level "
        "rule, if one is configured.",
    ),
    *_mapping_properties(),
    th.Property(
        "batch_size_rows",
        th.IntegerType(minimum=1),
        default=linkedin.MAX_BATCH_ELEMENTS,
        title="Batch size",
        description="Records per batch; at most 5000 events go in one request.",
    ),
    th.Property(
        "dry_run",
        th.BooleanType,
        default=False,
        title="Dry run",
        description="Validate and build everything, read rules, send nothing and write "
        "nothing to LinkedIn. Combine with dry_run_output_path to inspect the payloads.",
    ),
    th.Property(
        "dry_run_output_path",
        th.StringType,
        title="Dry-run output",
        description="JSONL file: one line per request a dry run would have sent.",
    ),
    th.Property(
        "rejected_records_path",
        th.StringType,
        title="Rejected records file",
        description="JSONL file (0600): one line per rejected record with a reason code and "
        "message, its key values and event id (as they are, or HMACs with "
        "rejected_records_mask_keys); no other record value.",
    ),
    th.Property(
        "rejected_records_mask_keys",
        th.BooleanType,
        default=False,
        title="Mask keys in the rejected file",
        description="Write key values and event ids (the target's own `k-...` ids too) as "
        "HMAC-SHA-256 hex under rejected_records_mask_secret instead of as they are.",
    ),
    th.Property(
        "rejected_records_mask_secret",
        th.StringType,
        secret=True,
        title="Rejected-file masking secret",
        description="HMAC key for rejected_records_mask_keys (at least 16 characters). "
        "Find a row in SQL: encode(hmac(key::text, '<secret>', 'sha256'), 'hex').",
    ),
    th.Property(
        "max_rejected_ratio",
        th.NumberType(minimum=0, maximum=1),
        title="Maximum rejected share",
        description="Fail the run (exit 1) when more than this share of records was "
        "rejected. Unset: rejections never fail the run.",
    ),
    th.Property(
        "retry_max_attempts",
        th.IntegerType(minimum=1),
        default=8,
        title="Retry attempts",
        description="Attempts per request for HTTP 408, 429 and 5xx, connection resets and "
        "timeouts, with exponential backoff and jitter; Retry-After is honoured.",
    ),
    th.Property(
        "retry_max_wait_seconds",
        th.IntegerType(minimum=0),
        default=300,
        title="Retry time budget (s)",
        description="Total time one request may spend waiting between attempts.",
    ),
    th.Property(
        "rate_limit_per_minute",
        th.IntegerType(minimum=1),
        default=linkedin.DOCUMENTED_RATE_LIMIT_PER_MINUTE,
        title="Requests per minute",
        description="Client-side limit shared by all streams; LinkedIn documents 600 per "
        "minute per token.",
    ),
    th.Property(
        "connect_timeout_seconds",
        th.NumberType(minimum=0.1),  # type: ignore[arg-type]  # typed int in the SDK; JSON Schema takes any number
        default=10,
        title="Connect timeout (s)",
        description="TCP connect timeout of each HTTP request.",
    ),
    th.Property(
        "read_timeout_seconds",
        th.NumberType(minimum=0.1),  # type: ignore[arg-type]  # typed int in the SDK; JSON Schema takes any number
        default=30,
        title="Read timeout (s)",
        description="Read timeout of each HTTP request.",
    ),
    th.Property(
        "run_report_path",
        th.StringType,
        title="Run report file",
        description="JSON file (0600) written at the end of every run, also after a fatal "
        "error: status, error, times, records read, requests, retries, throttled answers and "
        "per rule the counts, rejection reasons, identifier coverage and value totals; no "
        "personal data. Replaced atomically each run.",
    ),
    th.Property(
        "progress_interval_seconds",
        th.NumberType(minimum=0.01),  # type: ignore[arg-type]  # typed int in the SDK; JSON Schema takes any number
        default=30,
        title="Progress interval (s)",
        description="On runs longer than this, one INFO line per interval: records read, "
        "events sent, accepted, rejected and in flight, events per second.",
    ),
    th.Property(
        "state_flush_interval_seconds",
        th.NumberType(minimum=0),
        default=10,
        title="Checkpoint interval (s)",
        description="On a STATE message, send pending events and emit the state once they "
        "are delivered, at most once per interval (0: at every STATE).",
    ),
    th.Property(
        "max_inflight_batches",
        th.IntegerType(minimum=1, maximum=32),
        default=6,
        title="Requests in flight",
        description="Batches sent concurrently while the target reads on (1 to 32).",
    ),
    th.Property(
        "ledger_enabled",
        th.BooleanType,
        default=True,
        title="Delivery ledger",
        description="Remember each (rule, eventId) LinkedIn accepted and never send it again, "
        "in this run or a later one (LinkedIn does not deduplicate). Off: events sent "
        "before are sent, and counted, again.",
    ),
    th.Property(
        "ledger_url",
        th.StringType,
        secret=True,
        title="Ledger database URL",
        description="Where the ledger lives: sqlite:///path/to/ledger.db or "
        "postgresql://user:password@host:5432/database (share one between machines). "
        "Unset: the SQLite file .linkedin-capi/ledger.sqlite3 in the working directory "
        "(the Meltano project root).",
    ),
    th.Property(
        "ledger_schema",
        th.StringType,
        title="Ledger schema",
        description="PostgreSQL schema of the ledger's tables (created if missing). Unset: "
        "the connection's current schema, normally public.",
    ),
).to_dict()

# Settings with `allowed_values` are checked by `parse_settings`, not by the SDK: a JSON-schema
# `enum` would make the SDK refuse `purchase` (case) and answer a typo in its own words before
# the parser runs. The values stay in the schema (and in `--about`) under this annotation.
ALLOWED_VALUES = "x-allowed-values"


def _enum_as_annotation(schema: dict[str, Any]) -> None:
    for prop in schema.get("properties", {}).values():
        if "enum" in prop:
            prop[ALLOWED_VALUES] = prop.pop("enum")
        _enum_as_annotation(prop)
        if isinstance(prop.get("items"), dict):
            _enum_as_annotation(prop["items"])


_enum_as_annotation(CONFIG_SCHEMA)


def default_of(name: str) -> Any:
    """The schema's default of a top-level setting: defaults are declared there only."""
    return CONFIG_SCHEMA["properties"][name]["default"]


def allowed_values_of(name: str) -> tuple[Any, ...]:
    """The allowed values the schema declares for a setting (rule keys: the top-level one)."""
    return tuple(CONFIG_SCHEMA["properties"][name][ALLOWED_VALUES])


@dataclass(frozen=True)
class Settings:
    """Everything the run needs, checked and normalised."""

    access_token: str | None
    refresh_token: str | None
    client_id: str | None
    client_secret: str | None
    refresh_token_path: str | None
    api_version: str
    api_base_url: str
    oauth_token_url: str
    rules: tuple[RuleSpec, ...]
    batch_size: int
    dry_run: bool
    dry_run_output_path: str | None
    rejected_records_path: str | None
    max_rejected_ratio: float | None
    retry_max_attempts: int
    retry_max_wait_seconds: float
    rate_limit_per_minute: int
    connect_timeout: float
    read_timeout: float
    state_flush_interval: float
    max_inflight_batches: int
    run_report_path: str | None = None
    progress_interval: float = 30.0
    ledger_enabled: bool = True
    # May hold a password: kept out of repr, and its password is among `secrets`.
    ledger_url: str | None = field(default=None, repr=False)
    ledger_schema: str | None = None
    secrets: tuple[str, ...] = field(default=(), repr=False)
    # Set only when rejected_records_mask_keys is on: key values are then written as HMACs.
    rejected_records_mask_secret: str | None = field(default=None, repr=False)

    @property
    def api_version_number(self) -> int:
        return int(self.api_version[:6])

    @property
    def can_refresh(self) -> bool:
        return bool(self.refresh_token and self.client_id and self.client_secret)

    def rules_for(self, stream_name: str) -> list[RuleSpec]:
        """The rules a stream feeds: every matching entry, else the fallback rule."""
        matched = [rule for rule in self.rules if rule.matches(stream_name)]
        if matched:
            return matched
        return [rule for rule in self.rules if rule.streams is None]

    def __repr__(self) -> str:  # never print secrets, even by accident
        return f"Settings(api_base_url={self.api_base_url!r}, rules={len(self.rules)})"


def _present(value: object) -> bool:
    return value is not None and value != "" and value != []


def _value(config: Mapping[str, Any], name: str) -> Any:
    """The configured value of a setting; its schema default when unset, null or empty."""
    value = config.get(name)
    return value if _present(value) else default_of(name)


def _secret(config: Mapping[str, Any], key: str) -> str | None:
    """A credential without surrounding whitespace (a file read by `$(cat ...)` ends in a
    newline); one that still holds a character no HTTP header or form can carry as typed is
    refused, naming only the position: the value itself must never be echoed."""
    value = config.get(key)
    if value is None:
        return None
    value = str(value).strip()
    position = unsendable_position(value)
    if position is not None:
        raise ConfigError(
            key,
            f"contains a space, control or non-ASCII character at position {position + 1} "
            f"(of {len(value)}); copy the value again without line breaks or other characters "
            "around or inside it",
        )
    return value or None


# What a URL may not hold: each of these lets the text mean one host to a reader (or an
# earlier check) and another to the HTTP library, or hides part of it.
_URL_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u2060\ufeff]")


def _check_url(setting: str, url: str, *, allow_query: bool = True) -> str:
    """The URL as configured, after checking the host exactly as requests will connect to it.

    requests (through urllib3) parses URLs with `urllib3.util.parse_url`, which differs from
    `urllib.parse` on backslashes and `@`: `http://10.0.0.1\\@127.0.0.1/` connects to
    10.0.0.1. The same parser is used here, and anything ambiguous is refused outright.
    """
    if _URL_CONTROL.search(url):
        raise ConfigError(setting, "contains whitespace or control characters; remove them")
    if "\\" in url:
        raise ConfigError(setting, "contains a backslash; write the URL with / only")
    try:
        parts = parse_url(url)
    except LocationParseError:
        parts = None
    # The URL is not echoed: a malformed one may hold a password or a token.
    if parts is None or parts.scheme not in ("http", "https") or not parts.host:
        raise ConfigError(setting, "is not an http(s) URL (expected https://host/path)")
    if parts.auth is not None:
        raise ConfigError(
            setting,
            "must not contain a user name or password (user@host); tokens go in the "
            "token settings, and the host must be unambiguous",
        )
    if parts.fragment is not None or "#" in url:
        raise ConfigError(setting, "must not contain a fragment (#...)")
    if not allow_query and (parts.query is not None or "?" in url):
        raise ConfigError(
            setting, "must not contain a query (?...): request paths are appended to it"
        )
    if parts.scheme == "http" and not _is_loopback(parts.host):
        raise ConfigError(
            setting,
            "must use https:// (plain http is only allowed for a loopback host such as the "
            "bundled emulator), so that tokens are never sent in plaintext",
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    host = host.lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False


def _check_api_version(version: str) -> str:
    # The SDK checks the schema's pattern too, but only when it validates the config.
    if not re.match(CONFIG_SCHEMA["properties"]["api_version"]["pattern"], version):
        raise ConfigError(
            "api_version", f"'{version}' is not a LinkedIn version (YYYYMM, e.g. 202609)"
        )
    month = int(version[4:6])
    if not 1 <= month <= 12:
        raise ConfigError("api_version", f"'{version}' is not a YYYYMM month")
    today = datetime.now(timezone.utc)
    age_months = (today.year - int(version[:4])) * 12 + today.month - month
    if age_months >= 12:
        logger.warning(
            "api_version %s is about %d months old; LinkedIn sunsets versions after a year "
            "(426 NONEXISTENT_VERSION). Set a current one, e.g. %s.",
            version,
            age_months,
            default_of("api_version"),
        )
    if age_months < 0:
        raise ConfigError("api_version", f"'{version}' lies in the future")
    return version


def _choice(setting: str, where: str, raw: object) -> Any:
    """`raw` as one of the schema's allowed values of `setting` (text in any case)."""
    allowed = allowed_values_of(setting)
    listed = ", ".join(str(value) for value in allowed)
    if isinstance(allowed[0], int):
        try:
            value: Any = int(str(raw).strip())
        except ValueError:
            value = None
    else:
        value = str(raw).strip().upper()
    if value not in allowed:
        raise ConfigError(where, f"'{raw}' is not allowed; use one of {listed}")
    return value


def _check_fields(setting: str, values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - set(CANONICAL_FIELDS))
    if unknown:
        raise ConfigError(
            f"{setting}.{unknown[0]}",
            f"unknown field; expected one of {', '.join(CANONICAL_FIELDS)}",
        )
    return dict(values)


def _check_mappings(setting: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Each mapping as one path (str) or its fallback paths (a tuple of two or more)."""
    mappings: dict[str, Any] = {}
    for field_name, mapping in _check_fields(setting, values).items():
        paths = [mapping] if isinstance(mapping, str) else mapping
        if not isinstance(paths, list) or not paths:
            raise ConfigError(
                f"{setting}.{field_name}", "must be a source path or a non-empty list of paths"
            )
        for path in paths:
            if not isinstance(path, str) or not path.strip():
                raise ConfigError(
                    f"{setting}.{field_name}", "every path must be a non-empty string"
                )
        mappings[field_name] = paths[0] if len(paths) == 1 else tuple(paths)
    return mappings


def _rule_spec(
    where: str,
    merged: Mapping[str, Any],
    explicit: set[str],
    api_version: int,
    streams: tuple[str, ...] | None,
    field_mappings: Mapping[str, str | tuple[str, ...]],
    field_defaults: Mapping[str, Any],
) -> RuleSpec:
    def name_of(key: str) -> str:
        return f"{where}.{key}" if where else key

    raw_account = merged.get("ad_account_id")
    raw_rule = merged.get("conversion_rule_id")
    raw_campaigns = merged.get("campaign_ids") or []
    if not _present(raw_account) and not any(
        looks_like_link(value) for value in (raw_rule, *raw_campaigns)
    ):
        raise ConfigError(name_of("ad_account_id"), "is required (the rule's ad account)")
    # (setting, account) for every link given: each must agree with ad_account_id.
    linked: list[tuple[str, str]] = []
    account = None
    if _present(raw_account):
        if looks_like_link(raw_account):
            account = _from_link(name_of("ad_account_id"), str(raw_account), "account", linked)
        else:
            account = linkedin.account_id(raw_account)
        if account is None:
            raise ConfigError(
                name_of("ad_account_id"),
                f"'{raw_account}' is not an account id (`123`, `urn:li:sponsoredAccount:123` "
                "or a Campaign Manager link)",
            )

    rule_id = None
    if _present(raw_rule):
        if looks_like_link(raw_rule):
            rule_id = _from_link(name_of("conversion_rule_id"), str(raw_rule), "conversion", linked)
        else:
            rule_id = linkedin.rule_id(raw_rule)
        if rule_id is None:
            raise ConfigError(
                name_of("conversion_rule_id"),
                f"'{raw_rule}' is not a rule id (digits, "
                "`urn:lla:llaPartnerConversion:<id>` or a Campaign Manager link)",
            )
    name = merged.get("conversion_rule_name") or None
    if name is not None and not str(name).strip():
        name = None
    if rule_id is None and name is None:
        raise ConfigError(
            name_of("conversion_rule_id"),
            "no rule: set conversion_rule_id (an existing rule) or conversion_rule_name "
            "(found or created at startup)",
        )

    conversion_type = merged.get("conversion_type") or None
    if conversion_type is not None:
        conversion_type = _choice("conversion_type", name_of("conversion_type"), conversion_type)
        needed = linkedin.TYPE_MIN_API_VERSION.get(conversion_type)
        if needed and api_version < needed:
            raise ConfigError(
                name_of("conversion_type"),
                f"{conversion_type} needs api_version {needed} or newer (configured: "
                f"{api_version})",
            )
    elif rule_id is None:
        raise ConfigError(
            name_of("conversion_type"),
            "is required to create the rule named by conversion_rule_name",
        )

    # A new rule's defaults live in the vocabulary, not as schema defaults: the SDK writes
    # schema defaults into the config, and a rule key that looks set would be imposed on an
    # existing rule at startup.
    attribution = _choice(
        "attribution_type",
        name_of("attribution_type"),
        merged.get("attribution_type") or linkedin.DEFAULT_ATTRIBUTION_TYPE,
    )

    post_click = merged.get("post_click_attribution_window_size")
    post_click = _choice(
        "post_click_attribution_window_size",
        name_of("post_click_attribution_window_size"),
        linkedin.DEFAULT_POST_CLICK_WINDOW if post_click is None else post_click,
    )
    long_types = linkedin.LONG_WINDOW_TYPES if post_click == 365 else linkedin.WINDOW_180_TYPES
    if post_click in (180, 365) and conversion_type not in long_types:
        raise ConfigError(
            name_of("post_click_attribution_window_size"),
            f"{post_click} days is only allowed for conversion types "
            f"{', '.join(sorted(long_types))} (conversion_type is {conversion_type})",
        )
    view_through = merged.get("view_through_attribution_window_size")
    view_through = _choice(
        "view_through_attribution_window_size",
        name_of("view_through_attribution_window_size"),
        linkedin.DEFAULT_VIEW_THROUGH_WINDOW if view_through is None else view_through,
    )

    campaigns: list[str] = []
    for raw in raw_campaigns:
        campaign: str | None
        if looks_like_link(raw):
            campaign = _from_link(name_of("campaign_ids"), raw, "campaign", linked)
        else:
            campaign = linkedin.campaign_id(raw)
        if campaign is None:
            raise ConfigError(
                name_of("campaign_ids"),
                f"'{raw}' is not a campaign id (`123`, `urn:li:sponsoredCampaign:123` or a "
                "Campaign Manager link)",
            )
        if campaign not in campaigns:
            campaigns.append(campaign)
    account = _linked_account(name_of("ad_account_id"), account, linked)

    label = f"rule {rule_id}" if rule_id else f"rule '{name}'"
    return RuleSpec(
        label=label,
        account_id=account,
        rule_id=rule_id,
        name=str(name) if name is not None else None,
        conversion_type=conversion_type,
        attribution_type=attribution,
        post_click_window=post_click,
        view_through_window=view_through,
        campaign_ids=tuple(campaigns),
        streams=streams,
        field_mappings=field_mappings,
        field_defaults=field_defaults,
        explicit=frozenset(
            key for key in explicit if key in RULE_KEYS and key not in IDENTITY_KEYS
        ),
    )


def _from_link(setting: str, raw: str, kind: str, linked: list[tuple[str, str]]) -> str:
    """The id of `kind` a Campaign Manager link names; remembers the link's account."""
    try:
        link = parse_link(raw)
    except LinkError as exc:
        raise ConfigError(setting, f"the link {exc}") from None
    value = getattr(link, kind)
    if value is None:
        what = {"campaign": "a campaign", "conversion": "a conversion rule"}[kind]
        raise ConfigError(
            setting,
            f"the link does not name {what}; open it in Campaign Manager and copy the link "
            f"of its page (.../accounts/<account>/{kind}s/<id>)",
        )
    linked.append((setting, link.account))
    return value


def _linked_account(setting: str, account: str | None, linked: list[tuple[str, str]]) -> str:
    """The rule's account: ad_account_id, else the links'; every link must agree with it."""
    source = setting
    for where, link_account in linked:
        if account is None:
            account, source = link_account, where  # a link without ad_account_id sets it
        elif link_account != account:
            raise ConfigError(
                where,
                f"the link is for ad account {link_account}, but {source} is for ad account "
                f"{account}; use a link of account {account} or change {source}",
            )
    if account is None:  # unreachable: a link was given, or the check above raised
        raise ConfigError(setting, "is required (the rule's ad account)")
    return account


def parse_settings(config: Mapping[str, Any], *, with_rules: bool = True) -> Settings:
    """Check the whole config and build the run's `Settings`; raises `ConfigError`.

    `with_rules=False` (lookups such as `--list accounts`, run before the rule is known)
    leaves the rule settings unchecked and `rules` empty.
    """
    raw_version = config.get("api_version")
    api_version = _check_api_version(
        default_of("api_version") if raw_version is None else str(raw_version).strip()
    )
    api_version_number = int(api_version[:6])

    access_token = _secret(config, "access_token")
    refresh_parts = [
        _secret(config, key) for key in ("refresh_token", "client_id", "client_secret")
    ]
    if any(refresh_parts) and not all(refresh_parts):
        missing = [
            key
            for key, value in zip(
                ("refresh_token", "client_id", "client_secret"), refresh_parts, strict=True
            )
            if not value
        ]
        raise ConfigError(
            missing[0], "refresh needs refresh_token, client_id and client_secret together"
        )
    if not access_token and not all(refresh_parts):
        raise ConfigError(
            "access_token",
            "no credentials: set access_token (OAuth token with rw_conversions and r_ads, or a "
            "Campaign Manager Direct API token), or refresh_token + client_id + client_secret",
        )
    refresh_token_path = str(config.get("refresh_token_path") or "").strip() or None
    if refresh_token_path and not all(refresh_parts):
        raise ConfigError(
            "refresh_token_path",
            "is only used with refresh_token, client_id and client_secret; set those too",
        )

    batch_size = int(_value(config, "batch_size_rows"))
    if batch_size > linkedin.MAX_BATCH_ELEMENTS:
        raise ConfigError(
            "batch_size_rows", f"{batch_size} is over LinkedIn's limit of 5000 events per request"
        )

    top_mappings = _check_mappings("field_mappings", config.get("field_mappings") or {})
    top_defaults = _check_fields("field_defaults", config.get("field_defaults") or {})
    top_explicit = {key for key in RULE_KEYS if _present(config.get(key))}

    rules: list[RuleSpec] = []
    entries = (config.get("conversion_rules") or []) if with_rules else []
    for index, entry in enumerate(entries):
        where = f"conversion_rules[{index}]"
        entry_streams = entry.get("streams")
        if not entry_streams:
            raise ConfigError(f"{where}.streams", "list the streams (globs) that feed this rule")
        merged = {k: v for k, v in config.items() if k in RULE_KEYS and k not in IDENTITY_KEYS}
        merged.update({k: v for k, v in entry.items() if k in RULE_KEYS and _present(v)})
        explicit = (top_explicit - set(IDENTITY_KEYS)) | {
            k for k in RULE_KEYS if _present(entry.get(k))
        }
        mappings = {
            **top_mappings,
            **_check_mappings(f"{where}.field_mappings", entry.get("field_mappings") or {}),
        }
        defaults = {
            **top_defaults,
            **_check_fields(f"{where}.field_defaults", entry.get("field_defaults") or {}),
        }
        rules.append(
            _rule_spec(
                where, merged, explicit, api_version_number,
                tuple(str(s) for s in entry_streams), mappings, defaults,
            )
        )  # fmt: skip

    if with_rules and (not entries or any(_present(config.get(key)) for key in IDENTITY_KEYS)):
        rules.append(
            _rule_spec(
                "", config, top_explicit, api_version_number, None, top_mappings, top_defaults
            )
        )

    mask_secret = _rejected_records_mask_secret(config)
    ledger_url = str(config.get("ledger_url") or "").strip() or None
    if ledger_url is not None:
        authority = ledger_url.partition("://")[2].partition("/")[0]
        if authority.count("@") > 1:
            # Parsers would take part of the password for the host and show it in errors.
            raise ConfigError(
                "ledger_url",
                "holds more than one '@' before the host: percent-encode an '@' in the user "
                "name or password as %40 (the URL is not shown: it holds a password)",
            )
    ledger_schema = str(config.get("ledger_schema") or "").strip() or None
    if ledger_schema and not ledger_url:
        raise ConfigError(
            "ledger_schema",
            "only applies to a PostgreSQL ledger; set ledger_url to a postgresql:// URL or "
            "remove ledger_schema",
        )
    secrets = tuple(
        str(value)
        for value in (access_token, *refresh_parts, mask_secret, _url_password(ledger_url))
        if value
    )
    max_ratio = config.get("max_rejected_ratio")
    return Settings(
        access_token=access_token,
        refresh_token=refresh_parts[0],
        client_id=refresh_parts[1],
        client_secret=refresh_parts[2],
        refresh_token_path=refresh_token_path,
        api_version=api_version,
        api_base_url=_check_url("api_base_url", str(_value(config, "api_base_url")), allow_query=False),
        oauth_token_url=_check_url("oauth_token_url", str(_value(config, "oauth_token_url"))),
        rules=tuple(rules),
        batch_size=batch_size,
        dry_run=bool(_value(config, "dry_run")),
        dry_run_output_path=config.get("dry_run_output_path") or None,
        rejected_records_path=config.get("rejected_records_path") or None,
        max_rejected_ratio=None if max_ratio is None else float(max_ratio),
        retry_max_attempts=int(_value(config, "retry_max_attempts")),
        retry_max_wait_seconds=float(_value(config, "retry_max_wait_seconds")),
        rate_limit_per_minute=int(_value(config, "rate_limit_per_minute")),
        connect_timeout=float(_value(config, "connect_timeout_seconds")),
        read_timeout=float(_value(config, "read_timeout_seconds")),
        state_flush_interval=float(_value(config, "state_flush_interval_seconds")),
        max_inflight_batches=int(_value(config, "max_inflight_batches")),
        run_report_path=str(config.get("run_report_path") or "").strip() or None,
        progress_interval=float(_value(config, "progress_interval_seconds")),
        ledger_enabled=bool(_value(config, "ledger_enabled")),
        ledger_url=ledger_url,
        ledger_schema=ledger_schema,
        secrets=secrets,
        rejected_records_mask_secret=mask_secret,
    )  # fmt: skip


def _url_password(url: str | None) -> str | None:
    """The password in a ledger URL, so that logs mask it wherever it might appear."""
    if not url:
        return None
    # Imported here: only a configured ledger_url needs SQLAlchemy, and loading it is slow.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).password or None
    except (ArgumentError, ValueError):
        return None  # opening the ledger reports the URL as unreadable, never showing it


# Shorter HMAC keys could be guessed by trying them against a key the reader knows.
_MIN_MASK_SECRET_LENGTH = 16


def _rejected_records_mask_secret(config: Mapping[str, Any]) -> str | None:
    """The HMAC key when masking is on (checked), else None (the secret is then unused)."""
    if not config.get("rejected_records_mask_keys"):
        return None
    secret = config.get("rejected_records_mask_secret")
    if not isinstance(secret, str) or not secret:
        raise ConfigError(
            "rejected_records_mask_secret",
            "is required when rejected_records_mask_keys is true (the HMAC key the key "
            "values are masked with); set a random string of at least 16 characters",
        )
    if len(secret) < _MIN_MASK_SECRET_LENGTH:
        raise ConfigError(
            "rejected_records_mask_secret",
            f"is too short ({len(secret)} characters); use a random string of at least "
            f"{_MIN_MASK_SECRET_LENGTH} characters",
        )
    return secret


def schema_problems(config: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """What breaks the settings' JSON schema, one line per problem, never quoting a value.

    A value given with the wrong type may be a token or a password put in the wrong shape
    (an object, a number): the line names the setting and the rule it breaks, not the value.
    """
    from jsonschema import Draft7Validator  # the SDK's own dependency

    problems = []
    errors = Draft7Validator(dict(schema)).iter_errors(dict(config))
    for error in sorted(errors, key=lambda e: [str(part) for part in e.absolute_path]):
        where = ".".join(str(part) for part in error.absolute_path) or "config"
        rule, expected = error.validator, error.validator_value
        if rule == "required":
            problems.append(f"{where}: a required setting is missing")
        elif rule == "type":
            kinds = expected if isinstance(expected, list) else [expected]
            problems.append(f"{where}: must be {' or '.join(map(str, kinds))}")
        elif rule in ("minimum", "exclusiveMinimum"):
            problems.append(f"{where}: must be at least {expected}")
        elif rule in ("maximum", "exclusiveMaximum"):
            problems.append(f"{where}: must be at most {expected}")
        else:
            problems.append(f"{where}: does not match the setting's {rule!r} rule")
    return problems or ["the configuration does not match the settings' schema"]
