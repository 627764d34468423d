"""Record -> LinkedIn conversion event: field paths, defaults, normalisation, validation.

One `EventMapper` per (rule, stream), compiled once so that the per-record work is plain
dictionary look-ups and the normalisers in `normalize.py`. A record either becomes an event
(possibly with unusable identifiers dropped and counted) or a `Rejection` with a stable
reason code and a message a person understands.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from target_linkedin_capi.events import normalize
from target_linkedin_capi.events.fields import CANONICAL_FIELDS, PASSTHROUGH_ID_TYPES
from target_linkedin_capi.events.normalize import Invalid
from target_linkedin_capi.linkedin import vocabulary as linkedin
from target_linkedin_capi.plan.rules import RuleSpec

_DAY_MS = 86_400_000
# Stay a little inside LinkedIn's 90 days: LinkedIn checks with its own clock, seconds or
# minutes after we do, and one late element would fail its whole batch.
_WINDOW_MARGIN_MS = 10 * 60 * 1000
_ABSENT = "\x00absent"  # a key no record has: the field cannot have a value
# `EventMapper.map` unpacks the field values in this order.
_FIELD_ORDER = (
    "timestamp", "event_id", "value_amount", "value_currency", "email",
    "linkedin_first_party_ads_tracking_uuid", "acxiom_id", "oracle_moat_id", "ip_address",
    "google_aid", "first_name", "last_name", "company_name", "title", "country_code",
    "external_id", "lead_id",
)  # fmt: skip
if CANONICAL_FIELDS != _FIELD_ORDER:  # pragma: no cover - a guard for whoever edits fields.py
    raise ImportError("fields.CANONICAL_FIELDS changed: update EventMapper.map's unpacking")

Getter = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a record produced no event for a rule."""

    reason: str
    field: str | None
    message: str


def _path_getter(path: str) -> Getter:
    parts = tuple(path.split("."))
    if len(parts) == 1:
        key = parts[0]
        return lambda record: record.get(key)

    def get(record: Mapping[str, Any]) -> Any:
        value: Any = record
        for part in parts:
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value

    return get


class EventMapper:
    """Builds LinkedIn events for one rule from the records of one stream.

    Compiled once: a canonical field that is neither mapped, defaulted nor a property of
    the stream's schema can never have a value, so it gets no getter at all. That keeps
    the per-record work to the fields the stream actually carries.
    """

    def __init__(
        self,
        rule: RuleSpec,
        conversion_urn: str,
        label: str,
        stream_name: str,
        key_properties: Sequence[str],
        api_version: int,
        notes: Counter[str],
        schema_properties: Collection[str] | None = None,
    ) -> None:
        self.rule = rule
        self.conversion_urn = conversion_urn
        self.label = label
        self.stream_name = stream_name
        self.key_properties = tuple(key_properties)
        self.notes = notes  # counts of dropped identifiers etc., shared per rule
        self.api_version = api_version

        # Per canonical field (in CANONICAL_FIELDS order): the record key to read (a key no
        # record has when the field cannot have a value), dotted-path getters, defaults.
        keys: list[str] = []
        self._dotted: list[tuple[int, Getter]] = []
        self._defaults: list[tuple[int, Any]] = []
        for index, name in enumerate(CANONICAL_FIELDS):
            path = rule.field_mappings.get(name)
            if path is None and (schema_properties is None or name in schema_properties):
                path = name  # unmapped: the property of the same name
            if path is not None and "." in path:
                self._dotted.append((index, _path_getter(path)))
            keys.append(path if path is not None and "." not in path else _ABSENT)
            default = rule.field_defaults.get(name)
            if default is not None:
                self._defaults.append((index, default))
        self._keys = tuple(keys)
        self._index = {name: index for index, name in enumerate(CANONICAL_FIELDS)}
        self._passthrough = tuple(
            (self._index[name], id_type)
            for name, id_type in PASSTHROUGH_ID_TYPES
            if self.reads(name)
        )
        self._event_id_mapped = "event_id" in rule.field_mappings
        self._currency_defaulted = rule.field_defaults.get("value_currency") is not None
        self._key_prefix = stream_name + "\x1f"

    def reads(self, name: str) -> bool:
        """Whether the field can have a value for this stream (mapped, present or defaulted)."""
        index = self._index[name]
        return (
            self._keys[index] != _ABSENT
            or any(i == index for i, _ in self._dotted)
            or any(i == index for i, _ in self._defaults)
        )

    def values(self, record: Mapping[str, Any]) -> list[Any]:
        """The raw value of every canonical field, defaults applied, in field order."""
        get = record.get
        values = [get(key) for key in self._keys]
        for index, getter in self._dotted:
            values[index] = getter(record)
        for index, default in self._defaults:
            if values[index] is None or values[index] == "":
                values[index] = default
        return values

    def value(self, name: str, record: Mapping[str, Any]) -> Any:
        return self.values(record)[self._index[name]]

    def derived_event_id(self, record: Mapping[str, Any]) -> str | None:
        """Stable across runs for the same stream and key, so replays carry the same id.

        Built from the values' text: the same key gives the same id whatever type the tap
        used for it (1, Decimal("1") and "1" alike).
        """
        keys = self.key_properties
        if not keys:
            return None
        if len(keys) == 1:
            key = f"{self._key_prefix}{record.get(keys[0])}"
        else:
            key = self._key_prefix + "\x1f".join(str(value) for value in map(record.get, keys))
        return "k-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]

    def event_id_of(self, record: Mapping[str, Any], raw: Any = _ABSENT) -> str | None:
        """The event id the record carries (mapped, or derived from its key)."""
        event_id = normalize.text(self.value("event_id", record) if raw is _ABSENT else raw)
        if event_id is None and not self._event_id_mapped:
            return self.derived_event_id(record)
        return event_id

    def map(self, record: Mapping[str, Any]) -> dict[str, Any] | Rejection:
        """The LinkedIn event for `record`, or why there is none."""
        notes = self.notes
        text = normalize.text
        values = self.values(record)
        (
            raw_timestamp, raw_event_id, raw_amount, raw_currency, raw_email, _fat,
            _acxiom, _oracle, raw_ip, _gaid, raw_first, raw_last, raw_company,
            raw_title, raw_country, raw_external, raw_lead,
        ) = values  # fmt: skip

        # conversionHappenedAt: inside LinkedIn's window, or LinkedIn fails the whole batch.
        try:
            happened_at = normalize.epoch_ms(raw_timestamp)
        except Invalid as exc:
            return Rejection(exc.reason, "timestamp", exc.message)
        now_ms = int(time.time() * 1000)
        if happened_at > now_ms:
            return Rejection(
                "timestamp_in_future", "timestamp", "timestamp is in the future; LinkedIn "
                "only accepts conversions that already happened",
            )  # fmt: skip
        if happened_at < now_ms - linkedin.EVENT_MAX_AGE_DAYS * _DAY_MS + _WINDOW_MARGIN_MS:
            return Rejection(
                "timestamp_too_old", "timestamp", "timestamp is older than LinkedIn's 90-day "
                "window for conversion events",
            )  # fmt: skip

        # conversionValue: both parts or none.
        try:
            amount = normalize.amount(raw_amount)
            currency = normalize.currency(raw_currency)
        except Invalid as exc:
            field = "value_currency" if exc.reason.startswith("currency") else "value_amount"
            return Rejection(exc.reason, field, exc.message)
        value = None
        if amount is not None:
            if currency is None:
                return Rejection(
                    "currency_missing", "value_currency", "value_amount is set but there is "
                    "no currency; map value_currency or set field_defaults.value_currency",
                )  # fmt: skip
            value = {"currencyCode": currency, "amount": amount}
        elif currency is not None and not self._currency_defaulted:
            notes["currency_without_amount"] += 1

        # user: identifiers, each dropped (and counted) when unusable.
        user_ids: list[dict[str, str]] = []
        if raw_email is not None:
            hashed = normalize.email_hash(raw_email)
            if hashed is not None:
                user_ids.append({"idType": "SHA256_EMAIL", "idValue": hashed})
            elif text(raw_email) is not None:
                notes["email_unusable_dropped"] += 1
        for index, id_type in self._passthrough:  # ids sent as they are, when present
            raw = values[index]
            if raw is not None:
                id_value = text(raw)
                if id_value is not None:
                    user_ids.append({"idType": id_type, "idValue": id_value})
        if raw_ip is not None:
            ip = normalize.ip_identifier(raw_ip)
            if ip is not None:
                user_ids.append({"idType": ip[0], "idValue": ip[1]})
            elif text(raw_ip) is not None:
                notes["ip_address_unusable_dropped"] += 1

        user: dict[str, Any] = {"userIds": user_ids}
        identified = bool(user_ids)

        first = text(raw_first)
        last = text(raw_last)
        if first and last:
            info: dict[str, str] = {}
            # From 202609 LinkedIn takes SHA-256 names (hashedFirstName/hashedLastName); a
            # name that already is a 64-hex hash goes there instead of being sent as text.
            hashed_ok = self.api_version >= 202609
            for key, name in (("FirstName", first), ("LastName", last)):
                if hashed_ok and len(name) == 64 and normalize.is_sha256_hex(name):
                    info[f"hashed{key}"] = name.lower()
                else:
                    info[key[0].lower() + key[1:]] = name
            company = text(raw_company)
            if company:
                info["companyName"] = company
            title = text(raw_title)
            if title:
                info["title"] = title
            if raw_country is not None:
                country = normalize.country_code(raw_country)
                if country:
                    info["countryCode"] = country
                elif text(raw_country) is not None:
                    notes["country_code_unusable_dropped"] += 1
            user["userInfo"] = info
            identified = True
        elif first or last:
            notes["user_info_incomplete_dropped"] += 1

        external = text(raw_external)
        if external is not None:
            user["externalIds"] = [external]  # LinkedIn uses one
            identified = True

        if raw_lead is not None:
            lead = normalize.lead_urn(raw_lead)
            if lead is not None:
                user["lead"] = lead
                identified = True
            elif text(raw_lead) is not None:
                notes["lead_id_unusable_dropped"] += 1

        if not identified:
            return Rejection(
                "no_identifier", None, "no usable identifier: needs an email, another user id, "
                "first and last name, an external id or a lead id",
            )  # fmt: skip

        event: dict[str, Any] = {
            "conversion": self.conversion_urn,
            "conversionHappenedAt": happened_at,
        }
        if value is not None:
            event["conversionValue"] = value
        event_id = self.event_id_of(record, raw_event_id)
        if event_id is not None:
            event["eventId"] = event_id
        event["user"] = user
        return event
