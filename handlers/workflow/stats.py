"""Time spent in each step of a workflow, read from the case event log: the same figures for
every workflow, with no per-workflow code."""

from __future__ import annotations

import statistics
from typing import Any

from bot.core.context import Context
from bot.core.errors import UserFacingError
from handlers.workflow.definition import Workflow
from storage.repo.cases import list_case_events, list_cases_in_scope

VIEW_ROLES = ("hr", "hr_lead", "leader", "admin")


async def stage_minutes(ctx: Context, wf: Workflow, org_path: str) -> dict[str, list[int]]:
    """Minutes each finished stay in a step took, by step, for the cases in scope."""
    spent: dict[str, list[int]] = {state: [] for state in wf.steps}
    for case in await list_cases_in_scope(session=ctx.session, workflow=wf.name,
                                          org_path=org_path):
        entered = case.created_at
        for event in await list_case_events(session=ctx.session, case_id=case.id or 0):
            if event.from_state == event.to_state:
                continue
            if event.from_state in spent:
                spent[event.from_state].append(int((event.at - entered).total_seconds() // 60))
            entered = event.at
    return spent


def summary(spent: dict[str, list[int]]) -> list[dict[str, Any]]:
    rows = []
    for state, minutes in spent.items():
        ordered = sorted(minutes)
        rows.append({
            "state": state, "n": len(ordered),
            "median": int(statistics.median(ordered)) if ordered else None,
            "p90": ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))] if ordered else None,
        })
    return rows


async def show_stage_stats(ctx: Context, wf: Workflow) -> None:
    """HR and leaders: how long each step takes in their org scope."""
    if not any(role in ctx.person.roles for role in VIEW_ROLES):
        raise UserFacingError("workflow/stats_forbidden", {"wf": wf.name})
    spent = await stage_minutes(ctx, wf, ctx.person.org_path)
    ctx.reply("workflow/stats", wf=wf.name, scope=ctx.person.org_path, rows=summary(spent))
