"""Clock jobs of a transfer: the effective date and the reminder before a term ends."""

from __future__ import annotations

from bot.core.context import JobContext
from bot.core.registry import DueHandler
from handlers.transfer.definition import TRANSFER
from handlers.transfer.effects import remind_ending
from handlers.workflow.cards import announce
from handlers.workflow.engine import apply_action
from storage.models import Case, DueItem
from storage.repo.cases import get_case


async def _current(ctx: JobContext, item: DueItem) -> Case | None:
    case = await get_case(session=ctx.session, case_id=int(item.payload.get("case_id", 0)))
    if case is None or case.version != item.payload.get("version"):
        return None  # withdrawn or moved on since the item was written
    return case


async def effective_date(ctx: JobContext, item: DueItem) -> None:
    """The day has come: the org changes; an earlier assignment it follows ends."""
    case = await _current(ctx, item)
    if case is None:
        return
    moved = await apply_action(ctx, TRANSFER, case, "take_effect", version=case.version)
    await announce(ctx, TRANSFER, moved)
    previous = await get_case(session=ctx.session, case_id=int(case.data.get("previous") or 0))
    if previous is not None and previous.state == "in_effect":
        await apply_action(ctx, TRANSFER, previous, "end", version=previous.version)


async def ending_soon(ctx: JobContext, item: DueItem) -> None:
    case = await _current(ctx, item)
    if case is not None and case.state == "in_effect":
        await remind_ending(ctx, TRANSFER, case)


DUE_HANDLERS: dict[str, DueHandler] = {
    "transfer.effective": effective_date,
    "transfer.ending": ending_soon,
}
