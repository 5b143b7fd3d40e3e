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


@dataclass(frozen=True)
class OrgUnit:
    """One department as a platform lists it; ``parent_id`` is None for the top one."""

    unit_id: str
    name: str
    parent_id: str | None
    # Platform user ids the platform names as this department's leaders (负责人/主管).
    leader_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Member:
    """One person as a platform lists them (ids are the platform's own)."""

    user_id: str
    name: str
    unit_ids: tuple[str, ...]
    main_unit_id: str | None = None
    union_id: str | None = None
    mobile: str | None = None
    employee_no: str | None = None
    title: str = ""
    # Units this member leads, and leaders named on the person (WeCom direct_leader).
    leads_units: tuple[str, ...] = ()
    direct_leaders: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    # False: disabled or quit on the platform (counts as gone).
    active: bool = True


@dataclass(frozen=True)
class OrgSnapshot:
    """Everything one platform's contact APIs said in one full read, and what it cost."""

    platform: str
    units: tuple[OrgUnit, ...]
    members: tuple[Member, ...]
    api_calls: dict[str, int]
    # Problems found while reading that the platform did not refuse (e.g. a user listed in
    # a department that was not listed); the sync reports them.
    notes: tuple[str, ...] = ()
