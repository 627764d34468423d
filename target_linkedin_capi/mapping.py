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

from target_linkedin_capi import linkedin, normalize
from target_linkedin_capi.fields import CANONICAL_FIELDS, PASSTHROUGH_ID_TYPES
from target_linkedin_capi.normalize import Invalid
from target_linkedin_capi.settings import RuleSpec

_DAY_MS = 86_400_000
# Stay a little inside LinkedIn's 90 days: LinkedIn checks with its own clock, seconds or
# minutes after we do, and one late element would fail its whole batch.
_WINDOW_MARGIN_MS = 10 * 60 * 1000

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


def _field_getter(path: str, default: Any) -> Getter:
    get = _path_getter(path)
    if default is None:
        return get

    def get_or_default(record: Mapping[str, Any]) -> Any:
        value = get(record)
        return default if value is None or value == "" else value

    return get_or_default


class EventMapper:
    """Builds LinkedIn events for one rule from the records of one stream.

    Compiled once: a canonical field that is neither mapped, defaulted nor a property of
    the stream's schema can never have a value, so it gets no getter at all. That keeps
    the per-record work to the fields the stream actually carries.
    """

    def __init__(  # noqa: PLR0913
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

        def getter(name: str) -> Getter | None:
            path = rule.field_mappings.get(name)
            default = rule.field_defaults.get(name)
            if path is None:
                path = name
                if schema_properties is not None and name not in schema_properties:
                    # Not in the schema: only a default can give it a value.
                    return None if default is None else (lambda _record: default)
            return _field_getter(path, default)

        self._get: dict[str, Getter | None] = {name: getter(name) for name in CANONICAL_FIELDS}
        self._passthrough = tuple(
            (get, id_type)
            for name, id_type in PASSTHROUGH_ID_TYPES
            if (get := self._get[name]) is not None
        )
        self._event_id_mapped = "event_id" in rule.field_mappings
        self._key_prefix = stream_name + "\x1f"

    def value(self, name: str, record: Mapping[str, Any]) -> Any:
        get = self._get[name]
        return None if get is None else get(record)

    def key_of(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return {name: record.get(name) for name in self.key_properties}

    def derived_event_id(self, record: Mapping[str, Any]) -> str | None:
        """Stable across runs for the same stream and key, so replays carry the same id."""
        keys = self.key_properties
        if not keys:
            return None
        # Type-tagged so that 1 and "1" differ; plain text so it is cheap per record.
        if len(keys) == 1:
            value = record.get(keys[0])
            key = f"{self._key_prefix}{type(value).__name__}:{value}"
        else:
            key = self._key_prefix + "\x1f".join(
                f"{type(value).__name__}:{value}" for value in map(record.get, keys)
            )
        return "k-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]

    def event_id_of(self, record: Mapping[str, Any]) -> str | None:
        """The event id the record carries (mapped, or derived from its key)."""
        event_id = normalize.text(self.value("event_id", record))
        if event_id is None and not self._event_id_mapped:
            return self.derived_event_id(record)
        return event_id

    def map(self, record: Mapping[str, Any]) -> dict[str, Any] | Rejection:  # noqa: C901, PLR0911, PLR0912, PLR0915
        """The LinkedIn event for `record`, or why there is none."""
        get = self._get
        notes = self.notes
        text = normalize.text

        # conversionHappenedAt: inside LinkedIn's window, or LinkedIn fails the whole batch.
        getter = get["timestamp"]
        try:
            happened_at = normalize.epoch_ms(getter(record) if getter else None)
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
        amount_get, currency_get = get["value_amount"], get["value_currency"]
        try:
            amount = normalize.amount(amount_get(record)) if amount_get else None
            currency = normalize.currency(currency_get(record)) if currency_get else None
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
        elif currency is not None:
            notes["currency_without_amount"] += 1

        # user: identifiers, each dropped (and counted) when unusable.
        user_ids: list[dict[str, str]] = []
        getter = get["email"]
        raw = getter(record) if getter else None
        if raw is not None:
            hashed = normalize.email_hash(raw)
            if hashed is not None:
                user_ids.append({"idType": "SHA256_EMAIL", "idValue": hashed})
            elif text(raw) is not None:
                notes["email_unusable_dropped"] += 1
        for getter, id_type in self._passthrough:
            id_value = text(getter(record))
            if id_value is not None:
                user_ids.append({"idType": id_type, "idValue": id_value})
        getter = get["ip_address"]
        raw = getter(record) if getter else None
        if raw is not None:
            ip = normalize.ip_identifier(raw)
            if ip is not None:
                user_ids.append({"idType": ip[0], "idValue": ip[1]})
            elif text(raw) is not None:
                notes["ip_address_unusable_dropped"] += 1

        user: dict[str, Any] = {"userIds": user_ids}
        identified = bool(user_ids)

        getter = get["first_name"]
        first = text(getter(record)) if getter else None
        getter = get["last_name"]
        last = text(getter(record)) if getter else None
        if first and last:
            info: dict[str, str] = {"firstName": first, "lastName": last}
            for name, key in (("company_name", "companyName"), ("title", "title")):
                getter = get[name]
                found = text(getter(record)) if getter else None
                if found:
                    info[key] = found
            getter = get["country_code"]
            if getter:
                raw = getter(record)
                country = normalize.country_code(raw)
                if country:
                    info["countryCode"] = country
                elif text(raw) is not None:
                    notes["country_code_unusable_dropped"] += 1
            user["userInfo"] = info
            identified = True
        elif first or last:
            notes["user_info_incomplete_dropped"] += 1

        getter = get["external_id"]
        external = text(getter(record)) if getter else None
        if external is not None:
            user["externalIds"] = [external]  # LinkedIn uses one
            identified = True

        getter = get["lead_id"]
        raw = getter(record) if getter else None
        if raw is not None:
            lead = normalize.lead_urn(raw)
            if lead is not None:
                user["lead"] = lead
                identified = True
            elif text(raw) is not None:
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
        event_id = self.event_id_of(record)
        if event_id is not None:
            event["eventId"] = event_id
        event["user"] = user
        return event
