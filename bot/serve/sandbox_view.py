"""What the sandbox page may know of the bot: its next due items and its quiet hours.

The sandbox cannot read the bot's database (it only speaks the platforms' protocols), so the
launcher hands it this view. It reads; it never changes what the bot will do.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import select

from bot.core.context import Settings
from handlers.sla.calendar import load_work_calendar
from handlers.sla.quiet_hours import next_delivery_time
from storage.db import SessionFactory
from storage.models import Candidate, Person, Referral
from storage.repo.due import list_pending_due_items

# Recurring housekeeping a visitor did not cause and cannot see; listing it would only hide
# the reminders and recall prompts they are waiting for.
HOUSEKEEPING = frozenset({"retention.sweep", "recall.sync", "usage.alert", "contact.link"})


class BotSchedule:
    """The sandbox's :class:`sandbox.settings.BotView` over the bot's own database."""

    def __init__(self, session_factory: SessionFactory, settings: Settings) -> None:
        self.session_factory = session_factory
        self.settings = settings

    async def upcoming(self, limit: int) -> list[dict[str, Any]]:
        async with self.session_factory() as session:
            items = [i for i in await list_pending_due_items(session=session)
                     if i.kind not in HOUSEKEEPING][:limit]
            people = {p.id: p.name for p in (await session.exec(select(Person))).all()}
            candidates: dict[int, str] = {}
            referral_ids = {i.referral_id for i in items if i.referral_id is not None}
            if referral_ids:
                rows = await session.exec(
                    select(Referral.id, Candidate.name)
                    .join(Candidate, Candidate.id == Referral.candidate_id)  # type: ignore[arg-type]
                    .where(Referral.id.in_(referral_ids))  # type: ignore[union-attr]
                )
                candidates = {rid: name for rid, name in rows.all()}
        return [{
            "due_ms": int(item.due_at.timestamp() * 1000), "kind": item.kind,
            "step": str(item.payload.get("step") or item.payload.get("stage") or ""),
            "candidate": candidates.get(item.referral_id or 0, ""),
            "who": people.get(item.payload.get("assignee_id") or 0, ""),
        } for item in items]

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
