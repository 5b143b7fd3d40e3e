"""Turning a handler's or a job's answers into outbox rows, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.context import Outgoing
from bot.core.events import Conversation, ConversationKind
from bot.core.log import dispatch_log, mask_identifiers
from cards.models import Card
from storage.models import Person, SendLane
from storage.repo.outbox import enqueue_message
from storage.repo.people import platform_address, task_address


async def enqueue_outgoing(
    session: AsyncSession,
    outgoing: Sequence[Outgoing],
    *,
    key_prefix: str,
    platforms: Sequence[str],
    now: datetime,
    conversation: Conversation | None = None,
    reply_handle: dict[str, Any] | None = None,
    task_platforms: Sequence[str] = (),
    actor_id: int | None = None,
    bulk: bool = False,
) -> tuple[int, ...]:
    """Queue every answer; ``key_prefix`` + index makes a retried event or job a no-op.

    Args:
        session: The transaction the answers belong to.
        outgoing: Cards to send.
        key_prefix: Unique per event or job (``platform:event_id``, ``due:42``).
        platforms: Preferred platforms, first match of a person's ids wins.
        now: Queue time; a card's ``not_before`` may hold it back further.
        conversation: Where replies without a person go (None for jobs).
        reply_handle: Platform data needed to answer in that conversation.
        task_platforms: Platforms with a to-do list; to-dos for people on none are dropped
            (the task card itself still reaches them).
        actor_id: The person whose message or tap this answers (their cards go first).
        bulk: Sent by the clock (reminders, digests, reports, campaigns): the last lane.
    """
    ids: list[int] = []
    for index, out in enumerate(outgoing):
        target: tuple[str, str, str, bool] | None
        if out.to_person is not None and not out.to_person.active:
            continue  # someone who left the company is told nothing further
        if out.where is not None:
            target = out.where
        elif out.task is not None:
            target = _task_target_of(out, task_platforms)
            if target is None:
                continue
        elif out.platform is not None:
            target = _pinned_target_of(out)
        else:
            target = _target_of(out, platforms, conversation)
        if target is None:
            dispatch_log.warning("no address for person=%s", out.to_person and out.to_person.id)
            continue
        platform, target_kind, address, group = target
        card = mask_card(out.card) if group else out.card
        kind = _kind_of(out)
        row = await enqueue_message(
            session=session,
            idempotency_key=f"{key_prefix}:{index}",
            platform=platform,
            target_kind=target_kind,
            target=address,
            group=group,
            kind=kind,
            payload={
                "card": card.to_dict(),
                "reply_handle": _handle_of(out, reply_handle),
                **({"file": out.file} if out.file else {}),
            },
            now=max(now, out.not_before) if out.not_before else now,
            lane=_lane_of(out, actor_id, bulk),
            card_key=out.card.key if kind == "card" and out.card.key else "",
        )
        assert row.id is not None
        ids.append(row.id)
    return tuple(ids)


def _lane_of(out: Outgoing, actor_id: int | None, bulk: bool) -> int:
    if bulk:
        return SendLane.BULK
    to_actor = out.to_person is None or (actor_id is not None and out.to_person.id == actor_id)
    # A card updated in place shows the outcome of the tap that was just made.
    return SendLane.REPLY if to_actor or out.update else SendLane.NOTIFY


def _handle_of(out: Outgoing, reply_handle: dict[str, Any] | None) -> dict[str, Any]:
    # A pinned delivery carries its own handle; the event's reply handle is for answers.
    if out.handle is not None:
        return dict(out.handle)
    return reply_handle or {}


def _pinned_target_of(out: Outgoing) -> tuple[str, str, str, bool] | None:
    """A delivery that only makes sense on one platform goes there or nowhere."""
    if out.to_person is None or out.platform is None:
        return None
    address = platform_address(out.to_person, out.platform)
    return (out.platform, "person", address, False) if address else None


def _kind_of(out: Outgoing) -> str:
    if out.kind is not None:
        return out.kind
    if out.file:
        return "file"
    if out.welcome:
        return "welcome"
    if out.task is not None:
        return f"task_{out.task}"
    return "card_update" if out.update else "card"


def _task_target_of(
    out: Outgoing, task_platforms: Sequence[str]
) -> tuple[str, str, str, bool] | None:
    if out.to_person is None:
        return None
    for platform in task_platforms:
        address = task_address(out.to_person, platform)
        if address:
            return platform, "task_owner", address, False
    return None


def _target_of(
    out: Outgoing, platforms: Sequence[str], conversation: Conversation | None
) -> tuple[str, str, str, bool] | None:
    """(platform, target kind, address, is group) for one outgoing card."""
    if out.to_person is None:
        if conversation is None or not platforms:
            return None
        group = conversation.kind == ConversationKind.GROUP
        return platforms[0], "conversation", conversation.id, group
    person: Person = out.to_person
    for platform in platforms:
        address = platform_address(person, platform)
        if address:
            return platform, "person", address, False
    return None


def mask_card(card: Card) -> Card:
    """The same card with mobiles, ID-card numbers and e-mails masked (cards shown to a group),
    wherever they were typed: fields, body, reasons, titles. Button params are ids, kept."""

    def mask(value: Any) -> Any:
        if isinstance(value, str):
            return mask_identifiers(value)
        if isinstance(value, dict):
            return {k: (v if k == "params" else mask(v)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [mask(v) for v in value]
        return value

    return replace(Card.from_dict(mask(card.to_dict())), key=card.key)
