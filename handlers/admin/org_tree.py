"""One platform's departments as org paths (总部/华东/上海一店), and each member's lead.

A department whose parent is not listed, or a chain of parents that loops, leaves paths
undefined: those are fatal problems and the sync changes nothing. Everything else that is
odd but workable (a leader who is not a member, a person in two departments with different
leads) is noted and resolved the documented way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.pipeline.directory import Member, OrgSnapshot


@dataclass
class OrgTree:
    """Paths and leaders of one platform's units."""

    platform: str
    paths: dict[str, str] = field(default_factory=dict)
    parents: dict[str, str | None] = field(default_factory=dict)
    leaders: dict[str, list[str]] = field(default_factory=dict)
    fatal: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def path_of(self, unit_id: str | None) -> str | None:
        return self.paths.get(unit_id) if unit_id is not None else None


def build_tree(snapshot: OrgSnapshot) -> OrgTree:
    """Paths of every unit, leaders from both the unit and its members' flags."""
    tree = OrgTree(platform=snapshot.platform)
    names = {u.unit_id: u.name.strip().replace("/", "／") or u.unit_id for u in snapshot.units}
    tree.parents = {u.unit_id: u.parent_id for u in snapshot.units}
    for unit in snapshot.units:
        path = _path(unit.unit_id, names, tree)
        if path is not None:
            tree.paths[unit.unit_id] = path
        tree.leaders[unit.unit_id] = list(unit.leader_ids)
    for member in snapshot.members:
        for unit_id in member.leads_units:
            led = tree.leaders.setdefault(unit_id, [])
            if member.user_id not in led:
                led.append(member.user_id)
    units_of = {m.user_id: m.unit_ids for m in snapshot.members}
    for unit_id, led in tree.leaders.items():
        for leader in led:
            if leader in units_of and unit_id not in units_of[leader]:
                tree.notes.append(
                    f"{tree.platform}: leader {leader} of department {unit_id} is not one of "
                    "its members; they lead it all the same"
                )
    return tree


def _path(unit_id: str, names: dict[str, str], tree: OrgTree) -> str | None:
    parts: list[str] = []
    seen: set[str] = set()
    current: str | None = unit_id
    while current is not None:
        if current in seen:
            tree.fatal.append(f"{tree.platform}: departments {sorted(seen)} form a cycle")
            return None
        if current not in names:
            tree.fatal.append(
                f"{tree.platform}: department {unit_id} has parent {current}, which is not "
                "listed (check the app's visibility range)"
            )
            return None
        seen.add(current)
        parts.append(names[current])
        current = tree.parents.get(current)
    return "/".join(reversed(parts))


def lead_of(
    member: Member, tree: OrgTree, members: dict[str, Member]
) -> tuple[str | None, bool]:
    """The platform user id of ``member``'s lead (None: the top of the tree), and whether
    the platform named that lead on the person rather than through a department.

    A leader named on the person (WeCom ``direct_leader``) wins; else the leaders of the
    main department (the person's own department's parent if they lead it), climbing up
    past leaders who are not members.
    """
    for leader in member.direct_leaders:
        if leader in members and leader != member.user_id:
            return leader, True
        if leader not in members:
            tree.notes.append(
                f"{tree.platform}: {member.user_id}'s direct leader {leader} is not a member"
            )
    unit = member.main_unit_id or (member.unit_ids[0] if member.unit_ids else None)
    if len(member.unit_ids) > 1:
        leads = {_unit_lead(u, member, tree, members) for u in member.unit_ids}
        if len(leads) > 1:
            tree.notes.append(
                f"{tree.platform}: {member.user_id} is in {len(member.unit_ids)} departments "
                f"with different leads; the main department {unit} decides"
            )
    return (_unit_lead(unit, member, tree, members) if unit is not None else None), False


def _unit_lead(
    unit: str | None, member: Member, tree: OrgTree, members: dict[str, Member]
) -> str | None:
    seen: set[str] = set()
    while unit is not None and unit not in seen:
        seen.add(unit)
        for leader in tree.leaders.get(unit, []):
            if leader == member.user_id:
                continue
            if leader in members:
                return leader
            note = f"{tree.platform}: leader {leader} of department {unit} is not a member"
            if note not in tree.notes:
                tree.notes.append(note)
        unit = tree.parents.get(unit)
    return None
