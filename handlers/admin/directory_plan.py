"""What a directory sync would change, computed without writing anything.

Each platform member is placed in the org (path, lead, roles by rule), then matched to a
person of the directory: by their platform id first, else by the configured key (mobile
or employee number). The same key on DingTalk and on WeCom makes one person. A key that
points two ways (two people on one platform, or two directory people who already hold
different ids) is a conflict: reported, and nothing is merged on its strength. A person
the synced platforms no longer list is a leaver, unless they are still on a platform this
sync did not read (then only that platform's id is cleared).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.pipeline.directory import Member, OrgSnapshot
from handlers.admin.org_tree import OrgTree, build_tree, lead_of
from handlers.admin.role_rules import RoleReasons, roles_by_rule
from storage.crypto import blind_index, blind_indexes
from storage.models import Person

ID_COLUMNS = {"dingtalk": "dingtalk_user_id", "wecom": "wecom_userid"}


@dataclass
class Seen:
    """One member of one platform, placed in that platform's org."""

    platform: str
    member: Member
    org_path: str
    paths: list[str]
    led_paths: list[str]
    lead_user: str | None
    key: str | None
    direct_lead: bool = False


@dataclass
class Slot:
    """One employee: the directory person (None: new) and what each platform says."""

    person: Person | None
    seen: dict[str, Seen] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    reasons: RoleReasons = field(default_factory=dict)
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    lead: Slot | None = None


@dataclass
class Plan:
    platforms: tuple[str, ...]
    slots: list[Slot] = field(default_factory=list)
    leavers: list[Person] = field(default_factory=list)
    unlinked: list[tuple[Person, str]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fatal: list[str] = field(default_factory=list)
    calls: dict[str, dict[str, int]] = field(default_factory=dict)
    synced_before: int = 0

    @property
    def changes(self) -> list[Slot]:
        return [s for s in self.slots if s.person is None or s.changed]

    def deactivate_share(self) -> float:
        return len(self.leavers) / self.synced_before if self.synced_before else 0.0


def normalise_mobile(raw: str) -> str:
    digits = re.sub(r"[^\d+]", "", raw)
    return re.sub(r"^(\+?86)(?=1\d{10}$)", "", digits)


def _key(member: Member, match_by: str) -> str | None:
    if match_by == "employee_no":
        return member.employee_no or None
    return normalise_mobile(member.mobile) if member.mobile else None


def place(snapshot: OrgSnapshot, tree: OrgTree, match_by: str) -> list[Seen]:
    members = {m.user_id: m for m in snapshot.members if m.active}
    placed = []
    for member in members.values():
        paths = [p for u in member.unit_ids if (p := tree.path_of(u))]
        main = tree.path_of(member.main_unit_id) or (paths[0] if paths else None)
        if main is None:
            tree.notes.append(f"{snapshot.platform}: {member.user_id} is in no listed department")
            continue
        led = [p for u in member.leads_units if (p := tree.path_of(u))]
        lead, direct = lead_of(member, tree, members)
        placed.append(Seen(snapshot.platform, member, main, paths, led, lead,
                           _key(member, match_by), direct))
    return placed


def _existing_key(person: Person, match_by: str) -> str | None:
    return person.employee_no if match_by == "employee_no" else person.mobile_hash


def _match(plan: Plan, seen_all: list[Seen], people: Sequence[Person], match_by: str) -> None:
    by_id = {(p, getattr(x, c)): x for x in people for p, c in ID_COLUMNS.items() if getattr(x, c)}
    listed = {(s.platform, s.member.user_id) for s in seen_all}
    slots: dict[int, Slot] = {}
    rest: list[Seen] = []
    for seen in seen_all:
        person = by_id.get((seen.platform, seen.member.user_id))
        if person is not None and person.id is not None:
            slots.setdefault(person.id, Slot(person)).seen[seen.platform] = seen
        else:
            rest.append(seen)
    dupes = _duplicate_keys(plan, seen_all)
    by_key: dict[str, list[Person]] = {}
    for person in people:
        if (existing := _existing_key(person, match_by)) is not None:
            by_key.setdefault(existing, []).append(person)
    new: dict[str, Slot] = {}
    for seen in rest:
        key = seen.key if seen.key not in dupes else None
        lookups = blind_indexes(key) if key and match_by == "mobile" else [key] if key else []
        matches = list({id(p): p for k in lookups for p in by_key.get(k, [])}.values())
        if len(matches) > 1:
            plan.conflicts.append(f"{_who(seen)}: {len(matches)} directory people share its "
                                  f"{match_by}; not synced until that is resolved")
            continue
        if matches and (person_id := matches[0].id) is not None:
            person = matches[0]
            held = getattr(person, ID_COLUMNS[seen.platform])
            taken = slots.get(person_id)
            claimed = taken is not None and seen.platform in taken.seen
            if claimed or (held and (seen.platform, held) in listed):
                plan.conflicts.append(f"{_who(seen)} has the {match_by} of {person.employee_no}, "
                                      f"who is {seen.platform} {held}; not merged, not synced")
                continue
            if held:
                plan.notes.append(f"{seen.platform} userid renamed: {held} → "
                                  f"{seen.member.user_id} ({person.employee_no})")
            slots.setdefault(person_id, Slot(person)).seen[seen.platform] = seen
            continue
        if key and key in new and seen.platform not in new[key].seen:
            new[key].seen[seen.platform] = seen
            continue
        slot = Slot(None, {seen.platform: seen})
        if key:
            new.setdefault(key, slot)
        plan.slots.append(slot)
    plan.slots[:0] = list(slots.values())
    _cross_platform_conflicts(plan, match_by, dupes)


def _duplicate_keys(plan: Plan, seen_all: list[Seen]) -> set[str]:
    counts: dict[tuple[str, str], list[str]] = {}
    for seen in seen_all:
        if seen.key:
            counts.setdefault((seen.platform, seen.key), []).append(seen.member.user_id)
    dupes = set()
    for (platform, key), users in counts.items():
        if len(users) > 1:
            dupes.add(key)
            plan.conflicts.append(f"{platform}: {', '.join(sorted(users))} share one mobile or "
                                  "employee number; none of them is matched by it")
    return dupes


def _cross_platform_conflicts(plan: Plan, match_by: str, dupes: set[str]) -> None:
    """Two directory people, each matched by platform id, who share a key."""
    owner: dict[str, tuple[Slot, Seen]] = {}
    for slot in plan.slots:
        for seen in slot.seen.values():
            if not seen.key or seen.key in dupes:
                continue
            other, a = owner.setdefault(seen.key, (slot, seen))
            if other is not slot and a.platform != seen.platform:
                plan.conflicts.append(f"{_who(a)} and {_who(seen)} share a {match_by} but are "
                                      "different people in the directory; not merged")


def _who(seen: Seen) -> str:
    return f"{seen.platform} {seen.member.user_id} ({seen.member.name})"


def _desired(slot: Slot, plan: Plan, rules: Mapping[str, Sequence[str]]) -> None:
    ordered = [slot.seen[p] for p in plan.platforms if p in slot.seen]
    first, person = ordered[0], slot.person
    paths = sorted({p for s in ordered for p in s.paths})
    led = sorted({p for s in ordered for p in s.led_paths})
    slot.reasons = roles_by_rule(rules, member_paths=paths, led_paths=led,
                                 title=first.member.title)
    if len({s.org_path for s in ordered}) > 1:
        plan.notes.append(f"{first.member.name}: departments differ between platforms "
                          f"({', '.join(s.org_path for s in ordered)}); {first.platform} decides")
    by_rule = sorted(slot.reasons)
    hand = set(person.roles) - set(person.synced_roles or []) if person else set()
    values: dict[str, Any] = {
        "name": first.member.name, "org_path": first.org_path, "active": True,
        "roles": sorted(hand | set(by_rule)), "synced_roles": by_rule,
    }
    for seen in ordered:
        values[ID_COLUMNS[seen.platform]] = seen.member.user_id
        if seen.platform == "dingtalk":
            values["dingtalk_union_id"] = seen.member.union_id
    mobile = next((s.member.mobile for s in ordered if s.member.mobile), None)
    if mobile:
        current = person.mobile_hash if person else None
        index = normalise_mobile(mobile)
        values["mobile_hash"] = current if current in blind_indexes(index) else blind_index(index)
    slot.values = values
    if person is not None:
        slot.changed = {k: (getattr(person, k), v) for k, v in values.items()
                        if getattr(person, k) != v}


def _leads(plan: Plan) -> None:
    by_user = {(p, s.member.user_id): slot for slot in plan.slots for p, s in slot.seen.items()}
    for slot in plan.slots:
        # A lead named on the person (WeCom direct_leader) beats one inferred from a department.
        ordered = sorted((slot.seen[p] for p in plan.platforms if p in slot.seen),
                         key=lambda s: not s.direct_lead)
        lead = next((by_user.get((s.platform, s.lead_user)) for s in ordered if s.lead_user), None)
        slot.lead = lead
        person = slot.person
        lead_id = lead.person.id if lead and lead.person else None
        if person is not None and (lead is None or lead.person is not None):
            if person.lead_id != lead_id:
                slot.changed["lead_id"] = (person.lead_id, lead_id)
        elif person is not None:
            slot.changed["lead_id"] = (person.lead_id, "new")


def make_plan(
    snapshots: Sequence[OrgSnapshot], people: Sequence[Person], *, match_by: str,
    rules: Mapping[str, Sequence[str]],
) -> Plan:
    """Everything the sync would do; ``plan.fatal`` non-empty means it must do nothing."""
    plan = Plan(platforms=tuple(s.platform for s in snapshots))
    seen_all: list[Seen] = []
    for snapshot in snapshots:
        tree = build_tree(snapshot)
        plan.fatal += tree.fatal
        plan.calls[snapshot.platform] = dict(snapshot.api_calls)
        seen_all += place(snapshot, tree, match_by)
        plan.notes += [*snapshot.notes, *tree.notes]
    if plan.fatal:
        return plan
    _match(plan, seen_all, people, match_by)
    for slot in plan.slots:
        _desired(slot, plan, rules)
    _leads(plan)
    claimed = {slot.person.id for slot in plan.slots if slot.person is not None}
    for person in people:
        held = [p for p, c in ID_COLUMNS.items() if getattr(person, c)]
        synced = [p for p in held if p in plan.platforms]
        if not person.active or not synced:
            continue
        plan.synced_before += 1
        if person.id in claimed:
            continue
        if len(synced) < len(held):
            plan.unlinked += [(person, p) for p in synced]
        else:
            plan.leavers.append(person)
    return plan
