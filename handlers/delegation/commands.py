"""`委托` / `休假` / `取消委托`: a person names a delegate, or records time away.

While a delegation runs, the person's waiting tasks (of the kinds named, or all) go to the
delegate and new ones are routed there (handlers.referral.workflow); at its end, what the delegate
did not finish comes back. Time away without a delegate only makes escalations skip them.
Delegation stays inside one reporting line and goes one hop: nobody delegates to someone
who is away or delegating, and a delegate never decides on their own referral.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from bot.core.context import Context, JobContext
from bot.core.errors import UserFacingError
from bot.core.routing import Router
from bot.core.text import normalize_text
from handlers.delegation.dates import Period, parse_period
from handlers.delegation.moves import hand_over, move_task
from handlers.delegation.rules import KIND_WORDS, acting_for, covers, same_line, task_kind
from storage.models import AwayPeriod, DueItem, Person
from storage.repo.delegation import (
    add_away_period,
    cancel_away_period,
    get_away_period,
    list_overlapping_periods,
    list_periods_of,
)
from storage.repo.due import cancel_due_items, schedule_due_item
from storage.repo.people import find_people_by_name, get_person, get_person_by_employee_no
from storage.repo.referrals import list_assigned_referrals

router = Router("delegation")

MAX_DAYS = 90
_DELEGATE_WORDS = ("委托", "delegate", "交给")


async def find_person(ctx: Context, name: str, template: str, **extra: Any) -> Person:
    """The directory entry a typed name (or employee number) means.

    Raises:
        UserFacingError: nobody or several people by that name (``template`` answers).
    """
    people = await find_people_by_name(session=ctx.session, name=name)
    if not people:
        by_no = await get_person_by_employee_no(session=ctx.session, employee_no=name)
        people = [by_no] if by_no is not None and by_no.active else []
    if not people:
        raise UserFacingError(template, {"reason": "unknown_person", "who": name, **extra})
    if len(people) > 1:
        raise UserFacingError(
            template,
            {"reason": "ambiguous_person", "who": name,
             "options": [p.employee_no for p in people], **extra},
        )
    return people[0]


def _bounds(ctx: Context | JobContext, first: date, last: date) -> tuple[datetime, datetime]:
    tz = ctx.settings.tz
    return (
        datetime.combine(first, time.min, tzinfo=tz),
        datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz),
    )


def period_view(ctx: Context | JobContext, period: AwayPeriod, person: Person,
                delegate: Person | None, me: Person | None = None) -> dict[str, Any]:
    tz, today = ctx.settings.tz, ctx.now.astimezone(ctx.settings.tz).date()
    first = period.starts_at.astimezone(tz).date()
    last = (period.ends_at.astimezone(tz) - timedelta(microseconds=1)).date()

    def show(day: date) -> str:
        return day.strftime("%m-%d") if day.year == today.year else day.isoformat()

    return {
        "id": period.id,
        "person": person.name,
        "delegate": delegate.name if delegate else "",
        "first": show(first),
        "last": show(last),
        "kinds": list(period.stages),
        "leave": period.leave,
        "mine": me is not None and period.person_id == me.id,
        "active": period.starts_at <= ctx.now < period.ends_at,
    }


def _kinds(words: str) -> list[str]:
    kinds = []
    for word in re.split(r"[\s,，、/]+", words.strip()):
        if not word:
            continue
        kind = KIND_WORDS.get(word.lower())
        if kind is None:
            raise UserFacingError("delegation_refused", {"reason": "usage"})
        if kind not in kinds:
            kinds.append(kind)
    return kinds


async def _check(
    ctx: Context, starts_at: datetime, ends_at: datetime, delegate: Person | None
) -> None:
    """Refuse what would break the rules: scope, one hop, one period at a time."""
    me = ctx.person
    refuse = "delegation_refused"
    overlap = await list_overlapping_periods(
        session=ctx.session, starts_at=starts_at, ends_at=ends_at, person_id=me.id
    )
    if overlap:
        raise UserFacingError(refuse, {"reason": "overlap", "detail": str(overlap[0].id)})
    for period in await list_overlapping_periods(
        session=ctx.session, starts_at=starts_at, ends_at=ends_at, delegate_id=me.id
    ):
        principal = await ctx.session.get(Person, period.person_id)
        view = period_view(ctx, period, principal or me, me)
        raise UserFacingError(refuse, {
            "reason": "principal_is_delegate", "who": principal.name if principal else "",
            "detail": f"{view['first']} ~ {view['last']}"})
    if delegate is None:
        return
    if delegate.id == me.id:
        raise UserFacingError(refuse, {"reason": "self"})
    if not delegate.active:
        raise UserFacingError(refuse, {"reason": "inactive", "who": delegate.name})
    if not same_line(me, delegate):
        raise UserFacingError(refuse, {"reason": "out_of_scope", "who": delegate.name})
    busy = await list_overlapping_periods(
        session=ctx.session, starts_at=starts_at, ends_at=ends_at, person_id=delegate.id
    )
    if busy:
        view = period_view(ctx, busy[0], delegate, None)
        raise UserFacingError(refuse, {
            "reason": "delegate_busy", "who": delegate.name,
            "detail": f"{view['first']} ~ {view['last']}"})


async def _register(
    ctx: Context, period: Period, delegate: Person | None, kinds: list[str], leave: bool
) -> None:
    today = ctx.now.astimezone(ctx.settings.tz).date()
    if period.last < today:
        raise UserFacingError("delegation_refused", {"reason": "past"})
    if (period.last - period.first).days >= MAX_DAYS:
        raise UserFacingError("delegation_refused", {"reason": "too_long"})
    starts_at, ends_at = _bounds(ctx, period.first, period.last)
    await _check(ctx, starts_at, ends_at, delegate)
    away = await add_away_period(
        session=ctx.session,
        period=AwayPeriod(
            person_id=ctx.person.id or 0,
            delegate_id=delegate.id if delegate else None,
            starts_at=starts_at,
            ends_at=ends_at,
            stages=kinds,
            leave=leave,
            created_by=ctx.person.id,
            created_at=ctx.now,
        ),
    )
    started = starts_at <= ctx.now
    moved = await start_period(ctx, away) if started else []
    if not started:
        await _schedule(ctx, away, "away.start", starts_at)
    await _schedule(ctx, away, "away.end", ends_at)
    view = period_view(ctx, away, ctx.person, delegate, ctx.person)
    ctx.reply("delegation_set", p=view, started=started, moved=len(moved))
    if delegate is not None:
        ctx.notify(delegate, "delegation_notice", p=view, moved=len(moved))


async def _schedule(ctx: Context, period: AwayPeriod, kind: str, at: datetime) -> None:
    await schedule_due_item(
        session=ctx.session, kind=kind, subject=f"away:{period.id}", due_at=at,
        payload={"period_id": period.id}, now=ctx.now,
    )


async def start_period(ctx: Context | JobContext, period: AwayPeriod) -> list[dict[str, Any]]:
    """Hand the person's waiting tasks that the delegation covers to the delegate."""
    principal = await ctx.session.get(Person, period.person_id)
    delegate = await get_person(session=ctx.session, person_id=period.delegate_id)
    if principal is None or delegate is None or not delegate.active:
        return []
    moved = []
    waiting = await list_assigned_referrals(session=ctx.session, assignee_id=principal.id or 0)
    for referral in waiting:
        kind = await task_kind(ctx.session, referral)
        if kind in (None, "needs_info") or not covers(period, kind):
            continue
        # One hop only: a task the person holds for someone else stays with them.
        if delegate.id == referral.referrer_id or await acting_for(ctx.session, referral):
            continue
        move = await move_task(ctx, referral, delegate, action="task.delegate",
                               assignee_for=principal)
        view = await hand_over(ctx, move)
        if view is not None:
            moved.append(view)
    return moved


async def end_period(ctx: Context | JobContext, period: AwayPeriod) -> list[dict[str, Any]]:
    """What the delegate still holds for the person goes back to them."""
    principal = await ctx.session.get(Person, period.person_id)
    if principal is None or period.delegate_id is None:
        return []
    returned = []
    for referral in await list_assigned_referrals(
        session=ctx.session, assignee_id=period.delegate_id
    ):
        holder_for = await acting_for(ctx.session, referral)
        if holder_for is None or holder_for.id != principal.id:
            continue
        move = await move_task(ctx, referral, principal, action="task.return")
        view = await hand_over(ctx, move)
        if view is not None:
            returned.append(view)
    return returned


@router.command("委托", "delegate")
async def delegate_tasks(ctx: Context) -> None:
    """`委托 李四 12-01 至 12-07 [审批]`; `委托` alone lists what is registered."""
    text = normalize_text(ctx.args)
    if not text:
        await _list(ctx)
        return
    today = ctx.now.astimezone(ctx.settings.tz).date()
    period = parse_period(text, today)
    if period is None or not period.before:
        raise UserFacingError("delegation_refused", {"reason": "usage"})
    delegate = await find_person(ctx, period.before, "delegation_refused")
    await _register(ctx, period, delegate, _kinds(period.after), leave=False)


@router.command("休假", "away")
async def record_away(ctx: Context) -> None:
    """`休假 12-01 至 12-07 [委托 李四 [审批]]`."""
    text = normalize_text(ctx.args)
    today = ctx.now.astimezone(ctx.settings.tz).date()
    period = parse_period(text, today)
    if period is None or period.before:
        raise UserFacingError("delegation_refused", {"reason": "usage"})
    delegate, kinds = None, []
    if period.after:
        word, _, rest = period.after.partition(" ")
        if word.lower() not in _DELEGATE_WORDS or not rest.strip():
            raise UserFacingError("delegation_refused", {"reason": "usage"})
        name, _, kind_words = rest.strip().partition(" ")
        delegate = await find_person(ctx, name, "delegation_refused")
        kinds = _kinds(kind_words)
    await _register(ctx, period, delegate, kinds, leave=True)


@router.command("取消委托", "撤销委托", "取消休假", "undelegate")
async def cancel_delegation(ctx: Context) -> None:
    """`取消委托 [编号]`: end a delegation or absence now (tasks come back)."""
    arg = normalize_text(ctx.args).lstrip("#")
    mine = [
        p for p in await list_periods_of(session=ctx.session, person_id=ctx.person.id or 0,
                                         now=ctx.now)
        if p.person_id == ctx.person.id
    ]
    if arg:
        mine = [p for p in mine if str(p.id) == arg]
        if not mine:
            raise UserFacingError("delegation_refused", {"reason": "not_found", "detail": arg})
    if not mine:
        raise UserFacingError("delegation_refused", {"reason": "nothing"})
    for period in mine:
        returned = await stop_period(ctx, period)
        delegate = await get_person(session=ctx.session, person_id=period.delegate_id)
        view = period_view(ctx, period, ctx.person, delegate, ctx.person)
        ctx.reply("delegation_cancelled", p=view, returned=len(returned))


async def stop_period(ctx: Context | JobContext, period: AwayPeriod) -> list[dict[str, Any]]:
    """Cancel a period: its clock items go, and a running delegation hands tasks back."""
    running = period.starts_at <= ctx.now < period.ends_at
    await cancel_away_period(session=ctx.session, period=period, now=ctx.now)
    await cancel_due_items(session=ctx.session, subject=f"away:{period.id}", now=ctx.now)
    return await end_period(ctx, period) if running else []


async def _list(ctx: Context) -> None:
    views = []
    for period in await list_periods_of(session=ctx.session, person_id=ctx.person.id or 0,
                                        now=ctx.now):
        person = await ctx.session.get(Person, period.person_id)
        delegate = await get_person(session=ctx.session, person_id=period.delegate_id)
        views.append(period_view(ctx, period, person or ctx.person, delegate, ctx.person))
    ctx.reply("delegation_list", periods=views)


async def begin_away(job: JobContext, item: DueItem) -> None:
    """A delegation registered in advance starts: the waiting tasks move now."""
    period = await get_away_period(session=job.session, period_id=item.payload["period_id"])
    if period is None or period.cancelled_at is not None or period.delegate_id is None:
        return
    moved = await start_period(job, period)
    principal = await job.session.get(Person, period.person_id)
    delegate = await job.session.get(Person, period.delegate_id)
    if moved and principal is not None and delegate is not None:
        job.notify(principal, "task_moved", reason="delegate", tasks=moved, to=delegate.name,
                   at=job.now)


async def end_away(job: JobContext, item: DueItem) -> None:
    """A delegation runs out: the delegate's unfinished tasks for the person go back."""
    period = await get_away_period(session=job.session, period_id=item.payload["period_id"])
    if period is None or period.cancelled_at is not None:
        return
    returned = await end_period(job, period)
    principal = await job.session.get(Person, period.person_id)
    delegate = await get_person(session=job.session, person_id=period.delegate_id)
    if returned and principal is not None and delegate is not None:
        job.notify(delegate, "task_moved", reason="return", tasks=returned, to=principal.name,
                   at=job.now)


DUE_HANDLERS = {"away.start": begin_away, "away.end": end_away}
