"""What a platform tells the bot about its people besides messages: leave records.

Adapters return these plain values; the capabilities that use them (delegation's leave sync)
decide what they mean, so no adapter imports a capability.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LeaveSpan:
    """One leave record of a platform user, from ``start`` to ``end``."""

    user_id: str
    start: datetime
    end: datetime

    @property
    def ref(self) -> str:
        """Stable id of the record, so a repeated sync recognises it."""
        return f"{self.user_id}:{int(self.start.timestamp())}:{int(self.end.timestamp())}"
