"""Platform API quotas: HR leads and admins hear before the month's calls run out.

The DingTalk adapter counts metered calls per month (``api_usage``); each clock beat compares
the count with the configured quota and schedules one alert per threshold and month, whichever
replica sees it first. ``用量`` shows the figures on demand.
"""

from __future__ import annotations

from typing import TypedDict

from bot.core.context import Context, JobContext
from bot.core.errors import UserFacingError
from bot.core.routing import Router
from storage.models import DueItem
from storage.repo.due import schedule_once
from storage.repo.people import list_people
from storage.repo.usage import api_calls, usage_period

router = Router("usage")

THRESHOLDS = (80, 95, 100)  # percent of the monthly quota
_READERS = frozenset({"hr_lead", "admin"})


class UsageFigures(TypedDict):
    platform: str
    period: str
    calls: int
    quota: int
    percent: int


async def _figures(job: JobContext | Context) -> list[UsageFigures]:
    period = usage_period(job.now)
    rows: list[UsageFigures] = []
    for platform, quota in sorted(job.settings.api_quotas.items()):
        calls = await api_calls(session=job.session, platform=platform, period=period)
        rows.append({
            "platform": platform, "period": period, "calls": calls, "quota": quota,
            "percent": calls * 100 // quota if quota else 0,
        })
    return rows


async def check_api_usage(job: JobContext) -> bool:
    """Schedule an alert for each threshold the month's count has crossed (once each)."""
    scheduled = False
    for row in await _figures(job):
        crossed = [t for t in THRESHOLDS if row["percent"] >= t]
        if not crossed:
            continue
        # Only the highest: a quota passed in one jump needs one warning, not three.
        top = crossed[-1]
        scheduled |= await schedule_once(
            session=job.session,
            dedupe_key=f"usage:{row['platform']}:{row['period']}:{top}",
            kind="usage.alert",
            subject=f"usage:{row['platform']}",
            due_at=job.now,
            payload={**row, "threshold": top},
            now=job.now,
        )
    return scheduled


async def send_usage_alert(job: JobContext, item: DueItem) -> None:
    """Warn every active HR lead and admin, with the figures as they are now."""
    figures = {r["platform"]: r for r in await _figures(job)}
    row = figures.get(item.payload.get("platform", "")) or item.payload
    for person in await list_people(session=job.session):
        if person.active and _READERS & set(person.roles):
            job.notify(
                person, "api_usage_alert", key=f"usage-{item.id}-{person.id}",
                u=row, threshold=item.payload.get("threshold", 100),
            )


@router.command("用量", "usage", "quota")
async def show_usage(ctx: Context) -> None:
    """`用量` — this month's metered API calls against each platform's quota."""
    if not _READERS & set(ctx.person.roles):
        raise UserFacingError("forbidden", {"action": "usage"})
    ctx.reply("api_usage", rows=await _figures(ctx))


DUE_HANDLERS = {"usage.alert": send_usage_alert}
