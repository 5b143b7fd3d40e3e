"""Statistics queries over the insight facts, for one org scope and time window.

Every query filters by an ``org_key`` prefix and a date range on an indexed column; none reads
the audit trail. On PostgreSQL the prefix is inlined as a literal so each statement is planned
with it and uses the ``text_pattern_ops`` index (a generic plan for ``LIKE $1`` could not);
the breakdowns share one GROUPING SETS pass and percentiles are ``percentile_cont``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    and_,
    bindparam,
    case,
    func,
    select,
    true,
)
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    TERMINAL_STATES,
    Person,
    RecallContact,
    Referral,
    ReferralCheck,
    ReferralFact,
    ReferralState,
    SlaBreach,
    TalentProfile,
)
from storage.sql import execute


@dataclass(frozen=True)
class Window:
    """Which referrals count: an ``org_key`` prefix ("" for all) and ``since <= t < until``."""

    key: str
    since: datetime | None = None
    until: datetime | None = None


def prefix_match(column: Any, key: str) -> ColumnElement[bool]:
    """``column LIKE 'key%'`` with the key escaped and inlined (see the module docstring)."""
    if not key:
        return true()
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern: BindParameter[str] = bindparam(
        "scope_prefix", escaped + "%", literal_execute=True, unique=True
    )
    return column.like(pattern, escape="\\")


def _window(column_key: Any, column_at: Any, w: Window) -> ColumnElement[bool]:
    parts = [prefix_match(column_key, w.key)]
    if w.since is not None:
        parts.append(column_at >= w.since)
    if w.until is not None:
        parts.append(column_at < w.until)
    return and_(*parts)


def _fact_window(w: Window) -> ColumnElement[bool]:
    return _window(col(ReferralFact.org_key), col(ReferralFact.created_at), w)


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _hired() -> ColumnElement[bool]:
    return col(ReferralFact.state) == "hired"


async def totals(
    *, session: AsyncSession, window: Window, bits: dict[str, int]
) -> dict[str, int]:
    """Referrals in the window, how many are hired and open, and how many reached each bit."""
    reached = col(ReferralFact.reached)
    closed = [s.value for s in TERMINAL_STATES]
    columns = [
        func.count().label("total"),
        _count_if(_hired()).label("hired"),
        _count_if(col(ReferralFact.state).not_in(closed)).label("open"),
        *[_count_if(reached.op("&")(bit) != 0).label(name) for name, bit in bits.items()],
    ]
    row = (await execute(session, select(*columns).where(_fact_window(window)))).one()
    return {k: int(v or 0) for k, v in row._mapping.items()}


async def hires_between(
    *, session: AsyncSession, key: str, since: datetime, until: datetime | None
) -> int:
    """Referrals in scope that ended in a hire within ``[since, until)`` (by hire date, not
    by referral date: what a weekly report calls "hired this week")."""
    parts = [
        prefix_match(col(ReferralFact.org_key), key),
        col(ReferralFact.state) == "hired",
        col(ReferralFact.closed_at) >= since,
    ]
    if until is not None:
        parts.append(col(ReferralFact.closed_at) < until)
    query = select(func.count()).where(*parts)
    return int((await execute(session, query)).scalar_one())


_DIMENSIONS = {
    "referrer": col(ReferralFact.referrer_id),
    "store": col(ReferralFact.org_key),
    "position": col(ReferralFact.position_id),
    "source": col(ReferralFact.source),
}


async def breakdowns(
    *, session: AsyncSession, window: Window, by: Sequence[str], limit: int = 5
) -> dict[str, list[tuple[Any, int, int]]]:
    """(key, referrals, hires) of the ``limit`` biggest groups for each dimension in ``by``.

    PostgreSQL counts every dimension in one pass (GROUPING SETS); SQLite groups once per
    dimension.
    """
    found: dict[str, list[tuple[Any, int, int]]] = {d: [] for d in by}
    hired = _count_if(_hired())
    if session.get_bind().dialect.name == "postgresql":
        keys = [_DIMENSIONS[d] for d in by]
        query = (
            select(*keys, *[func.grouping(k) for k in keys], func.count(), hired)
            .where(_fact_window(window))
            .group_by(func.grouping_sets(*keys))
        )
        for row in (await execute(session, query)).all():
            # GROUPING(k) is 0 only in the rows grouped by k.
            i = [row[len(keys) + j] for j in range(len(keys))].index(0)
            found[by[i]].append((row[i], int(row[-2]), int(row[-1])))
    else:
        for dimension in by:
            key = _DIMENSIONS[dimension]
            query = select(key, func.count(), hired).where(_fact_window(window)).group_by(key)
            rows = (await execute(session, query)).all()
            found[dimension] = [(r[0], int(r[1]), int(r[2])) for r in rows]
    return {
        d: sorted(rows, key=lambda r: (-r[1], r[0]))[:limit] for d, rows in found.items()
    }


@dataclass(frozen=True)
class StageFigure:
    count: int
    mean_s: float
    p50_s: float
    p90_s: float


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    pos = fraction * (len(ordered) - 1)
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


async def stage_figures(
    *, session: AsyncSession, window: Window, stages: Sequence[str]
) -> dict[str, StageFigure]:
    """Count, mean, median and p90 of the seconds spent in each stage (finished visits)."""
    columns = [getattr(ReferralFact, f"{s}_s") for s in stages]
    where = _fact_window(window)
    if session.get_bind().dialect.name == "postgresql":
        select_list = []
        for c in columns:
            select_list += [
                func.count(c), func.avg(c),
                func.percentile_cont(0.5).within_group(c),
                func.percentile_cont(0.9).within_group(c),
            ]
        row = (await execute(session, select(*select_list).where(where))).one()
        figures = {}
        for i, stage in enumerate(stages):
            count, mean, p50, p90 = row[4 * i : 4 * i + 4]
            if count:
                figures[stage] = StageFigure(int(count), float(mean), float(p50), float(p90))
        return figures
    # SQLite has no percentile aggregate; its databases are small enough to sort here.
    rows = (await execute(session, select(*columns).where(where))).all()
    figures = {}
    for i, stage in enumerate(stages):
        values = [float(r[i]) for r in rows if r[i] is not None]
        if values:
            figures[stage] = StageFigure(
                len(values), sum(values) / len(values),
                percentile(values, 0.5), percentile(values, 0.9),
            )
    return figures


async def score_bands(
    *, session: AsyncSession, window: Window, bands: Sequence[int]
) -> list[tuple[int, int, int]]:
    """(lowest score of the band, referrals, hires) for referrals with an interview score.

    ``bands`` are the lower bounds, highest first (e.g. 80, 60, 0).
    """
    score = col(ReferralFact.score)
    band = case(*[(score >= low, low) for low in bands], else_=-1).label("band")
    query = (
        select(band, func.count(), _count_if(_hired()))
        .where(_fact_window(window), score.is_not(None))
        .group_by(band)
    )
    rows = (await execute(session, query)).all()
    found = {int(r[0]): (int(r[1]), int(r[2])) for r in rows}
    return [(low, *found.get(low, (0, 0))) for low in bands]


async def requirement_split(
    *, session: AsyncSession, window: Window
) -> list[tuple[str, str, int, int]]:
    """(requirement label, outcome, referrals, hires) — hire rate met vs unmet per requirement."""
    where = _window(col(ReferralCheck.org_key), col(ReferralCheck.created_at), window)
    hired = _count_if(col(ReferralCheck.hired).is_(True))
    query = (
        select(col(ReferralCheck.label), col(ReferralCheck.outcome), func.count(), hired)
        .where(where)
        .group_by(col(ReferralCheck.label), col(ReferralCheck.outcome))
        .order_by(col(ReferralCheck.label), col(ReferralCheck.outcome))
    )
    rows = (await execute(session, query)).all()
    return [(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]


async def late_by_assignee(
    *, session: AsyncSession, window: Window
) -> list[tuple[int | None, str, int]]:
    """(assignee id, stage, finished visits over the SLA) in the window."""
    where = _window(col(SlaBreach.org_key), col(SlaBreach.entered_at), window)
    query = (
        select(col(SlaBreach.assignee_id), col(SlaBreach.stage), func.count())
        .where(where)
        .group_by(col(SlaBreach.assignee_id), col(SlaBreach.stage))
    )
    rows = (await execute(session, query)).all()
    return [(r[0], str(r[1]), int(r[2])) for r in rows]


async def overdue_by_assignee(
    *, session: AsyncSession, position_ids: Sequence[int], now: datetime
) -> list[tuple[int | None, int]]:
    """(assignee id, open tasks past their deadline right now) for these positions."""
    if not position_ids:
        return []
    # IN the open states, not NOT IN the closed ones: the state index then finds the few
    # open referrals instead of the scan of every referral ever made.
    open_states = [s.value for s in ReferralState if s not in TERMINAL_STATES]
    query = (
        select(col(Referral.assignee_id), func.count())
        .where(
            col(Referral.state).in_(open_states),
            col(Referral.stage_due_at) < now,
            col(Referral.position_id).in_(list(position_ids)),
        )
        .group_by(col(Referral.assignee_id))
    )
    rows = (await execute(session, query)).all()
    return [(r[0], int(r[1])) for r in rows]


@dataclass(frozen=True)
class RecallRow:
    stage: str
    sender_id: int | None
    org_path: str
    replied: bool
    interested: bool
    rehired: bool


async def recall_contacts(*, session: AsyncSession, window: Window) -> list[RecallRow]:
    """Recall messages sent in the window (scope filtered by the caller: profiles keep plain
    org paths, and there are few enough of them)."""
    parts: list[ColumnElement[bool]] = [col(RecallContact.sent_at).is_not(None)]
    if window.since is not None:
        parts.append(col(RecallContact.sent_at) >= window.since)
    if window.until is not None:
        parts.append(col(RecallContact.sent_at) < window.until)
    query = (
        select(
            col(RecallContact.stage), col(RecallContact.sender_id), col(TalentProfile.org_path),
            col(RecallContact.replied_at).is_not(None),
            col(RecallContact.interested_at).is_not(None),
            col(RecallContact.rehired_at).is_not(None),
        )
        .join(TalentProfile, col(TalentProfile.id) == col(RecallContact.profile_id))
        .where(*parts)
    )
    rows = (await execute(session, query)).all()
    return [
        RecallRow(str(r[0]), r[1], str(r[2]), bool(r[3]), bool(r[4]), bool(r[5])) for r in rows
    ]


async def names_of(
    *, session: AsyncSession, person_ids: Sequence[int | None]
) -> dict[int, Person]:
    ids = sorted({i for i in person_ids if i is not None})
    if not ids:
        return {}
    rows = (await execute(session, select(Person).where(col(Person.id).in_(ids)))).scalars().all()
    return {p.id: p for p in rows}
