"""`统计` — referral statistics for the asker's org scope, as a card with a chart.

The figures come from the insight facts (handlers.insight.sync), so one question costs a
handful of indexed aggregate queries however long the audit trail has grown.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.context import Context, JobContext, Settings
from bot.core.errors import UserFacingError
from bot.core.routing import Router
from handlers.insight.chart import render_chart
from handlers.insight.facts import SLA_STAGES, STAGE_BITS, TIMED_STAGES, org_key
from handlers.insight.scope import StatsQuery, parse_query
from handlers.insight.sync import catch_up
from storage.models import Position
from storage.repo import insight_stats as q
from storage.repo.insight_settings import save_chart
from storage.repo.insight_sync import all_positions
from storage.repo.people import in_scope

router = Router("insight.stats")

READERS = frozenset({"hr", "hr_lead", "leader", "admin"})
# Funnel steps: name -> the state bits that mean "got at least this far".
FUNNEL = {
    "hr_passed": STAGE_BITS["leader_approval"] | STAGE_BITS["interviewing"],
    "interviewing": STAGE_BITS["interviewing"],
    "offer": STAGE_BITS["offer"],
    "hired": STAGE_BITS["hired"],
}
SCORE_BANDS = (80, 60, 0)
TOP = 5


def _rate(part: int, whole: int) -> int | None:
    return round(part * 100 / whole) if whole else None


def _group(key: Any, n: int, hired: int, name: str) -> dict[str, Any]:
    return {"key": key, "name": name, "n": n, "hired": hired, "rate": _rate(hired, n)}


def _hours(seconds: float) -> float:
    return round(seconds / 3600, 1)


async def build_stats(
    session: AsyncSession, query: StatsQuery, *, now: datetime, settings: Settings
) -> dict[str, Any]:
    """Every figure of the statistics card for one scope and window (a plain dict)."""
    key = org_key(query.org_path)
    window = q.Window(key=key, since=query.since, until=query.until)
    totals = await q.totals(session=session, window=window, bits=FUNNEL)
    positions = await all_positions(session=session)
    tz = settings.tz
    since = query.since.astimezone(tz) if query.since else None
    until = query.until.astimezone(tz) if query.until else None
    view: dict[str, Any] = {
        "scope": query.org_path, "since": since, "until": until,
        "last": until - timedelta(days=1) if until else None,
        "total": totals["total"], "hired": totals["hired"], "open": totals["open"],
        "hire_rate": _rate(totals["hired"], totals["total"]),
    }
    funnel, previous = [], totals["total"]
    for step in ("submitted", *FUNNEL):
        n = totals["total"] if step == "submitted" else totals[step]
        funnel.append({"stage": step, "n": n, "rate": _rate(n, previous)})
        previous = n
    view["funnel"] = funnel
    figures = await q.stage_figures(session=session, window=window, stages=TIMED_STAGES)
    view["stages"] = [
        {"stage": s, "n": f.count, "mean_h": _hours(f.mean_s), "p50_h": _hours(f.p50_s),
         "p90_h": _hours(f.p90_s)}
        for s, f in figures.items()
    ]
    nodes = [s for s in view["stages"] if s["stage"] in SLA_STAGES]
    view["slowest"] = max(nodes, key=lambda s: (s["p50_h"], s["mean_h"]), default=None)
    view["requirements"] = _requirements(
        await q.requirement_split(session=session, window=window)
    )
    view["scores"] = [
        {"low": low, "n": n, "hired": hired, "rate": _rate(hired, n)}
        for low, n, hired in await q.score_bands(session=session, window=window,
                                                 bands=SCORE_BANDS)
    ]
    view.update(await _breakdowns(session, window, positions, key))
    view["sla"] = await _sla(session, window, positions, now)
    view["recall"] = await _recall(session, window, query.org_path)
    return view


def _requirements(rows: list[tuple[str, str, int, int]]) -> list[dict[str, Any]]:
    by_label: dict[str, dict[str, Any]] = {}
    for label, outcome, n, hired in rows:
        entry = by_label.setdefault(label, {"label": label})
        entry[outcome] = {"n": n, "hired": hired, "rate": _rate(hired, n)}
    empty = {"n": 0, "hired": 0, "rate": None}
    return [
        {"label": e["label"], **{o: e.get(o, empty) for o in ("met", "unmet", "unknown")}}
        for e in by_label.values()
    ]


async def _breakdowns(
    session: AsyncSession, window: q.Window, positions: dict[int, Position], key: str
) -> dict[str, list[dict[str, Any]]]:
    found = {}
    groups = await q.breakdowns(
        session=session, window=window, by=("referrer", "store", "position", "source"),
        limit=TOP,
    )
    rows = groups["referrer"]
    people = await q.names_of(session=session, person_ids=[r[0] for r in rows])
    found["referrers"] = [
        _group(k, n, h, people[k].name if k in people else f"#{k}") for k, n, h in rows
    ]
    # A store is shown below the scope asked about: "上海一店", not the whole path.
    found["stores"] = [
        _group(k, n, h, str(k)[len(key):].strip("/") or str(k).strip("/"))
        for k, n, h in groups["store"]
    ]
    found["positions"] = [
        _group(k, n, h, positions[k].title if k in positions else f"#{k}")
        for k, n, h in groups["position"]
    ]
    found["sources"] = [_group(k, n, h, str(k)) for k, n, h in groups["source"]]
    return found


async def _sla(
    session: AsyncSession, window: q.Window, positions: dict[int, Position], now: datetime
) -> list[dict[str, Any]]:
    late = await q.late_by_assignee(session=session, window=window)
    scoped = [pid for pid, p in positions.items() if org_key(p.org_path).startswith(window.key)]
    overdue = await q.overdue_by_assignee(session=session, position_ids=scoped, now=now)
    rows: dict[int | None, dict[str, Any]] = defaultdict(
        lambda: {"late": 0, "open": 0, "stages": defaultdict(int)}
    )
    for assignee, stage, n in late:
        rows[assignee]["late"] += n
        rows[assignee]["stages"][stage] += n
    for assignee, n in overdue:
        rows[assignee]["open"] += n
    people = await q.names_of(session=session, person_ids=[a for a in rows if a is not None])
    result = [
        {"name": people[a].name if a in people else "", "late": r["late"], "open": r["open"],
         "stages": sorted(r["stages"].items(), key=lambda kv: (-kv[1], kv[0]))}
        for a, r in rows.items()
    ]
    result.sort(key=lambda r: (-(r["late"] + r["open"]), r["name"]))
    return result[:TOP]


async def _recall(session: AsyncSession, window: q.Window, scope: str) -> dict[str, Any]:
    contacts = [
        c for c in await q.recall_contacts(session=session, window=window)
        if in_scope(scope, c.org_path)
    ]
    senders = await q.names_of(session=session, person_ids=[c.sender_id for c in contacts])

    def summary(rows: list[q.RecallRow]) -> dict[str, Any]:
        replied = sum(r.replied for r in rows)
        return {"sent": len(rows), "replied": replied, "rate": _rate(replied, len(rows)),
                "interested": sum(r.interested for r in rows),
                "rehired": sum(r.rehired for r in rows)}

    by_stage: dict[str, list[q.RecallRow]] = defaultdict(list)
    by_sender: dict[str, list[q.RecallRow]] = defaultdict(list)
    for c in contacts:
        by_stage[c.stage].append(c)
        roles = senders[c.sender_id].roles if c.sender_id in senders else []
        by_sender["hiring_manager" if "hiring_manager" in roles else "hr"].append(c)
    return {
        **summary(contacts),
        "stages": [{"stage": s, **summary(r)} for s, r in sorted(by_stage.items())],
        "senders": [{"kind": k, **summary(r)} for k, r in sorted(by_sender.items())],
    }


async def chart_ref(session: AsyncSession, view: dict[str, Any], now: datetime) -> str:
    """Render the chart off the event loop and store it; returns the card's image reference."""
    png = await asyncio.to_thread(render_chart, view)
    return await save_chart(session=session, png=png, now=now)


async def stats_view(
    job: Context | JobContext, query: StatsQuery, *, with_chart: bool = True
) -> tuple[dict[str, Any], str]:
    """Sync, compute and chart: what both the command and the weekly report send."""
    await catch_up(job.session, now=job.now, settings=job.settings)
    view = await build_stats(job.session, query, now=job.now, settings=job.settings)
    image = await chart_ref(job.session, view, job.now) if with_chart and view["total"] else ""
    return view, image


@router.command("统计", "stats", "statistics")
async def show_stats(ctx: Context) -> None:
    """`统计 [组织] [起始日期|90天|本月|全部]` — referral figures for the asker's scope."""
    if not READERS & set(ctx.person.roles):
        raise UserFacingError("stats_forbidden", {"what": "stats"})
    query = await parse_query(
        ctx.session, ctx.person, ctx.args, now=ctx.now, tz=ctx.settings.tz
    )
    view, image = await stats_view(ctx, query)
    # To the asker's own chat even from a group: the figures name referrers and assignees.
    ctx.notify(ctx.person, "stats", s=view, image=image)
