"""Sends that failed for good are shown to HR: nothing the bot owed someone vanishes silently.

The outbox retries what the platform says is temporary; a refusal (no permission, unknown
user, a template gone) is final. Each clock beat looks for such rows; one alert per batch goes
to the HR leads and admins, naming who did not get what and the platform's reason.
"""

from __future__ import annotations

from bot.core.context import JobContext
from storage.models import DueItem, Outbox
from storage.repo.due import schedule_once
from storage.repo.outbox import first_unreported_failure, take_unreported_failures
from storage.repo.people import get_person_by_platform_id, list_people

ALERT_KEY = "delivery-failed-"
_READERS = frozenset({"hr_lead", "admin"})
_MAX_ERROR = 120


async def check_failed_sends(job: JobContext) -> bool:
    """Schedule a report when some send failed for good and HR was not told yet."""
    first = await first_unreported_failure(session=job.session)
    if first is None:
        return False
    return await schedule_once(
        session=job.session, dedupe_key=f"failed-sends:{first}", kind="delivery.failed",
        subject="outbox", due_at=job.now, now=job.now,
    )


async def _line(job: JobContext, row: Outbox) -> dict[str, str]:
    card = row.payload.get("card") or {}
    who = row.target
    if row.target_kind == "person":
        person = await get_person_by_platform_id(
            session=job.session, platform=row.platform, user_id=row.target
        )
        who = person.name if person else row.target
    elif row.target_kind == "conversation":
        who = "group" if row.group else "chat"
    return {
        "platform": row.platform, "to": who, "target_kind": row.target_kind,
        "title": str(card.get("title") or ""), "kind": row.kind,
        "error": row.error[:_MAX_ERROR],
    }


async def report_failed_sends(job: JobContext, item: DueItem) -> None:
    """Tell HR leads and admins which messages could not be delivered, and why."""
    rows = await take_unreported_failures(session=job.session, now=job.now)
    # A failed report is not reported again: that could repeat for ever.
    rows = [r for r in rows if not str((r.payload.get("card") or {}).get("key") or "")
            .startswith(ALERT_KEY)]
    if not rows:
        return
    lines = [await _line(job, row) for row in rows]
    for person in await list_people(session=job.session):
        if person.active and _READERS & set(person.roles):
            job.notify(person, "delivery_failed", key=f"{ALERT_KEY}{item.id}-{person.id}",
                       lines=lines)


DUE_HANDLERS = {"delivery.failed": report_failed_sends}
