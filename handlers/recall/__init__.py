"""Recall of no-show candidates: talent profiles, reason-aware drafts on a 30/90/180-day
cadence and in campaigns, sends a person confirms, and what came of them.

Modules: ``profiles`` / ``profile_cards`` (the talent profile), ``drafts`` (templates to
text), ``sending`` (preview buttons and outcomes), ``campaigns``, ``stats``, ``jobs`` (the
clock), ``rules`` (consent, opt-out, the minimum gap between messages).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.context import Context
from handlers.recall import campaigns, profile_cards, sending, stats  # noqa: F401 (routes)
from handlers.recall.common import router
from handlers.recall.jobs import DUE_HANDLERS, find_recall_work
from storage.models import PendingInput
from storage.repo.conversations import get_pending_input

Handler = Callable[[Context], Awaitable[None]]

# Typed input some recall button asked for, by the pending action it stored.
_PENDING: dict[str, Callable[[Context, PendingInput], Awaitable[None]]] = {
    "recall.edit": sending.answer_edit,
    "recall.profile.input": profile_cards.answer_profile_input,
}
RECURRING = (find_recall_work,)


def with_recall_input(fallback: Handler) -> Handler:
    """Answer typed input a recall card asked for; anything else goes to ``fallback``."""

    async def answer_pending(ctx: Context) -> None:
        pending = await get_pending_input(session=ctx.session, person_id=ctx.person.id or 0)
        answer = _PENDING.get(pending.action) if pending is not None else None
        if answer is None or pending is None:
            await fallback(ctx)
            return
        await answer(ctx, pending)

    return answer_pending


__all__ = ["DUE_HANDLERS", "RECURRING", "router", "with_recall_input"]
