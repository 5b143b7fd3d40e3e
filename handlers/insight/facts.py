"""What one referral contributes to statistics, worked out from its audit trail.

Pure functions: the sync (handlers.insight.sync) loads a referral with its events and writes
what these return, so statistics read one narrow row per referral instead of the event log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.models import ReferralEvent

# A bit per state ever entered, so "how many got this far" is one bitwise test per row.
STAGE_BITS: dict[str, int] = {
    "hr_review": 1,
    "needs_info": 2,
    "leader_approval": 4,
    "interviewing": 8,
    "offer": 16,
    "hired": 32,
    "feedback": 64,
    "no_show": 128,
    "rejected": 256,
    "withdrawn": 512,
}
# Stages whose time is measured, in workflow order (``feedback`` runs inside interviewing:
# from the request to the hiring manager's answer).
TIMED_STAGES = (
    "hr_review", "needs_info", "leader_approval", "interviewing", "feedback", "offer",
)
# Stages with an SLA clock (handlers.referral.workflow starts one on entering them).
SLA_STAGES = ("hr_review", "needs_info", "leader_approval", "feedback")


@dataclass(frozen=True)
class StageVisit:
    stage: str
    entered: datetime
    left: datetime | None
    assignee_id: int | None


def stage_visits(events: Sequence[ReferralEvent]) -> list[StageVisit]:
    """Every stay in a stage, in order; the last one is open (``left`` None) while it lasts.

    Args:
        events: The referral's audit trail, oldest first.
    """
    visits: list[StageVisit] = []
    state: tuple[str, datetime, int | None] | None = None
    feedback: tuple[datetime, int | None] | None = None
    for event in events:
        assignee = _int((event.data or {}).get("assignee_id"))
        if feedback is not None and (
            event.action.startswith("feedback.") or event.to_state != event.from_state
        ) and event.action != "feedback.request":
            visits.append(StageVisit("feedback", feedback[0], event.at, feedback[1]))
            feedback = None
        if event.action == "feedback.request" and feedback is None:
            feedback = (event.at, assignee)
        if event.to_state is None or event.to_state == event.from_state:
            continue
        if state is not None:
            visits.append(StageVisit(state[0], state[1], event.at, state[2]))
        state = (event.to_state, event.at, assignee)
    if feedback is not None:
        visits.append(StageVisit("feedback", feedback[0], None, feedback[1]))
    if state is not None:
        visits.append(StageVisit(state[0], state[1], None, state[2]))
    return visits


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def reached_bits(visits: Sequence[StageVisit]) -> int:
    """The STAGE_BITS of every stage visited, or-ed together."""
    bits = 0
    for visit in visits:
        bits |= STAGE_BITS.get(visit.stage, 0)
    return bits


def stage_seconds(visits: Sequence[StageVisit]) -> dict[str, int | None]:
    """Total seconds in each timed stage over its finished visits (None: none finished)."""
    totals: dict[str, int | None] = dict.fromkeys(TIMED_STAGES)
    for visit in visits:
        if visit.left is None or visit.stage not in totals:
            continue
        seconds = max(0, int((visit.left - visit.entered).total_seconds()))
        totals[visit.stage] = (totals[visit.stage] or 0) + seconds
    return totals


@dataclass(frozen=True)
class Breach:
    stage: str
    assignee_id: int | None
    entered: datetime
    sla: timedelta
    took: timedelta


def sla_breaches(
    visits: Sequence[StageVisit], sla_of: dict[str, timedelta | None]
) -> list[Breach]:
    """Finished visits of SLA stages that took longer than the stage's SLA.

    Open visits are left out: whether they end late is not known yet, and statistics count
    the overdue open ones from the live referral instead.
    """
    found = []
    for visit in visits:
        sla = sla_of.get(visit.stage)
        if visit.left is None or sla is None or visit.stage not in SLA_STAGES:
            continue
        took = visit.left - visit.entered
        if took > sla:
            found.append(Breach(visit.stage, visit.assignee_id, visit.entered, sla, took))
    return found


def best_score(events: Sequence[ReferralEvent]) -> int | None:
    """The highest interview score recorded (``面试 12 通过 85``), if any."""
    scores = [
        score
        for e in events
        if (score := _int((e.data or {}).get("score"))) is not None and 0 <= score <= 100
    ]
    return max(scores) if scores else None


def org_key(org_path: str) -> str:
    """``总部/华东/`` for ``总部/华东``: a scope and everything under it share this prefix."""
    parts = [p for p in org_path.split("/") if p]
    return "/".join(parts) + "/" if parts else ""
