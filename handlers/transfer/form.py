"""`调岗` / `transfer`: read the application, refuse what cannot be done, open the case.

`调岗 张经理 杭州店 2026-03-10 至 2026-06-30 支援新店开业` (no end date: for good).
Every refusal names what is wrong and repeats what was typed, and writes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from bot.core.context import Context
from bot.core.errors import UserFacingError
from handlers.sla.calendar import is_working_day
from handlers.transfer.definition import TRANSFER
from handlers.transfer.effects import local_start
from handlers.workflow.cards import announce, case_view
from handlers.workflow.engine import start_case
from handlers.workflow.resolvers import has_role_over
from storage.models import Person
from storage.repo.cases import list_open_cases
from storage.repo.people import find_people_by_name, get_person, list_people

DATE_PATTERN = re.compile(r"^(?:(\d{4})[-/.])?(\d{1,2})[-/.](\d{1,2})$")
_SKIP = {"到", "至", "调往", "to", "until", "长期", "permanent", "起", "from"}
_SELF = {"我", "me", "self"}


@dataclass
class Application:
    """What one `调岗` line said; ``missing`` lists what it did not."""

    text: str
    person: str = ""
    org: str = ""
    dates: list[date] = field(default_factory=list)
    reason: str = ""
    bad_dates: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        dates = self.dates or self.bad_dates
        wanted = (("person", self.person), ("org", self.org), ("date", dates),
                  ("reason", self.reason))
        return [name for name, value in wanted if not value]


def parse_application(text: str, year: int) -> Application:
    """Split a line into person, target org, effective [and end] date, and reason."""
    app = Application(text=text)
    rest: list[str] = []
    for token in text.split():
        match = DATE_PATTERN.match(token)
        if match:
            y, m, d = match.groups()
            try:
                app.dates.append(date(int(y or year), int(m), int(d)))
            except ValueError:
                app.bad_dates.append(token)
        elif token.lower() in _SKIP:
            continue
        elif not app.person:
            app.person = token
        elif not app.org:
            app.org = token
        else:
            rest.append(token)
    app.reason = " ".join(rest)
    return app


def _short_org(token: str, orgs: set[str]) -> str | None:
    """``杭州店`` for ``总部/华东/杭州店`` when exactly one org ends so."""
    found = [o for o in orgs if o.rsplit("/", 1)[-1] == token]
    return found[0] if len(found) == 1 else None


async def known_orgs(ctx: Context) -> set[str]:
    """Every org on record: each person's path and the paths above it."""
    orgs: set[str] = set()
    for p in await list_people(session=ctx.session):
        if p.active:
            parts = p.org_path.split("/")
            orgs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return orgs


def may_apply_for(actor: Person, subject: Person, leads: list[int]) -> bool:
    """Oneself, someone in one's reporting line, or HR whose scope covers the person."""
    return (
        actor.id == subject.id
        or actor.id in leads
        or any(has_role_over(actor, r, subject.org_path) for r in ("hr", "hr_lead"))
    )


async def lead_chain(ctx: Context, person: Person) -> list[int]:
    chain: list[int] = []
    current = person
    while current.lead_id is not None and current.lead_id not in chain:
        chain.append(current.lead_id)
        nxt = await get_person(session=ctx.session, person_id=current.lead_id)
        if nxt is None:
            break
        current = nxt
    return chain


def refuse(why: str, app: Application | None = None, **more: object) -> UserFacingError:
    return UserFacingError("transfer/refused", {"why": why, "typed": app.text if app else "",
                                                **more})


async def resolve_subject(ctx: Context, app: Application) -> Person:
    if app.person.lower() in _SELF:
        return ctx.person
    people = await find_people_by_name(session=ctx.session, name=app.person)
    if not people:
        raise refuse("unknown_person", app, person=app.person)
    if len(people) > 1:
        raise refuse("ambiguous_person", app, person=app.person,
                     options=[f"{p.name}（{p.org_path}）" for p in people])
    return people[0]


async def check_dates(ctx: Context, app: Application) -> tuple[date, date | None]:
    if app.bad_dates:
        raise refuse("bad_date", app, value=app.bad_dates[0])
    effective = app.dates[0]
    until = app.dates[1] if len(app.dates) > 1 else None
    today = ctx.now.astimezone(ctx.settings.tz).date()
    if effective < today:
        raise refuse("past_date", app, value=effective.isoformat())
    if not await is_working_day(ctx, local_start(ctx, effective)):
        raise refuse("non_working_day", app, value=effective.isoformat())
    if until is not None and until <= effective:
        raise refuse("end_before_start", app, value=until.isoformat())
    return effective, until


async def open_transfer(
    ctx: Context,
    subject: Person,
    to_org: str,
    effective: date,
    until: date | None,
    reason: str,
    *,
    kind: str = "move",
    previous: int | None = None,
    home_org: str | None = None,
    app: Application | None = None,
) -> None:
    """Refuse a second open transfer; otherwise open the case and tell who must act."""
    open_cases = await list_open_cases(session=ctx.session, workflow=TRANSFER.name,
                                       open_states=TRANSFER.open_states,
                                       subject_person_id=subject.id)
    if open_cases:
        raise refuse("already_open", app, person=subject.name, case_id=open_cases[0].id)
    data = {
        "kind": kind, "from_org": subject.org_path, "to_org": to_org,
        "home_org": home_org or subject.org_path, "effective": effective.isoformat(),
        "until": until.isoformat() if until else "", "reason": reason, "previous": previous,
    }
    moved = await start_case(ctx, TRANSFER, subject_person=subject, org_path=subject.org_path,
                             data=data, note=reason)
    await announce(ctx, TRANSFER, moved)
    ctx.reply("transfer/submitted", wf=TRANSFER.name, c=await case_view(ctx, TRANSFER,
                                                                         moved.case))


async def apply_transfer(ctx: Context, text: str) -> None:
    """The whole `调岗 …` line: parse, check each rule in turn, open the case."""
    orgs = await known_orgs(ctx)
    app = parse_application(text, ctx.now.astimezone(ctx.settings.tz).year)
    if app.missing:
        raise UserFacingError("transfer/usage", {"missing": app.missing, "typed": text})
    subject = await resolve_subject(ctx, app)
    if not subject.active:
        raise refuse("inactive_person", app, person=subject.name)
    if not may_apply_for(ctx.person, subject, await lead_chain(ctx, subject)):
        raise refuse("out_of_scope", app, person=subject.name)
    to_org = app.org if app.org in orgs else _short_org(app.org, orgs)
    if to_org is None:
        raise refuse("unknown_org", app, value=app.org)
    if to_org == subject.org_path:
        raise refuse("same_org", app, value=to_org)
    effective, until = await check_dates(ctx, app)
    await open_transfer(ctx, subject, to_org, effective, until, app.reason, app=app)
