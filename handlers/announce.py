"""Who hears about a transition: the actor's card updates, the next assignee gets a task card,
the referrer sees progress."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.context import Context
from handlers.views import card_key, referral_view
from handlers.workflow import Moved
from storage.models import Person, Referral, ReferralState
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
    if moved.assignee is not None:
        await send_task_card(ctx, referral, moved.assignee)
    referrer = await ctx.session.get(Person, referral.referrer_id)
    referrer_has_task = moved.assignee is not None and moved.assignee.id == referral.referrer_id
    if referrer is not None and referrer.id != ctx.person.id and not referrer_has_task:
        ctx.notify(referrer, "progress_notice", r=view, outcome=outcome)
