"""Directory and position import: idempotent upserts, bad rows reported by line, good rows kept."""

from __future__ import annotations

import csv
import io
import tomllib
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.referral.qualification import validate_requirement
from storage.models import Person, Position

ROLES = frozenset({"referrer", "hr", "hr_lead", "leader", "hiring_manager", "admin"})
STAGES = frozenset({"hr_review", "needs_info", "leader_approval", "feedback"})
PEOPLE_COLUMNS = ("employee_no", "name", "org_path", "roles")


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _org_path(raw: str) -> str:
    parts = [p.strip() for p in raw.replace("\\", "/").split("/") if p.strip()]
    return "/".join(parts)


async def import_directory(*, session: AsyncSession, text: str) -> ImportReport:
    """CSV with columns employee_no,name,org_path,roles[,dingtalk_user_id,dingtalk_union_id,
    wecom_userid,lead]; roles separated by '|'; lead is an employee_no."""
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in PEOPLE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        report.errors.append((1, f"missing columns: {', '.join(missing)}"))
        return report
    leads: list[tuple[int, Person, str]] = []
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        values = {k: (v or "").strip() for k, v in row.items() if k}
        problem = _person_problem(values, seen)
        if problem:
            report.errors.append((line, problem))
            continue
        seen.add(values["employee_no"])
        person = (
            await session.exec(select(Person).where(Person.employee_no == values["employee_no"]))
        ).first()
        report.created += person is None
        report.updated += person is not None
        person = person or Person(employee_no=values["employee_no"], name="", org_path="")
        person.name = values["name"]
        person.org_path = _org_path(values["org_path"])
        person.roles = sorted({r.strip() for r in values["roles"].split("|") if r.strip()})
        person.dingtalk_user_id = values.get("dingtalk_user_id") or None
        person.dingtalk_union_id = values.get("dingtalk_union_id") or None
        person.wecom_userid = values.get("wecom_userid") or None
        session.add(person)
        try:
            async with session.begin_nested():
                await session.flush()
        except Exception as err:  # a platform id already used by someone else
            report.errors.append((line, f"cannot save: {type(err).__name__}"))
            continue
        if values.get("lead"):
            leads.append((line, person, values["lead"]))
    for line, person, lead_no in leads:
        lead = (await session.exec(select(Person).where(Person.employee_no == lead_no))).first()
        if lead is None:
            report.errors.append((line, f"lead {lead_no!r} is not in the directory"))
            continue
        person.lead_id = lead.id
        session.add(person)
    await session.flush()
    return report


def _person_problem(values: dict[str, str], seen: set[str]) -> str | None:
    for column in ("employee_no", "name", "org_path"):
        if not values.get(column):
            return f"{column} is empty"
    if values["employee_no"] in seen:
        return f"employee_no {values['employee_no']!r} appears twice"
    roles = {r.strip() for r in values.get("roles", "").split("|") if r.strip()}
    unknown = roles - ROLES
    if unknown:
        return f"unknown roles {sorted(unknown)} (known: {', '.join(sorted(ROLES))})"
    return None


async def import_positions(*, session: AsyncSession, text: str) -> ImportReport:
    """TOML with [[position]] tables (code, title, org_path, hiring_manager, leader,
    leader_approval, sla, [[position.requirement]])."""
    report = ImportReport()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        report.errors.append((getattr(err, "lineno", 0) or 0, f"invalid TOML: {err}"))
        return report
    for index, spec in enumerate(data.get("position", []), start=1):
        try:
            await _upsert_position(session, spec, report)
        except ValueError as err:
            report.errors.append((_line_of(text, spec, index), str(err)))
    await session.flush()
    return report


def _line_of(text: str, spec: Any, index: int) -> int:
    """Line of the index-th [[position]] header, so an admin finds the bad table."""
    count = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() == "[[position]]":
            count += 1
            if count == index:
                return number
    return 0


async def _upsert_position(
    session: AsyncSession, spec: dict[str, Any], report: ImportReport
) -> None:
    for key in ("code", "title", "org_path"):
        if not isinstance(spec.get(key), str) or not spec[key].strip():
            raise ValueError(f"position.{key}: required text")
    requirements = spec.get("requirement", [])
    for number, requirement in enumerate(requirements, start=1):
        try:
            validate_requirement(requirement)
        except ValueError as err:
            raise ValueError(f"{spec['code']}: requirement {number}: {err}") from None
    sla = spec.get("sla", {})
    bad = [
        k for k, v in sla.items() if k not in STAGES or not isinstance(v, int | float) or v <= 0
    ]
    if bad:
        raise ValueError(
            f"{spec['code']}: sla keys {bad} (stages: {', '.join(sorted(STAGES))}, hours > 0)"
        )
    people = {}
    for role in ("hiring_manager", "leader"):
        if spec.get(role):
            person = (
                await session.exec(select(Person).where(Person.employee_no == str(spec[role])))
            ).first()
            if person is None:
                raise ValueError(f"{spec['code']}: {role} {spec[role]!r} is not in the directory")
            people[role] = person.id
    position = (await session.exec(select(Position).where(Position.code == spec["code"]))).first()
    report.created += position is None
    report.updated += position is not None
    position = position or Position(code=spec["code"], title="", org_path="")
    position.title = spec["title"].strip()
    position.org_path = _org_path(spec["org_path"])
    position.requirements = list(requirements)
    position.sla_hours = {k: float(v) for k, v in sla.items()}
    position.hiring_manager_id = people.get("hiring_manager")
    position.leader_id = people.get("leader")
    position.leader_approval = bool(spec.get("leader_approval", True))
    position.open = bool(spec.get("open", True))
    session.add(position)
    await session.flush()
