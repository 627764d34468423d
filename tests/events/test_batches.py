"""A batch is mapped in one pass: events, where each came from, and rejections."""

from __future__ import annotations

import time
from collections import Counter

import msgspec

from target_linkedin_capi.config.settings import parse_settings
from target_linkedin_capi.events.batches import map_batch
from target_linkedin_capi.events.mapper import EventMapper


def mappers() -> list[EventMapper]:
    settings = parse_settings({
        "api_version": "202609", "access_token": "abcdefgh", "ad_account_id": "1",
        "conversion_rules": [
            {"streams": ["orders"], "conversion_rule_id": "2"},
            {"streams": ["orders"], "conversion_rule_id": "3",
             "field_defaults": {"value_currency": "EUR"}},
        ],
        "field_mappings": {"timestamp": "at", "value_amount": "amount"},
    })  # fmt: skip
    return [
        EventMapper(
            spec,
            f"urn:lla:llaPartnerConversion:{spec.rule_id}",
            spec.label,
            "orders",
            ("id",),
            202609,
            Counter(),
        )
        for spec in settings.rules
    ]


def test_each_record_feeds_each_rule_and_rejections_keep_their_positions():
    now = int(time.time() * 1000) - 60_000
    records = [
        {"id": 1, "email": "a@example.com", "at": now, "amount": 5},  # no currency for rule 2
        {"id": 2, "email": None, "at": now},  # no identifier: rejected for both
        {"id": 3, "email": "c@example.com", "at": now},
    ]
    batch = map_batch(mappers(), records)
    assert [(r[0], r[1], r[2]) for r in batch.rejections] == [
        (0, 0, "currency_missing"),
        (1, 0, "no_identifier"),
        (1, 1, "no_identifier"),
    ]
    assert [origin[:2] for origin in batch.origins] == [(0, 1), (2, 0), (2, 1)]
    events = [msgspec.json.decode(body) for body in batch.events]
    assert events[0]["conversionValue"] == {"currencyCode": "EUR", "amount": "5"}
    assert [e["conversion"][-1] for e in events] == ["3", "2", "3"]
    assert [origin[2] for origin in batch.origins] == [e["eventId"] for e in events]
