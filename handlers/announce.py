"""Who hears about a transition: the actor's card updates, the next assignee gets a task card,
the referrer sees progress."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.context import Context
from handlers.views import card_key, referral_view
from handlers.workflow import Moved
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


def _todo_key(referral: Referral, entered: ReferralEvent) -> str:
    """One to-do per entry into a step: a second review round is a new to-do."""
    return f"todo-{referral.id}-{entered.id}"


async def _entry_into(
    session: AsyncSession, referral: Referral, state: ReferralState, before: int | None = None
) -> ReferralEvent | None:
    """The newest audit event that moved ``referral`` into ``state`` (ids below ``before``)."""
    events = await list_referral_events(session=session, referral_id=referral.id or 0)
    entries = [
        e
        for e in events
        if e.to_state == state
        and e.from_state != state
        and (before is None or (e.id or 0) < before)
    ]
    return entries[-1] if entries else None


async def _open_todo(ctx: Context, referral: Referral, assignee: Person, view: dict) -> None:
    if referral.state not in TODO_STATES:
        return
    entered = await _entry_into(ctx.session, referral, referral.state)
    if entered is None:
        return
    ctx.open_task(
        assignee, "task_todo", key=_todo_key(referral, entered),
        r=view, stage=referral.state.value,
    )


async def _close_todo(ctx: Context, moved: Moved) -> None:
    """The step the referral left no longer waits on its assignee: complete their to-do."""
    if moved.from_state not in TODO_STATES or moved.from_state == moved.referral.state:
        return
    entered = await _entry_into(
        ctx.session, moved.referral, moved.from_state, before=moved.event.id
    )
    if entered is None:
        return
    owner_id = entered.data.get("assignee_id")
    owner = await ctx.session.get(Person, owner_id) if isinstance(owner_id, int) else None
    if owner is not None:
        ctx.close_task(owner, _todo_key(moved.referral, entered))


async def awaiting_feedback(session: AsyncSession, referral: Referral) -> bool:
    """True while a hiring manager's feedback was asked for and has not come back yet."""
    if referral.state != S.INTERVIEWING:
        return False
    events = await list_referral_events(session=session, referral_id=referral.id or 0)
    moves = [e for e in events if e.from_state is not None]
    return bool(moves) and moves[-1].action == "feedback.request"


async def task_card_name(session: AsyncSession, referral: Referral) -> str | None:
    """The card the referral's assignee needs now (None: nothing waits on them)."""
    if await awaiting_feedback(session, referral):
        return "feedback_task"
    return TASK_CARDS.get(referral.state)


async def send_task_card(ctx: Context, referral: Referral, assignee: Person) -> None:
    name = await task_card_name(ctx.session, referral)
    if name is None:
        return
    view = await referral_view(ctx, referral)
    ctx.notify(assignee, name, key=card_key(referral, name), r=view)
    await _open_todo(ctx, referral, assignee, view)


async def announce(ctx: Context, moved: Moved) -> None:
    referral = moved.referral
    view = await referral_view(ctx, referral)
    outcome = {
        "action": moved.transition.action,
        "actor": ctx.person.name,
        "at": ctx.now,
        "note": moved.event.note,
        "to_state": referral.state.value,
        "assignee": view["assignee"],
    }
    tapped = ctx.params.get("card_key")
    if tapped:
        ctx.update_card(tapped, "action_done", r=view, outcome=outcome)
    else:
        ctx.reply("action_done", r=view, outcome=outcome)
    await _close_todo(ctx, moved)
    if moved.assignee is not None:
        await send_task_card(ctx, referral, moved.assignee)
    referrer = await ctx.session.get(Person, referral.referrer_id)
    referrer_has_task = moved.assignee is not None and moved.assignee.id == referral.referrer_id
    if referrer is not None and referrer.id != ctx.person.id and not referrer_has_task:
        ctx.notify(referrer, "progress_notice", r=view, outcome=outcome)
