"""Who hears about a transition: the actor's card updates, the next assignee gets a task card,
the referrer sees progress."""

from __future__ import annotations

from bot.context import Context
from handlers.views import card_key, referral_view
from handlers.workflow import Moved
from storage.models import Person, Referral, ReferralState

S = ReferralState

# The card each state's assignee gets; a state not listed has no task.
TASK_CARDS = {
    S.HR_REVIEW: "review_task",
    S.NEEDS_INFO: "needs_info",
    S.LEADER_APPROVAL: "approval_task",
    S.INTERVIEWING: "interview_task",
    S.OFFER: "offer_task",
}


def task_card_name(referral: Referral, position_hm_id: int | None) -> str | None:
    name = TASK_CARDS.get(referral.state)
    if referral.state == S.INTERVIEWING and referral.assignee_id == position_hm_id:
        return "feedback_task"
    return name


async def send_task_card(
    ctx: Context, referral: Referral, assignee: Person, hm_id: int | None
) -> None:
    name = task_card_name(referral, hm_id)
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
        await send_task_card(ctx, referral, moved.assignee, moved.position.hiring_manager_id)
    referrer = await ctx.session.get(Person, referral.referrer_id)
    referrer_has_task = moved.assignee is not None and moved.assignee.id == referral.referrer_id
    if referrer is not None and referrer.id != ctx.person.id and not referrer_has_task:
        ctx.notify(referrer, "progress_notice", r=view, outcome=outcome)
