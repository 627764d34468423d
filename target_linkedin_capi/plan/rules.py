"""One configured conversion rule, as the rest of the target sees it.

Kept apart from `settings.py` (which needs the SDK for its JSON schema) so that the mapping
code and its tests import nothing heavy.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, eq=False)  # identity: each declared rule is its own key
class RuleSpec:
    """One conversion rule as declared in the config (before LinkedIn is asked)."""

    label: str  # how messages and reports name this rule
    account_id: str
    rule_id: str | None
    name: str | None
    conversion_type: str | None
    attribution_type: str
    post_click_window: int
    view_through_window: int
    campaign_ids: tuple[str, ...]
    streams: tuple[str, ...] | None  # None: the fallback rule for every unmatched stream
    field_mappings: Mapping[str, str | tuple[str, ...]]  # a path, or fallback paths in order
    field_defaults: Mapping[str, Any]
    # Rule settings the user set explicitly; only these are reconciled with LinkedIn.
    explicit: frozenset[str] = frozenset()

    def matches(self, stream_name: str) -> bool:
        return self.streams is not None and any(
            fnmatch.fnmatchcase(stream_name, pattern) for pattern in self.streams
        )
