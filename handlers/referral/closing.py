"""Cards never lie: when a task moves on, every copy of its cards says so.

A task's cards (the task card, its reminders, escalations to leads) all carry keys that
start with the referral and version they were made for (``card_key``). After a
transition each copy that went out for the old version is replaced by the outcome, with
no buttons left, wherever it was sent. DingTalk updates any card instance it holds; WeCom
spends the response code it gave with the card (single use, 72 h) and otherwise sends the
closed card anew, so the newest message in the chat is true (see the report in issue 16
on why no recall: a recalled message leaves "撤回了一条消息" and no outcome at all).

The referrer's 推荐已提交 card is refreshed the same way to show the current state.
"""

from __future__ import annotations

from typing import Any

from bot.core.context import Context, JobContext, Outgoing
from storage.models import Referral
from storage.repo.outbox import list_card_deliveries


def submitted_card_key(referral: Referral) -> str:
    """One key for the referrer's 推荐已提交 card through the referral's whole life."""
    return f"r{referral.id}-submitted"


async def close_task_cards(
    ctx: Context | JobContext,
    referral: Referral,
    from_version: int,
    view: dict[str, Any],
    outcome: dict[str, Any],
) -> None:
    """Replace every card sent for the task at ``from_version`` by the outcome."""
    tapped = ctx.params.get("card_key", "") if isinstance(ctx, Context) else ""
    prefix = f"r{referral.id}v{from_version}-"
    for platform, target_kind, target, group, key in await list_card_deliveries(
        session=ctx.session, key_prefix=prefix
    ):
        if key == tapped and _is_actor(ctx, platform, target):
            continue  # the tapped card is already answered in place
        card = ctx.card("action_done", key=key, r=view, outcome=outcome)
        ctx.outgoing.append(
            Outgoing(card=card, update=True, where=(platform, target_kind, target, group))
        )


# The audit action of a move, as the task_moved card names it.
MOVE_REASONS = {"task.delegate": "delegate", "task.return": "return", "task.timeout": "timeout"}


async def close_moved_task_cards(
    ctx: Context | JobContext,
    referral: Referral,
    from_version: int,
    view: dict[str, Any],
    *,
    action: str,
    to: str,
) -> None:
    """The previous holder's cards of a task that moved say where it went, with no task
    buttons left (a tap on them would only answer "已转交")."""
    tapped = ctx.params.get("card_key", "") if isinstance(ctx, Context) else ""
    by = ctx.person.name if isinstance(ctx, Context) else ""
    for platform, target_kind, target, group, key in await list_card_deliveries(
        session=ctx.session, key_prefix=f"r{referral.id}v{from_version}-"
    ):
        if key == tapped and _is_actor(ctx, platform, target):
            continue
        card = ctx.card("task_moved", key=key, reason=MOVE_REASONS.get(action, "reassign"),
                        tasks=[view], to=to, by=by, at=ctx.now)
        ctx.outgoing.append(
            Outgoing(card=card, update=True, where=(platform, target_kind, target, group))
        )


async def refresh_submitted_card(ctx: Context | JobContext, referral: Referral,
                                 view: dict[str, Any]) -> None:
    """The referrer's own card follows the referral's state."""
    key = submitted_card_key(referral)
    for platform, target_kind, target, group, _ in await list_card_deliveries(
        session=ctx.session, key_prefix=key
    ):
        card = ctx.card("referral_submitted", key=key, r=view)
        ctx.outgoing.append(
            Outgoing(card=card, update=True, where=(platform, target_kind, target, group))
        )


def _is_actor(ctx: Context | JobContext, platform: str, target: str) -> bool:
    if not isinstance(ctx, Context):
        return False
    return platform == ctx.event.platform and target in (
        ctx.event.actor_id, ctx.event.conversation.id if ctx.event.conversation else "")
