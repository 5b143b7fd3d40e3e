"""Who hears about a transition: the actor's card updates, the next assignee gets a task card,
the referrer sees progress; and whoever a task was delegated for is told what happened."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.context import Context, JobContext
from handlers.delegation.rules import awaiting_feedback_in, latest_assignment, task_view
from handlers.referral.closing import close_task_cards, refresh_submitted_card
from handlers.referral.views import card_key, record_profile_shown
from handlers.referral.workflow import Moved
from storage.models import Person, Referral, ReferralEvent, ReferralState
from storage.repo.referrals import list_referral_events

S = ReferralState

# The card each state's assignee gets; a state not listed has no task.
TASK_CARDS = {
    S.HR_REVIEW: "review_task",
    S.NEEDS_INFO: "needs_info",
    S.LEADER_APPROVAL: "approval_task",
    S.INTERVIEWING: "interview_task",
    S.OFFER: "offer_task",
}


# Steps that also put a to-do in the assignee's platform to-do list (DingTalk 待办).
TODO_STATES = frozenset({S.HR_REVIEW, S.LEADER_APPROVAL})


def _todo_key(referral: Referral, assigned: ReferralEvent) -> str:
    """One to-do per assignment: a second review round, or a delegate, is a new to-do."""
    return f"todo-{referral.id}-{assigned.id}"


async def _assignment(
    session: AsyncSession, referral: Referral, before: int | None = None
) -> ReferralEvent | None:
    """The newest audit event that gave ``referral`` to someone (ids below ``before``)."""
    events = await list_referral_events(session=session, referral_id=referral.id or 0)
    return latest_assignment([e for e in events if before is None or (e.id or 0) < before])


async def _open_todo(
    ctx: Context | JobContext, referral: Referral, assignee: Person, view: dict
) -> None:
    if referral.state not in TODO_STATES:
        return
    assigned = await _assignment(ctx.session, referral)
    if assigned is None:
        return
    ctx.open_task(
        assignee, "task_todo", key=_todo_key(referral, assigned),
        r=view, stage=referral.state.value,
    )


async def close_previous_todo(
    ctx: Context | JobContext, referral: Referral, event: ReferralEvent
) -> None:
    """The assignment ``event`` replaced no longer waits on its holder: complete their to-do."""
    previous = await _assignment(ctx.session, referral, before=event.id)
    if previous is None or previous.to_state not in TODO_STATES:
        return
    owner_id = previous.data.get("assignee_id")
    owner = await ctx.session.get(Person, owner_id) if isinstance(owner_id, int) else None
    if owner is not None:
        ctx.close_task(owner, _todo_key(referral, previous))


async def awaiting_feedback(session: AsyncSession, referral: Referral) -> bool:
    """True while a hiring manager's feedback was asked for and has not come back yet."""
    if referral.state != S.INTERVIEWING:
        return False
    events = await list_referral_events(session=session, referral_id=referral.id or 0)
    return awaiting_feedback_in(events)


async def task_card_name(session: AsyncSession, referral: Referral) -> str | None:
    """The card the referral's assignee needs now (None: nothing waits on them)."""
    if await awaiting_feedback(session, referral):
        return "feedback_task"
    return TASK_CARDS.get(referral.state)


async def send_task_card(
    ctx: Context | JobContext, referral: Referral, assignee: Person
) -> dict[str, Any] | None:
    """The assignee's task card and to-do; returns the view it showed (None: no task)."""
    name = await task_card_name(ctx.session, referral)
    if name is None:
        return None
    view = await task_view(ctx, referral)
    ctx.notify(assignee, name, key=card_key(referral, name), r=view)
    await record_profile_shown(ctx, referral, assignee, name)
    await _open_todo(ctx, referral, assignee, view)
    return view


def _actor_name(ctx: Context | JobContext) -> str:
    return ctx.person.name if isinstance(ctx, Context) else ""


async def announce(ctx: Context | JobContext, moved: Moved) -> None:
    referral = moved.referral
    view = await task_view(ctx, referral)
    outcome = {
        "action": "task.cosigned" if moved.cosigned else moved.transition.action,
        "actor": _actor_name(ctx),
        "actor_for": moved.actor_for.name if moved.actor_for else "",
        "auto": moved.event.actor_id is None,
        "at": ctx.now,
        "note": moved.event.note,
        "to_state": referral.state.value,
        "assignee": view["assignee"],
    }
    if isinstance(ctx, Context):
        tapped = ctx.params.get("card_key")
        if tapped:
            ctx.update_card(tapped, "action_done", r=view, outcome=outcome)
        else:
            ctx.reply("action_done", r=view, outcome=outcome)
    from_version = moved.event.data.get("from_version")
    if isinstance(from_version, int):
        await close_task_cards(ctx, referral, from_version, view, outcome)
    await refresh_submitted_card(ctx, referral, view)
    await close_previous_todo(ctx, referral, moved.event)
    if moved.assignee is not None:
        await send_task_card(ctx, referral, moved.assignee)
    if moved.assignee_for is not None:
        ctx.notify(moved.assignee_for, "task_moved", reason="delegate", tasks=[view],
                   to=moved.assignee.name if moved.assignee else "", at=ctx.now)
    if moved.actor_for is not None:
        ctx.notify(moved.actor_for, "delegate_acted", r=view, outcome=outcome)
    referrer = await ctx.session.get(Person, referral.referrer_id)
    referrer_has_task = moved.assignee is not None and moved.assignee.id == referral.referrer_id
    actor_id = ctx.person.id if isinstance(ctx, Context) else None
    if referrer is not None and referrer.id != actor_id and not referrer_has_task:
        ctx.notify(referrer, "progress_notice", r=view, outcome=outcome)
