"""One stats type for every second tier (memory, disk, Redis).

Plain int counters, bumped on the tier's own paths (no SDK call there); ``get_metrics()``
returns them as a dict and :mod:`agent_cache.telemetry.tier` reports them through
observable OpenTelemetry instruments, labelled by the tier's name. ``stats["name"]`` works
too, for code written against the older dict form.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: Old dict keys that have a new field name.
_ALIASES = {"skipped": "unencodable", "corrupt_payloads": "corrupt"}


@dataclass
class TierStats:
    """What every tier counts."""

    reads: int = 0  # lookups answered by the tier (hit or miss)
    hits: int = 0  # a readable value was found
    misses: int = 0  # nothing (absent, expired, unreadable, or the tier away)
    writes: int = 0  # values stored
    deletes: int = 0
    clears: int = 0  # namespaces cleared
    errors: int = 0  # I/O failures
    corrupt: int = 0  # stored payloads the codec refused (tampered, foreign, malformed)
    unencodable: int = 0  # values the codec refused to store (kept in memory only)
    corrupt_files: int = 0  # damaged files moved aside (disk)

    def __getitem__(self, name: str) -> int:
        value: int = getattr(self, _ALIASES.get(name, name))
        return value

    def __setitem__(self, name: str, value: int) -> None:
        setattr(self, _ALIASES.get(name, name), value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


__all__ = ["TierStats"]
