"""The sandbox's people and group chats, read from a directory CSV.

The CSV has the columns of ``bot/cli/demo/people.csv`` (``employee_no, name, org_path, roles,
dingtalk_user_id, dingtalk_union_id, wecom_userid, lead``); unknown columns are ignored and
missing platform ids simply leave that person off that platform. Groups are given by the
launcher or derived: one per org unit with at least two people in its subtree, because a
group of one is no chat.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REQUIRED_COLUMNS = ("employee_no", "name")


@dataclass(frozen=True)
class Person:
    """One employee as both platforms know them."""

    id: str  # employee_no: the sandbox's own key
    name: str
    org_path: str = ""
    roles: tuple[str, ...] = ()
    dingtalk_user_id: str = ""
    dingtalk_union_id: str = ""
    wecom_userid: str = ""

    def on(self, platform: str) -> bool:
        """True when the person has an account on ``platform``."""
        return bool(self.dingtalk_user_id if platform == "dingtalk" else self.wecom_userid)

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "name": self.name, "org_path": self.org_path,
            "roles": list(self.roles), "dingtalk_user_id": self.dingtalk_user_id,
            "dingtalk_union_id": self.dingtalk_union_id, "wecom_userid": self.wecom_userid,
        }


@dataclass(frozen=True)
class Group:
    """A group chat; on DingTalk ``id`` is the ``openConversationId``."""

    id: str
    name: str
    members: tuple[str, ...] = field(default_factory=tuple)  # person ids

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "members": list(self.members)}


def load_people(path: Path | str) -> list[Person]:
    """Read people from a directory CSV (UTF-8, with or without BOM).

    Raises:
        ValueError: A required column is missing, or an employee_no repeats.
    """
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
        people: list[Person] = []
        seen: set[str] = set()
        for row in reader:
            pid = (row.get("employee_no") or "").strip()
            if not pid:
                continue
            if pid in seen:
                raise ValueError(f"{path}: employee_no {pid} appears twice")
            seen.add(pid)
            roles = tuple(r for r in (row.get("roles") or "").split("|") if r)
            people.append(Person(
                id=pid, name=(row.get("name") or pid).strip(),
                org_path=(row.get("org_path") or "").strip(), roles=roles,
                dingtalk_user_id=(row.get("dingtalk_user_id") or "").strip(),
                dingtalk_union_id=(row.get("dingtalk_union_id") or "").strip(),
                wecom_userid=(row.get("wecom_userid") or "").strip(),
            ))
    return people


def group_id_for(key: str) -> str:
    """A stable, URL-safe conversation id shaped like DingTalk's (``cid…``)."""
    return "cid" + hashlib.sha1(key.encode()).hexdigest()[:20]


def default_groups(people: Sequence[Person]) -> list[Group]:
    """One group per org unit (``org_path`` prefix) with two or more people beneath it."""
    units: dict[str, list[str]] = {}
    for person in people:
        parts = [p for p in person.org_path.split("/") if p]
        for depth in range(1, len(parts) + 1):
            units.setdefault("/".join(parts[:depth]), []).append(person.id)
    return [
        Group(id=group_id_for(unit), name=f"{unit.rsplit('/', 1)[-1]}群", members=tuple(ids))
        for unit, ids in units.items()
        if len(ids) >= 2
    ]


class Directory:
    """People and groups with lookups by any of a person's ids."""

    def __init__(self, people: Iterable[Person], groups: Iterable[Group]) -> None:
        self.people = list(people)
        self.groups = list(groups)
        self._by_alias: dict[str, Person] = {}
        # employee_no wins over platform ids if a value happens to be both.
        for attr in ("wecom_userid", "dingtalk_union_id", "dingtalk_user_id", "id"):
            for person in self.people:
                alias = getattr(person, attr)
                if alias:
                    self._by_alias[alias] = person
        self._groups = {g.id: g for g in self.groups}

    def add(self, person: Person) -> None:
        """A newcomer (a hire on the fake contacts) joins the directory."""
        self.people.append(person)
        for attr in ("wecom_userid", "dingtalk_union_id", "dingtalk_user_id", "id"):
            alias = getattr(person, attr)
            if alias:
                self._by_alias.setdefault(alias, person)

    def person(self, alias: str) -> Person | None:
        """The person known by ``alias`` (employee_no, DingTalk userId/unionId or WeCom id)."""
        return self._by_alias.get(alias)

    def by_dingtalk_user(self, user_id: str) -> Person | None:
        return next((p for p in self.people if p.dingtalk_user_id == user_id), None)

    def by_union_id(self, union_id: str) -> Person | None:
        return next((p for p in self.people if p.dingtalk_union_id == union_id), None)

    def by_wecom_user(self, userid: str) -> Person | None:
        return next((p for p in self.people if p.wecom_userid == userid), None)

    def group(self, group_id: str) -> Group | None:
        return self._groups.get(group_id)

    def groups_of(self, person_id: str) -> list[Group]:
        return [g for g in self.groups if person_id in g.members]
