"""LinkedIn-Version header parsing and the set of active API versions."""

from __future__ import annotations

from collections.abc import Iterable

# As LinkedIn's migrations table read in 2026-09: 202510, 202511, 202601-202609 are active, 202610/202611 are assumed
# released; 202512 never existed.
DEFAULT_ACTIVE_VERSIONS: frozenset[str] = frozenset(
    ["202510", "202511"] + [f"2026{month:02d}" for month in range(1, 10)] + ["202610", "202611"]
)


def base_version(value: str) -> str | None:
    """Return the ``YYYYMM`` part of ``YYYYMM`` or ``YYYYMM.RR``; None when malformed."""
    head, dot, patch = value.partition(".")
    if len(head) != 6 or not head.isdigit():
        return None
    if dot and (len(patch) != 2 or not patch.isdigit()):
        return None
    return head


def normalised(value: str) -> str:
    """Render a version the way LinkedIn echoes it in messages: ``202504`` -> ``20250401``."""
    head = base_version(value)
    return f"{head}01" if head else value


def version_number(value: str) -> int:
    """``YYYYMM`` as an int for feature gates (callers pass an already-accepted version)."""
    head = base_version(value)
    return int(head) if head else 0


def active_set(versions: Iterable[str | int] | None) -> frozenset[str]:
    """Normalise a user-supplied list of active versions (ints or strings) to ``YYYYMM`` strings."""
    if versions is None:
        return DEFAULT_ACTIVE_VERSIONS
    result = set()
    for item in versions:
        head = base_version(str(item))
        if head is None:
            raise ValueError(f"not a LinkedIn version (YYYYMM): {item!r}")
        result.add(head)
    return frozenset(result)
