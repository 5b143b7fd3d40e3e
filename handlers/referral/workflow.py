"""The referral workflow as data: who may move a referral from which state to which, and why.

Every transition checks role, org scope, current state and version, writes one audit event,
replaces the SLA due items of the stage it leaves with those of the stage it enters, and
names the next assignee. Notifications are the caller's (handlers.referral.announce).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict, Unpack

from bot.core.context import Context, JobContext
from bot.core.errors import UserFacingError
from handlers.delegation.rules import acting_for, delegate_for
from handlers.referral.permissions import permits
from handlers.sla.calendar import clockwork
from handlers.sla.deadlines import carry_reminders, reschedule_sla, subject_of
from storage.models import Person, Position, Referral, ReferralEvent, ReferralState
from storage.repo.people import nearest_with_role
from storage.repo.positions import get_position
from storage.repo.referrals import (
    add_referral_event,
    find_version_event,
    list_referral_events,
    move_referral,
)

S = ReferralState

__all__ = [
    "COSIGNED_ACTIONS", "NO_SHOW_CATEGORIES", "TRANSITIONS", "Moved", "StaleAction",
    "Transition", "apply_transition", "assignee_for", "may_act", "reschedule_sla", "subject_of",
]


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[ReferralState]
    target: ReferralState
    roles: frozenset[str]
    requires: str | None = None  # "reason" | "items" | "note" | "category"
    # Where review.pass goes for positions that skip leader approval.
    without_leader: ReferralState | None = None
    # The hiring manager becomes the assignee (feedback requested).
    to_hiring_manager: bool = False


class _TransitionOptions(TypedDict, total=False):
    requires: str | None
    without_leader: ReferralState | None
    to_hiring_manager: bool


def _t(
    action: str, sources: set[S], target: S, roles: set[str], **kw: Unpack[_TransitionOptions]
) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(roles), **kw)


_OPEN = {S.HR_REVIEW, S.NEEDS_INFO, S.LEADER_APPROVAL, S.INTERVIEWING, S.OFFER}

TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("review.pass", {S.HR_REVIEW}, S.LEADER_APPROVAL, {"hr"}, without_leader=S.INTERVIEWING),
        _t("review.need_info", {S.HR_REVIEW}, S.NEEDS_INFO, {"hr"}, requires="items"),
        _t("review.reject", {S.HR_REVIEW}, S.REJECTED, {"hr"}, requires="reason"),
        _t("referral.supplement", {S.NEEDS_INFO}, S.HR_REVIEW, {"referrer"}, requires="note"),
        _t("approval.approve", {S.LEADER_APPROVAL}, S.INTERVIEWING, {"leader"}),
        _t("approval.reject", {S.LEADER_APPROVAL}, S.REJECTED, {"leader"}, requires="reason"),
        _t("interview.pass", {S.INTERVIEWING}, S.INTERVIEWING, {"hr", "hiring_manager"}),
        _t(
            "interview.fail",
            {S.INTERVIEWING},
            S.REJECTED,
            {"hr", "hiring_manager"},
            requires="reason",
        ),
        _t("feedback.request", {S.INTERVIEWING}, S.INTERVIEWING, {"hr"}, to_hiring_manager=True),
        _t("feedback.hire", {S.INTERVIEWING}, S.OFFER, {"hiring_manager"}, requires="reason"),
        _t(
            "feedback.another",
            {S.INTERVIEWING},
            S.INTERVIEWING,
            {"hiring_manager"},
            requires="reason",
        ),
        _t("feedback.no", {S.INTERVIEWING}, S.REJECTED, {"hiring_manager"}, requires="reason"),
        _t("offer.make", {S.INTERVIEWING}, S.OFFER, {"hr"}),
        _t("offer.hired", {S.OFFER}, S.HIRED, {"hr"}),
        _t("offer.no_show", {S.OFFER}, S.NO_SHOW, {"hr"}, requires="category"),
        _t("offer.declined", {S.OFFER}, S.WITHDRAWN, {"hr"}, requires="reason"),
        _t("referral.withdraw", _OPEN, S.WITHDRAWN, {"referrer", "hr"}, requires="reason"),
    )
}

# The approvals an approver added with 加签 must also give before the step is done.
COSIGNED_ACTIONS = {S.HR_REVIEW: "review.pass", S.LEADER_APPROVAL: "approval.approve"}

NO_SHOW_CATEGORIES = ("salary", "team", "career", "commute", "family", "counter_offer", "other")

# The SLA stage whose clock runs while a referral sits in a state.
_STAGE_OF_STATE = {
    S.HR_REVIEW: "hr_review",
    S.NEEDS_INFO: "needs_info",
    S.LEADER_APPROVAL: "leader_approval",
}


@dataclass(frozen=True)
class Moved:
    referral: Referral
    position: Position
    transition: Transition
    from_state: ReferralState
    assignee: Person | None
    event: ReferralEvent
    # The person the actor decided for (a delegate approving for 张三), if any.
    actor_for: Person | None = None
    # The person the new assignee holds the task for (the task went to their delegate).
    assignee_for: Person | None = None
    # An added approver (加签) still has to approve: the state did not change.
    cosigned: bool = False


class StaleAction(Exception):
    """The card was already handled; ``event`` says by whom and when (None if unknown)."""

    def __init__(self, event: ReferralEvent | None) -> None:
        super().__init__("stale")
        self.event = event


def may_act(
    person: Person,
    roles: frozenset[str],
    referral: Referral,
    position: Position,
    acting_for: Person | None = None,
) -> bool:
    """Role and scope check from the permission table (``handlers.referral.permissions``).

    Nobody decides on a referral they made, except as its referrer; a delegate holding the
    task for ``acting_for`` may do what that person may do.
    """
    return permits(person, roles, referral, position, acting_for)


async def assignee_for(
    ctx: Context | JobContext,
    referral: Referral,
    position: Position,
    state: ReferralState,
    to_hm: bool,
) -> Person | None:
    session = ctx.session
    if state == S.NEEDS_INFO:
        return await session.get(Person, referral.referrer_id)
    if state == S.LEADER_APPROVAL:
        if position.leader_id is not None:
            return await session.get(Person, position.leader_id)
        return await nearest_with_role(
            session=session,
            role="leader",
            org_path=position.org_path,
            exclude=[referral.referrer_id],
        )
    if state == S.INTERVIEWING and to_hm:
        # Nobody gives feedback on their own referral: fall back to another hiring manager.
        if position.hiring_manager_id not in (None, referral.referrer_id):
            return await session.get(Person, position.hiring_manager_id)
        other = await nearest_with_role(
            session=session,
            role="hiring_manager",
            org_path=position.org_path,
            exclude=[referral.referrer_id],
        )
        if other is not None:
            return other
    if state in (S.HR_REVIEW, S.INTERVIEWING, S.OFFER):
        return await nearest_with_role(
            session=session, role="hr", org_path=position.org_path, exclude=[referral.referrer_id]
        )
    return None


async def write_event(
    ctx: Context | JobContext,
    referral: Referral,
    *,
    action: str,
    actor: Person | None,
    from_state: ReferralState | None,
    to_state: ReferralState,
    note: str,
    data: dict[str, object],
) -> ReferralEvent:
    """One audit event for ``referral`` (``actor`` None: the clock acted)."""
    assert referral.id is not None
    return await add_referral_event(
        session=ctx.session,
        event=ReferralEvent(
            referral_id=referral.id,
            actor_id=actor.id if actor else None,
            action=action,
            from_state=from_state,
            to_state=to_state,
            note=note,
            data=data,
            platform=ctx.event.platform if isinstance(ctx, Context) else "",
            at=ctx.now,
        ),
    )


async def move_or_stale(
    ctx: Context | JobContext, referral: Referral, version: int, values: dict[str, object]
) -> None:
    """Write ``values`` if ``referral`` is still at ``version`` and its state.

    Raises:
        StaleAction: Someone moved it first (the event says who, when known).
    """
    assert referral.id is not None
    moved = await move_referral(
        session=ctx.session,
        referral_id=referral.id,
        expected_state=referral.state,
        expected_version=version,
        values=values,
    )
    if not moved:
        await ctx.session.refresh(referral)
        raise StaleAction(
            await find_version_event(
                session=ctx.session, referral_id=referral.id, from_version=version
            )
        )


async def apply_transition(
    ctx: Context | JobContext,
    referral: Referral,
    action: str,
    *,
    version: int,
    note: str = "",
    data: dict[str, object] | None = None,
) -> Moved:
    """Move ``referral`` by ``action`` if the actor may and nobody did it first.

    ``ctx`` is an event's context (the actor is ``ctx.person``) or, for a timeout's
    automatic approval, a clock job's (the system acts; permissions are the caller's).

    Raises:
        StaleAction: the card's version is old or the state moved on.
        UserFacingError: no permission, or required input missing.
    """
    transition = TRANSITIONS[action]
    position = await get_position(session=ctx.session, position_id=referral.position_id)
    assert position is not None and referral.id is not None
    actor = ctx.person if isinstance(ctx, Context) else None
    principal = await acting_for(ctx.session, referral)
    # Permission first: a stale card must not show anyone out of scope who handled what.
    if actor is not None and not may_act(actor, transition.roles, referral, position, principal):
        raise UserFacingError("forbidden", {"action": action, "referral_id": referral.id})
    if referral.version != version or referral.state not in transition.sources:
        raise StaleAction(
            await find_version_event(
                session=ctx.session, referral_id=referral.id, from_version=version
            )
        )
    if transition.requires and not (note.strip() or (data or {}).get(transition.requires)):
        raise UserFacingError("input_missing", {"action": action, "referral_id": referral.id})
    # The actor decided for the person whose task they hold (a delegate), never for themself.
    actor_for = (
        principal
        if actor is not None and principal is not None and referral.assignee_id == actor.id
        else None
    )
    if COSIGNED_ACTIONS.get(referral.state) == action:
        cosigner = await _next_cosigner(ctx, referral, actor)
        if cosigner is not None:
            return await _cosign(ctx, referral, position, action, version, note, cosigner,
                                 actor_for)

    target = transition.target
    if target == S.LEADER_APPROVAL and not position.leader_approval and transition.without_leader:
        target = transition.without_leader
    assignee = await assignee_for(ctx, referral, position, target, transition.to_hiring_manager)
    kind = "feedback" if transition.to_hiring_manager else target.value
    delegate = await delegate_for(ctx, referral, assignee, kind) if assignee else None
    assignee_for_ = assignee if delegate is not None else None
    assignee = delegate or assignee
    stage = "feedback" if transition.to_hiring_manager else _STAGE_OF_STATE.get(target)
    sla = ctx.settings.sla(stage, position.sla_hours) if stage else None
    clock = clockwork(ctx)
    due_at = await clock.add(ctx.now, sla) if sla else None
    values: dict[str, object] = {
        "state": target,
        "assignee_id": assignee.id if assignee else None,
        "stage_due_at": due_at,
        "updated_at": ctx.now,
    }
    if target != referral.state:
        values["stage_entered_at"] = ctx.now
    if action == "interview.pass":
        values["interview_round"] = referral.interview_round + 1
    if target in (S.HIRED, S.REJECTED, S.WITHDRAWN, S.NO_SHOW):
        values["closed_at"] = ctx.now
    if action == "offer.no_show":
        values["no_show_reason"] = str((data or {}).get("category", "other"))
    await move_or_stale(ctx, referral, version, values)
    from_state = referral.state
    await ctx.session.refresh(referral)
    extra: dict[str, object] = {}
    if actor_for is not None:
        extra["actor_for"] = actor_for.id
    if assignee_for_ is not None:
        extra["assignee_for"] = assignee_for_.id
    if actor is None:
        extra["auto"] = "timeout"
    event = await write_event(
        ctx, referral, action=action, actor=actor, from_state=from_state, to_state=target,
        note=note,
        data={
            **(data or {}),
            "from_version": version,
            "version": version + 1,
            "assignee_id": assignee.id if assignee else None,
            **extra,
        },
    )
    await reschedule_sla(ctx, referral, assignee, stage, sla, route=False, clock=clock)
    return Moved(
        referral, position, transition, from_state, assignee, event, actor_for, assignee_for_
    )


async def _next_cosigner(
    ctx: Context | JobContext, referral: Referral, actor: Person | None
) -> Person | None:
    """The first approver added to this step (加签) who has not approved yet."""
    events = await list_referral_events(session=ctx.session, referral_id=referral.id or 0)
    entries = [i for i, e in enumerate(events) if e.to_state == referral.state
               and e.from_state != referral.state and "assignee_id" in e.data]
    since = events[entries[-1] + 1:] if entries else events
    approved = {e.actor_id for e in since if e.data.get("cosigned")}
    for event in since:
        cosigner_id = event.data.get("cosigner_id")
        if event.action != "task.add_approver" or not isinstance(cosigner_id, int):
            continue
        if cosigner_id in approved or (actor is not None and cosigner_id == actor.id):
            continue
        cosigner = await ctx.session.get(Person, cosigner_id)
        if cosigner is not None and cosigner.active:
            return cosigner
    return None


async def _cosign(
    ctx: Context | JobContext,
    referral: Referral,
    position: Position,
    action: str,
    version: int,
    note: str,
    cosigner: Person,
    actor_for: Person | None,
) -> Moved:
    """The actor approved; the step now waits on the added approver, deadline unchanged."""
    assert referral.id is not None
    actor = ctx.person if isinstance(ctx, Context) else None
    ok = await move_referral(
        session=ctx.session,
        referral_id=referral.id,
        expected_state=referral.state,
        expected_version=version,
        values={"assignee_id": cosigner.id, "updated_at": ctx.now},
    )
    if not ok:
        await ctx.session.refresh(referral)
        raise StaleAction(
            await find_version_event(
                session=ctx.session, referral_id=referral.id, from_version=version
            )
        )
    await ctx.session.refresh(referral)
    data: dict[str, object] = {
        "from_version": version,
        "version": version + 1,
        "assignee_id": cosigner.id,
        "cosigned": True,
    }
    if actor_for is not None:
        data["actor_for"] = actor_for.id
    if actor is None:
        data["auto"] = "timeout"
    event = await write_event(
        ctx, referral, action=action, actor=actor, from_state=referral.state,
        to_state=referral.state, note=note, data=data,
    )
    await carry_reminders(ctx, referral, cosigner)
    return Moved(
        referral, position, TRANSITIONS[action], referral.state, cosigner, event, actor_for,
        cosigned=True,
    )
