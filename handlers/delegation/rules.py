"""Who a task really goes to: delegation (委托), leave (休假), and on whose behalf people act.

The audit trail is the record of every assignment: each event that (re)assigns a referral
carries ``assignee_id``, and ``assignee_for`` when the assignee holds the task for someone
else (a delegate). Delegation is one hop only: a delegate's own delegation is never followed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.context import Context, JobContext
from handlers.referral.views import referral_view
from storage.models import AwayPeriod, Person, Referral, ReferralEvent, ReferralState
from storage.repo.delegation import list_active_periods
from storage.repo.people import in_scope, nearest_with_role
from storage.repo.referrals import list_referral_events

S = ReferralState

# Task kinds a delegation can be limited to, and the words people use for them.
TASK_KINDS = ("hr_review", "leader_approval", "feedback", "interviewing", "offer")
KIND_WORDS = {
    "审核": "hr_review", "审批": "leader_approval", "反馈": "feedback", "面试": "interviewing",
    "offer": "offer", "review": "hr_review", "approval": "leader_approval",
    "feedback": "feedback", "interview": "interviewing",
}
# The SLA clock of each task kind (kinds without one have no deadline).
SLA_STAGE = {
    "hr_review": "hr_review", "needs_info": "needs_info", "leader_approval": "leader_approval",
    "feedback": "feedback",
}
# The action that decides each kind of task: whoever takes a task over must be allowed it.
DECIDING_ACTION = {
    "hr_review": "review.pass", "leader_approval": "approval.approve",
    "feedback": "feedback.hire", "interviewing": "interview.pass", "offer": "offer.hired",
}
# Events that move a waiting task between people without changing the referral's state.
MOVE_ACTIONS = frozenset({"task.delegate", "task.return", "task.reassign", "task.timeout"})


def is_move(event: ReferralEvent) -> bool:
    return event.action in MOVE_ACTIONS


def awaiting_feedback_in(events: Sequence[ReferralEvent]) -> bool:
    """True if the last state change asked the hiring manager for feedback."""
    changes = [e for e in events if e.from_state is not None and not e.action.startswith("task.")]
    return bool(changes) and changes[-1].action == "feedback.request"


async def task_kind(session: AsyncSession, referral: Referral) -> str | None:
    """What the referral's assignee is asked to do now (None: nothing waits on anyone)."""
    if referral.state == S.INTERVIEWING:
        events = await list_referral_events(session=session, referral_id=referral.id or 0)
        return "feedback" if awaiting_feedback_in(events) else "interviewing"
    if referral.state in (S.HR_REVIEW, S.NEEDS_INFO, S.LEADER_APPROVAL, S.OFFER):
        return referral.state.value
    return None


def latest_assignment(events: Sequence[ReferralEvent]) -> ReferralEvent | None:
    """The newest event that decided who holds the referral."""
    for event in reversed(events):
        if "assignee_id" in event.data and event.to_state is not None:
            return event
    return None


async def acting_for(session: AsyncSession, referral: Referral) -> Person | None:
    """The person the current assignee holds the task for (None: their own task)."""
    if referral.assignee_id is None:
        return None
    events = await list_referral_events(session=session, referral_id=referral.id or 0)
    last = latest_assignment(events)
    if last is None or last.data.get("assignee_id") != referral.assignee_id:
        return None
    principal_id = last.data.get("assignee_for")
    return await session.get(Person, principal_id) if isinstance(principal_id, int) else None


def covers(period: AwayPeriod, kind: str | None) -> bool:
    return not period.stages or (kind is not None and kind in period.stages)


async def active_delegation(
    session: AsyncSession, person_id: int, at: datetime, kind: str | None
) -> AwayPeriod | None:
    for period in await list_active_periods(session=session, person_ids=[person_id], at=at):
        if period.delegate_id is not None and covers(period, kind):
            return period
    return None


async def is_away(session: AsyncSession, person_id: int, at: datetime) -> bool:
    """On leave, or everything handed to a delegate: not the one to chase."""
    periods = await list_active_periods(session=session, person_ids=[person_id], at=at)
    return any(p.leave or (p.delegate_id is not None and not p.stages) for p in periods)


async def delegate_for(
    ctx: Context | JobContext, referral: Referral, assignee: Person, kind: str | None
) -> Person | None:
    """The delegate who takes ``assignee``'s task of this ``kind`` now, if any.

    Nobody decides on their own referral, and tasks the referrer must do (补充) stay theirs.
    """
    if kind in (None, "needs_info"):
        return None
    period = await active_delegation(ctx.session, assignee.id or 0, ctx.now, kind)
    if period is None or period.delegate_id in (referral.referrer_id, assignee.id):
        return None
    delegate = await ctx.session.get(Person, period.delegate_id)
    return delegate if delegate is not None and delegate.active else None


def same_line(a: Person, b: Person) -> bool:
    """One of the two sits inside the other's org scope (a delegation's allowed range)."""
    return in_scope(a.org_path, b.org_path) or in_scope(b.org_path, a.org_path)


async def escalation_target(
    ctx: Context | JobContext, assignee: Person, org_path: str
) -> Person | None:
    """Up the assignee's chain of leads, skipping anyone away; then the nearest HR lead."""
    skip = {assignee.id or 0}
    seen: set[int] = set()
    lead_id = assignee.lead_id
    while lead_id is not None and lead_id not in seen:
        seen.add(lead_id)
        lead = await ctx.session.get(Person, lead_id)
        if lead is None:
            break
        available = lead.active and lead.id not in skip
        if available and not await is_away(ctx.session, lead_id, ctx.now):
            return lead
        lead_id = lead.lead_id
    while True:
        hr_lead = await nearest_with_role(
            session=ctx.session, role="hr_lead", org_path=org_path, exclude=sorted(skip)
        )
        if hr_lead is None or not await is_away(ctx.session, hr_lead.id or 0, ctx.now):
            return hr_lead
        skip.add(hr_lead.id or 0)


async def task_view(ctx: Context | JobContext, referral: Referral) -> dict[str, Any]:
    """The referral as cards see it, plus whom the assignee holds the task for (代 X 审批)."""
    view = await referral_view(ctx, referral)
    principal = await acting_for(ctx.session, referral)
    view["on_behalf_of"] = principal.name if principal else ""
    return view
