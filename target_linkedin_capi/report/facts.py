"""What one event carried, for the run report: which identifiers, its value, its time.

Taken from the event dict while the batch is mapped (no second JSON decode), as a small
tuple: a bit mask of the identifiers, the currency and amount (text, as sent), and the
conversion time in epoch milliseconds. Never an identifier's value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

Facts = tuple[int, "str | None", "str | None", int]

# Every identifier LinkedIn takes, by the name it has in the event; one bit each.
COVERAGE_KEYS: tuple[str, ...] = (
    "SHA256_EMAIL",
    "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID",
    "ACXIOM_ID",
    "ORACLE_MOAT_ID",
    "GOOGLE_AID",
    "PLAINTEXT_IP_ADDRESS",
    "SHA256_IP_ADDRESS",
    "userInfo",
    "externalIds",
    "lead",
)
_BIT = {key: 1 << index for index, key in enumerate(COVERAGE_KEYS)}
_USER_INFO, _EXTERNAL, _LEAD = _BIT["userInfo"], _BIT["externalIds"], _BIT["lead"]
# How the log's summary line names them.
SHORT_NAMES = {
    "SHA256_EMAIL": "email",
    "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID": "li_fat_id",
    "ACXIOM_ID": "acxiom_id",
    "ORACLE_MOAT_ID": "moat_id",
    "GOOGLE_AID": "google_aid",
    "PLAINTEXT_IP_ADDRESS": "ip",
    "SHA256_IP_ADDRESS": "ip_hash",
    "userInfo": "names",
    "externalIds": "external_id",
    "lead": "lead_id",
}


def event_facts(event: dict[str, Any]) -> Facts:
    """The facts of one mapped event (the dict the mapper returns)."""
    user = event["user"]
    mask = 0
    for user_id in user["userIds"]:
        mask |= _BIT.get(user_id["idType"], 0)
    if "userInfo" in user:
        mask |= _USER_INFO
    if "externalIds" in user:
        mask |= _EXTERNAL
    if "lead" in user:
        mask |= _LEAD
    value = event.get("conversionValue")
    if value is None:
        return (mask, None, None, event["conversionHappenedAt"])
    return (mask, value["currencyCode"], value["amount"], event["conversionHappenedAt"])


_ZERO = Decimal(0)


class FactTotals:
    """Facts summed over events: coverage per identifier, value per currency, time range."""

    __slots__ = ("first_ms", "last_ms", "masks", "values")

    def __init__(self) -> None:
        self.masks: Counter[int] = Counter()  # few distinct masks: decoded only when reported
        self.values: dict[str, Decimal] = {}
        self.first_ms: int | None = None
        self.last_ms: int | None = None

    def add(self, facts: Iterable[Facts | None]) -> None:
        masks, values = self.masks, self.values
        first, last = self.first_ms, self.last_ms
        for fact in facts:
            if fact is None:
                continue
            mask, currency, amount, happened = fact
            masks[mask] += 1
            if currency is not None and amount is not None:
                # The mapper only emits decimal text; a report never stops a run.
                try:  # noqa: SIM105 - a context manager per event costs more than the sum
                    values[currency] = values.get(currency, _ZERO) + Decimal(amount)
                except InvalidOperation:
                    pass
            if first is None or happened < first:
                first = happened
            if last is None or happened > last:
                last = happened
        self.first_ms, self.last_ms = first, last

    def coverage(self) -> dict[str, int]:
        counts = dict.fromkeys(COVERAGE_KEYS, 0)
        for mask, count in self.masks.items():
            for key, bit in _BIT.items():
                if mask & bit:
                    counts[key] += count
        return counts
