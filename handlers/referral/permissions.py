"""Who may do what to a referral, as data: role x action x scope relation.

``PERMISSIONS`` names the roles that may take each action; ``ROLE_GRANTS`` says which relation
between a person and a referral lets a role apply. ``permits`` is the one check every read and
every transition goes through (``handlers.referral.workflow.may_act`` delegates here).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from storage.models import Person, Position, Referral
from storage.repo.people import in_scope

__all__ = [
    "CONSENT", "ERASE", "PERMISSIONS", "ROLE_GRANTS", "VIEW", "VIEWERS", "Grant", "Relation",
    "permits", "relations",
]


class Relation(StrEnum):
    """How a person stands to one referral."""

    OWN = "own"  # they referred the candidate
    ASSIGNED = "assigned"  # the referral's current task is theirs
    POSITION_HM = "position_hm"  # the position names them as its hiring manager
    IN_SCOPE = "in_scope"  # the position's org unit lies at or below theirs


@dataclass(frozen=True)
class Grant:
    """A role applies when the person holds ``holds`` (None: no role needed) and stands in any
    of ``via`` to the referral."""

    via: frozenset[Relation]
    holds: str | None = None


def _g(*via: Relation, holds: str | None = None) -> Grant:
    return Grant(frozenset(via), holds)


R = Relation

ROLE_GRANTS: dict[str, tuple[Grant, ...]] = {
    "referrer": (_g(R.OWN),),
    "hr": (_g(R.IN_SCOPE, holds="hr"),),
    # A leader approves what is assigned to them (a task routed past their scope) or in scope.
    "leader": (_g(R.ASSIGNED, R.IN_SCOPE, holds="leader"),),
    # Named on the position, or asked for feedback, counts without the directory role.
    "hiring_manager": (
        _g(R.POSITION_HM, R.ASSIGNED),
        _g(R.IN_SCOPE, holds="hiring_manager"),
    ),
    # Erasure reaches a person's data in every referral: only within the lead's own scope.
    "hr_lead": (_g(R.IN_SCOPE, holds="hr_lead"),),
    "admin": (_g(R.IN_SCOPE, holds="admin"),),
}

VIEW = "referral.view"
ERASE = "gdpr.erase"
CONSENT = "gdpr.consent"
VIEWERS = frozenset({"referrer", "hr", "leader", "hiring_manager"})

_HR, _LEADER, _HM = frozenset({"hr"}), frozenset({"leader"}), frozenset({"hiring_manager"})
_INTERVIEW = frozenset({"hr", "hiring_manager"})

# The workflow's transitions must agree with this table
# (tests/handlers/referral/test_permissions.py checks it).
PERMISSIONS: dict[str, frozenset[str]] = {
    "review.pass": _HR,
    "review.need_info": _HR,
    "review.reject": _HR,
    "referral.supplement": frozenset({"referrer"}),
    "approval.approve": _LEADER,
    "approval.reject": _LEADER,
    "interview.pass": _INTERVIEW,
    "interview.fail": _INTERVIEW,
    "feedback.request": _HR,
    "feedback.hire": _HM,
    "feedback.another": _HM,
    "feedback.no": _HM,
    "offer.make": _HR,
    "offer.hired": _HR,
    "offer.no_show": _HR,
    "offer.declined": _HR,
    "referral.withdraw": frozenset({"referrer", "hr"}),
    "pool.add": _HR,
    VIEW: VIEWERS,
    # Data-subject requests from chat (the CLI is the operator's and checks no role).
    ERASE: frozenset({"hr_lead", "admin"}),
    CONSENT: frozenset({"referrer"}),
}


def relations(person: Person, referral: Referral, position: Position) -> frozenset[Relation]:
    """Every relation ``person`` has to ``referral`` (on ``position``)."""
    found = set()
    if person.id is not None:
        if person.id == referral.referrer_id:
            found.add(R.OWN)
        if person.id == referral.assignee_id:
            found.add(R.ASSIGNED)
        if person.id == position.hiring_manager_id:
            found.add(R.POSITION_HM)
    if in_scope(person.org_path, position.org_path):
        found.add(R.IN_SCOPE)
    return frozenset(found)


def _granted(person: Person, role: str, have: frozenset[Relation]) -> bool:
    return any(
        (g.holds is None or g.holds in person.roles) and g.via & have
        for g in ROLE_GRANTS.get(role, ())
    )


def permits(
    person: Person,
    roles: frozenset[str],
    referral: Referral,
    position: Position,
    acting_for: Person | None = None,
) -> bool:
    """True when ``person`` may act on ``referral`` in one of ``roles``.

    Nobody decides on a referral they made, except as its referrer (a conflict of interest the
    grants alone would not catch: a referrer may also be HR or a hiring manager in scope). A
    delegate holding the task for ``acting_for`` may do what that person may do.
    """
    have = relations(person, referral, position)
    if R.OWN in have:
        return "referrer" in roles
    if (
        acting_for is not None
        and acting_for.id != person.id
        and R.ASSIGNED in have
        and permits(acting_for, roles, referral, position)
    ):
        return True
    return any(_granted(person, role, have) for role in roles)
