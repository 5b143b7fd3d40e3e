"""The weekly report: last week's figures pushed to HR leads and leaders, for their scope.

The day and time are HR's to choose (``周报设置 周五 17:00``); the clock schedules one report
per week whichever replica sees the time first. ``周报`` shows it on demand.
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from bot.core.context import Context, JobContext
from bot.core.errors import UserFacingError
from bot.core.routing import Router
from handlers.insight.config import PREFIX, load_config
from handlers.insight.facts import org_key
from handlers.insight.scope import StatsQuery
from handlers.insight.stats import READERS, stats_view
from storage.models import DueItem, Person
from storage.repo.due import schedule_once
from storage.repo.insight_bonus import count_payable
from storage.repo.insight_settings import set_setting
from storage.repo.insight_stats import hires_between
from storage.repo.people import list_people

router = Router("insight.weekly")

RECIPIENT_ROLES = frozenset({"hr_lead", "leader"})
SETTERS = frozenset({"hr_lead", "admin"})
WEEK = timedelta(days=7)
_WEEKDAYS = {
    **{w: i for i, w in enumerate(("周一", "周二", "周三", "周四", "周五", "周六", "周日"))},
    **{w: i for i, w in enumerate(("星期一", "星期二", "星期三", "星期四", "星期五", "星期六",
                                    "星期日"))},
    **{w: i for i, w in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    "周天": 6, "星期天": 6,
}
_OFF, _ON = frozenset({"关闭", "停止", "off"}), frozenset({"开启", "打开", "on"})


async def ensure_weekly_report(job: JobContext) -> bool:
    """Schedule this week's report once it is the configured day and time (local)."""
    config = await load_config(job.session)
    local = job.now.astimezone(job.settings.tz)
    if not config.report_enabled or local.weekday() != config.report_weekday:
        return False
    # A replica that starts late in the evening sends no report that day rather than at night.
    if not config.report_at <= local.time() < job.settings.quiet_start:
        return False
    return await schedule_once(
        session=job.session,
        dedupe_key=f"insight.weekly:{local.date().isoformat()}",
        kind="insight.weekly",
        subject="insight.weekly",
        due_at=job.now,
        now=job.now,
    )


async def _report(job: Context | JobContext, person: Person) -> dict[str, Any]:
    since = job.now - WEEK
    view, image = await stats_view(job, StatsQuery(person.org_path, since, None))
    earlier, _ = await stats_view(
        job, StatsQuery(person.org_path, since - WEEK, since), with_chart=False
    )
    payable = await count_payable(session=job.session, scope=person.org_path, now=job.now)
    key = org_key(person.org_path)
    return {
        "s": view, "image": image, "payable": payable,
        "hired": await hires_between(session=job.session, key=key, since=since, until=None),
        "previous": {
            "total": earlier["total"],
            "hired": await hires_between(
                session=job.session, key=key, since=since - WEEK, until=since
            ),
        },
    }


async def send_weekly_report(job: JobContext, item: DueItem) -> None:
    """Each active HR lead and leader gets the report for their own scope."""
    cached: dict[str, dict[str, Any]] = {}
    for person in await list_people(session=job.session):
        if not person.active or not RECIPIENT_ROLES & set(person.roles):
            continue
        if person.org_path not in cached:
            cached[person.org_path] = await _report(job, person)
        job.notify(
            person, "report_weekly", key=f"weekly-{item.id}-{person.id}",
            **cached[person.org_path],
        )


@router.command("周报", "report", "weekly")
async def show_weekly_report(ctx: Context) -> None:
    """`周报` — the weekly report for my scope, now."""
    if not READERS & set(ctx.person.roles):
        raise UserFacingError("stats_forbidden", {"what": "report"})
    ctx.notify(ctx.person, "report_weekly", **await _report(ctx, ctx.person))


def _parse_settings(words: list[str]) -> dict[str, object] | None:
    changes: dict[str, object] = {}
    for word in words:
        lowered = word.lower()[:3] if word.isascii() else word
        if word.lower() in _OFF or word in _OFF:
            changes["report_enabled"] = False
        elif word.lower() in _ON or word in _ON:
            changes["report_enabled"] = True
        elif lowered in _WEEKDAYS:
            changes["report_weekday"] = _WEEKDAYS[lowered]
            changes.setdefault("report_enabled", True)
        else:
            try:
                at = time.fromisoformat(word.replace("：", ":"))
            except ValueError:
                return None
            changes["report_at"] = at.strftime("%H:%M")
    return changes


@router.command("周报设置", "report-settings")
async def set_weekly_report(ctx: Context) -> None:
    """`周报设置 周五 17:00` / `周报设置 关闭` — when the weekly report goes out."""
    if not SETTERS & set(ctx.person.roles):
        raise UserFacingError("stats_forbidden", {"what": "report_settings"})
    changes = _parse_settings(ctx.args.split())
    if changes is None:
        raise UserFacingError("report_settings", {"config": await _shown(ctx), "bad": ctx.args})
    for name, value in changes.items():
        await set_setting(
            session=ctx.session, key=f"{PREFIX}{name}", value=value, now=ctx.now,
            by=ctx.person.id,
        )
    ctx.notify(ctx.person, "report_settings", config=await _shown(ctx), bad="")


async def _shown(ctx: Context) -> dict[str, object]:
    config = await load_config(ctx.session)
    return {
        "weekday": config.report_weekday, "at": config.report_at.strftime("%H:%M"),
        "enabled": config.report_enabled,
    }


DUE_HANDLERS = {"insight.weekly": send_weekly_report}

