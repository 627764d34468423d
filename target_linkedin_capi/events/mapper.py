"""Record -> LinkedIn conversion event: field paths, defaults, normalisation, validation.

One `EventMapper` per (rule, stream), compiled once so that the per-record work is plain
dictionary look-ups and the normalisers in `normalize.py`. A record either becomes an event
(possibly with unusable identifiers dropped and counted) or a `Rejection` with a stable
reason code and a message a person understands.
"""

from __future__ import annotations

import difflib
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


def _accepts(normaliser: Callable[[Any], Any]) -> Callable[[Any], bool]:
    def accepts(value: Any) -> bool:
        try:
            return normaliser(value) is not None
        except Invalid:
            return False

    return accepts


# Whether a value is usable for a field: its normaliser takes it (see `_fallback_getter`).
_text_ok = _accepts(normalize.text)
_USABLE: dict[str, Callable[[Any], bool]] = {
    **{name: _text_ok for name in CANONICAL_FIELDS},
    "timestamp": _accepts(normalize.epoch_ms),
    "value_amount": _accepts(normalize.amount),
    "value_currency": _accepts(normalize.currency),
    "email": _accepts(normalize.email_hash),
    "ip_address": _accepts(normalize.ip_identifier),
    "country_code": _accepts(normalize.country_code),
    "external_id": _accepts(normalize.external_id),
    "lead_id": _accepts(normalize.lead_urn),
}


def _fallback_getter(getters: Sequence[Getter], usable: Callable[[Any], bool]) -> Getter:
    """The first value, in mapping order, that the field's normaliser accepts.

    "Usable" means what the field would send: for email, a value that becomes a hash; for
    a timestamp, one that parses (its age is judged later, like any timestamp's); for text
    fields, non-blank text. When no path has a usable value, the first present one is
    returned so that the field reports it as it would for a single path (counted as
    dropped, or the record rejected with its reason); with none present, None (and the
    field's default applies).
    """

    def get(record: Mapping[str, Any]) -> Any:
        first_present = None
        for getter in getters:
            value = getter(record)
            if value is None or (value.__class__ is str and not value):
                continue
            if usable(value):
                return value
            if first_present is None:
                first_present = value
        return first_present

    return get


def paths_of(mapping: str | Sequence[str]) -> tuple[str, ...]:
    """A field mapping's paths: one path, or a list of fallbacks."""
    return (mapping,) if isinstance(mapping, str) else tuple(mapping)


def mapping_problem(
    rule: RuleSpec, stream_name: str, properties: Collection[str] | None
) -> str | None:
    """Why the rule's field mappings cannot work for the stream, or None.

    Only the first segment of a path is checked: what lies below an object property is
    often undeclared (jsonb, schemaless objects). A stream that declares no properties at
    all is schemaless, so nothing can be checked.
    """
    if not properties:
        return None
    for field_name, mapping in rule.field_mappings.items():
        paths = paths_of(mapping)
        columns = [path.split(".", 1)[0] for path in paths]
        if any(column in properties for column in columns):
            # A fallback list is meant for streams that differ (several sources of the
            # same identifier): it needs one path the stream has, not all of them.
            continue
        column = columns[0]
        close = difflib.get_close_matches(column, list(properties), n=3)
        hint = (
            "did you mean " + " or ".join(f"`{name}`" for name in close) + "?"
            if close
            else f"its properties are {_listing(properties)}."
        )
        reads = " or ".join(f"`{path}`" for path in paths)
        lacks = " nor ".join(f"`{name}`" for name in dict.fromkeys(columns))
        return (
            f"{rule.label}: field_mappings.{field_name} reads {reads}, but stream "
            f"`{stream_name}` has no property {lacks}; {hint} Correct the mapping "
            "(top-level field_mappings or the matching conversion_rules entry's) or "
            "the tap's columns; nothing was sent for this stream."
        )
    return None


def _listing(properties: Collection[str], most: int = 20) -> str:
    names = sorted(properties)
    shown = ", ".join(f"`{name}`" for name in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _drop(
    dropped: list[tuple[str, str, str]] | None, note: str, field_name: str, why: str
) -> list[tuple[str, str, str]]:
    """Record a dropped value: (note key, field, why without the value)."""
    if dropped is None:
        dropped = []
    dropped.append((note, field_name, why))
    return dropped


# Canonical fields that identify the person (names count as a pair).
_IDENTIFIERS = frozenset(
    ("email", "ip_address", "first_name", "last_name", "external_id", "lead_id")
).union(name for name, _ in PASSTHROUGH_ID_TYPES)


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
            mapping = rule.field_mappings.get(name)
            paths = paths_of(mapping) if mapping is not None else ()
            if not paths and (schema_properties is None or name in schema_properties):
                paths = (name,)  # unmapped: the property of the same name
            path = paths[0] if len(paths) == 1 else None
            if len(paths) > 1:  # fallbacks: only these fields pay for trying each path
                getters = tuple(_path_getter(p) for p in paths)
                self._dotted.append((index, _fallback_getter(getters, _USABLE[name])))
            elif path is not None and "." in path:
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
        """The event id the record carries (mapped, or derived from its key).

        Never raises: an object mapped to event_id gives None here (`map` rejects it).
        """
        try:
            event_id = normalize.text(self.value("event_id", record) if raw is _ABSENT else raw)
        except Invalid:
            return None
        if event_id is None and not self._event_id_mapped:
            return self.derived_event_id(record)
        return event_id

    def map(self, record: Mapping[str, Any]) -> dict[str, Any] | Rejection:
        """The LinkedIn event for `record`, or why there is none.

        An object or array where text is expected is never printed: as an identifier (or
        company, title, country) it is dropped and counted (`value_not_text`); as the event
        id it rejects the record (`event_id_invalid`): sending the event without its id, or
        with one derived from the key, would break deduplication against the pixel or an
        earlier run. Notes count only records that become events.
        """
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

        try:
            event_id = text(raw_event_id)
        except Invalid as exc:
            return Rejection(
                "event_id_invalid", "event_id", f"event_id is {exc.message}; map event_id to "
                "a text or number property (or leave it unmapped to derive it from the key)",
            )  # fmt: skip
        if event_id is None and not self._event_id_mapped:
            event_id = self.derived_event_id(record)

        # conversionValue: both parts or none.
        try:
            amount = normalize.amount(raw_amount)
            currency = normalize.currency(raw_currency)
        except Invalid as exc:
            field = "value_currency" if exc.reason.startswith("currency") else "value_amount"
            return Rejection(exc.reason, field, exc.message)
        # What was dropped, as (note, field, why); counted only if the record becomes an
        # event. None until something is dropped: most records drop nothing.
        dropped: list[tuple[str, str, str]] | None = None
        value = None
        if amount is not None:
            if currency is None:
                return Rejection(
                    "currency_missing", "value_currency", "value_amount is set but there is "
                    "no currency; map value_currency or set field_defaults.value_currency",
                )  # fmt: skip
            value = {"currencyCode": currency, "amount": amount}
        elif currency is not None and not self._currency_defaulted:
            dropped = _drop(dropped, "currency_without_amount", "value_currency", "")

        # user: identifiers, each dropped (and counted) when unusable.
        user_ids: list[dict[str, str]] = []
        if raw_email is not None:
            try:
                hashed = normalize.email_hash(raw_email)
            except Invalid as exc:
                dropped = _drop(dropped, "email_value_not_text_dropped", "email", exc.message)
            else:
                if hashed is not None:
                    user_ids.append({"idType": "SHA256_EMAIL", "idValue": hashed})
                elif text(raw_email) is not None:
                    dropped = _drop(
                        dropped, "email_unusable_dropped", "email", "not an email address"
                    )
        for index, id_type in self._passthrough:  # ids sent as they are, when present
            raw = values[index]
            if raw is not None:
                try:
                    id_value = text(raw)
                except Invalid as exc:
                    name = CANONICAL_FIELDS[index]
                    dropped = _drop(dropped, f"{name}_value_not_text_dropped", name, exc.message)
                    continue
                if id_value is not None:
                    user_ids.append({"idType": id_type, "idValue": id_value})
        if raw_ip is not None:
            try:
                ip = normalize.ip_identifier(raw_ip)
            except Invalid as exc:
                dropped = _drop(
                    dropped, "ip_address_value_not_text_dropped", "ip_address", exc.message
                )
            else:
                if ip is not None:
                    user_ids.append({"idType": ip[0], "idValue": ip[1]})
                elif text(raw_ip) is not None:
                    dropped = _drop(
                        dropped, "ip_address_unusable_dropped", "ip_address",
                        "not an IPv4 address or SHA-256 hash",
                    )  # fmt: skip

        user: dict[str, Any] = {"userIds": user_ids}
        identified = bool(user_ids)

        try:
            first = text(raw_first)
        except Invalid as exc:
            first = None
            dropped = _drop(dropped, "first_name_value_not_text_dropped", "first_name", exc.message)
        try:
            last = text(raw_last)
        except Invalid as exc:
            last = None
            dropped = _drop(dropped, "last_name_value_not_text_dropped", "last_name", exc.message)
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
            try:
                company = text(raw_company)
            except Invalid as exc:
                company = None
                dropped = _drop(
                    dropped, "company_name_value_not_text_dropped", "company_name", exc.message
                )
            if company:
                info["companyName"] = company
            try:
                title = text(raw_title)
            except Invalid as exc:
                title = None
                dropped = _drop(dropped, "title_value_not_text_dropped", "title", exc.message)
            if title:
                info["title"] = title
            if raw_country is not None:
                try:
                    country = normalize.country_code(raw_country)
                except Invalid as exc:
                    dropped = _drop(
                        dropped, "country_code_value_not_text_dropped", "country_code",
                        exc.message,
                    )  # fmt: skip
                else:
                    if country:
                        info["countryCode"] = country
                    elif text(raw_country) is not None:
                        dropped = _drop(
                            dropped, "country_code_unusable_dropped", "country_code", ""
                        )
            user["userInfo"] = info
            identified = True
        elif first or last:
            dropped = _drop(
                dropped, "user_info_incomplete_dropped",
                "first_name" if first else "last_name",
                "without " + ("last_name" if first else "first_name"),
            )  # fmt: skip

        if raw_external is not None:
            try:
                external = normalize.external_id(raw_external)
            except Invalid as exc:
                dropped = _drop(
                    dropped, "external_id_value_not_text_dropped", "external_id", exc.message
                )
            else:
                if external is not None:
                    user["externalIds"] = [external]  # LinkedIn uses one
                    identified = True

        if raw_lead is not None:
            try:
                lead = normalize.lead_urn(raw_lead)
            except Invalid as exc:
                dropped = _drop(dropped, "lead_id_value_not_text_dropped", "lead_id", exc.message)
            else:
                if lead is not None:
                    user["lead"] = lead
                    identified = True
                elif text(raw_lead) is not None:
                    dropped = _drop(dropped, "lead_id_unusable_dropped", "lead_id", "not a lead id")

        if not identified:
            return Rejection("no_identifier", None, _no_identifier_message(dropped))

        if dropped is not None:
            notes = self.notes
            for note, _field, _why in dropped:
                notes[note] += 1
        event: dict[str, Any] = {
            "conversion": self.conversion_urn,
            "conversionHappenedAt": happened_at,
        }
        if value is not None:
            event["conversionValue"] = value
        if event_id is not None:
            event["eventId"] = event_id
        event["user"] = user
        return event


def _no_identifier_message(dropped: list[tuple[str, str, str]] | None) -> str:
    """Names the identifiers that were present but unusable, and why; never their values."""
    message = (
        "no usable identifier: needs an email, another user id, first and last name, an "
        "external id or a lead id"
    )
    unusable = [
        f"{field} ({why})" if why else field
        for _note, field, why in dropped or ()
        if field in _IDENTIFIERS
    ]
    if unusable:
        message += "; present but unusable: " + ", ".join(unusable)
    return message
