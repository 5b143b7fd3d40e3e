"""What the sandbox page may know of the bot: its next due items and its quiet hours.

The sandbox cannot read the bot's database (it only speaks the platforms' protocols), so the
launcher hands it this view. It reads; it never changes what the bot will do.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.context import Settings
from handlers.sla.calendar import load_work_calendar
from handlers.sla.quiet_hours import next_delivery_time
from storage.db import SessionFactory
from storage.models import Candidate, Outbox, OutboxStatus, Person, Referral
from storage.repo.due import list_pending_due_items

# Recurring housekeeping a visitor did not cause and cannot see; listing it would only hide
# the reminders and recall prompts they are waiting for.
HOUSEKEEPING = frozenset({"retention.sweep", "recall.sync", "usage.alert", "contact.link"})


def _person_names(people: list[Person]) -> dict[Any, str]:
    """Names by person id and by every id a platform or the shell knows them by."""
    names: dict[Any, str] = {}
    for p in people:
        for key in (p.id, p.employee_no, p.dingtalk_user_id, p.wecom_userid):
            if key:
                names[key] = p.name
    return names


async def upcoming_items(session: AsyncSession, limit: int) -> list[dict[str, Any]]:
    """The bot's next due items and held messages, soonest first: ``{"due_ms", "kind",
    "step", "candidate", "who"}``; a held message is kind ``outbox.held``."""
    items = [i for i in await list_pending_due_items(session=session)
             if i.kind not in HOUSEKEEPING][:limit]
    held = (await session.exec(
        select(Outbox).where(Outbox.status == OutboxStatus.PENDING)
        .order_by(col(Outbox.next_attempt_at)).limit(limit)
    )).all()
    names = _person_names(list((await session.exec(select(Person))).all()))
    candidates: dict[int, str] = {}
    referral_ids = {i.referral_id for i in items if i.referral_id is not None}
    if referral_ids:
        rows = await session.exec(
            select(Referral.id, Candidate.name)
            .join(Candidate, col(Candidate.id) == col(Referral.candidate_id))
            .where(col(Referral.id).in_(referral_ids))
        )
        candidates = {rid: name for rid, name in rows.all() if rid is not None}
    found = [{
        "due_ms": _ms(item.due_at), "kind": item.kind,
        "step": str(item.payload.get("step") or item.payload.get("stage") or ""),
        "candidate": candidates.get(item.referral_id or 0, ""),
        "who": names.get(item.payload.get("assignee_id") or 0, ""),
    } for item in items] + [{
        "due_ms": _ms(row.next_attempt_at), "kind": "outbox.held", "step": "",
        "candidate": "", "who": names.get(row.target, ""),
    } for row in held]
    return sorted(found, key=lambda i: int(str(i["due_ms"])))[:limit]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class BotSchedule:
    """The sandbox's :class:`sandbox.settings.BotView` over the bot's own database."""

    def __init__(self, session_factory: SessionFactory, settings: Settings) -> None:
        self.session_factory = session_factory
        self.settings = settings

    async def upcoming(self, limit: int) -> list[dict[str, Any]]:
        async with self.session_factory() as session:
            return await upcoming_items(session, limit)

    def quiet_rule(self) -> str:
        s = self.settings
        window = f"{s.quiet_start:%H:%M}–{s.quiet_end:%H:%M}"
        return window + ("，休息日全天" if s.quiet_weekends else "")

    async def held_until(self, at: float) -> float | None:
        moment = datetime.fromtimestamp(at, UTC)
        async with self.session_factory() as session:
            calendar = await load_work_calendar(session, self.settings)
        s = self.settings
        out = next_delivery_time(moment, tz=s.tz, start=s.quiet_start, end=s.quiet_end,
                                 weekends=s.quiet_weekends, calendar=calendar)
        return out.timestamp() if out > moment else None
