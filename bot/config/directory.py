"""``[directory]``: how the directory is synced from DingTalk and WeCom.

``[directory.roles]`` maps each hrbot role to rules; a person gets the role when any rule
matches:

* ``"everyone"``: every member;
* ``"leaders"``: anyone who leads a department (主管 / 部门负责人);
* ``"dept:人力资源部"``: members of a department with that name (or org path, e.g.
  ``"dept:总部/人力资源部"``) and of the departments below it;
* ``"head:人力资源部"``: the leaders of that department;
* ``"title:店长"``: members whose title (职位) contains the text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import time
from typing import Any

from bot.config import parsing as cp

ROLE_NAMES = ("referrer", "hr", "hr_lead", "leader", "hiring_manager", "admin")
RULE_KINDS = ("dept", "head", "title")
RULE_WORDS = ("everyone", "leaders")
DEFAULT_ROLE_RULES: dict[str, tuple[str, ...]] = {
    "referrer": ("everyone",),
    "leader": ("leaders",),
    "hr": ("dept:人力资源部",),
    "hr_lead": ("head:人力资源部",),
}


def check_rule(rule: str) -> str:
    """One rule, stripped; raises BadValue naming what is wrong."""
    rule = rule.strip()
    if rule in RULE_WORDS:
        return rule
    kind, colon, value = rule.partition(":")
    if not colon or kind.strip() not in RULE_KINDS or not value.strip():
        raise cp.BadValue(
            f"unknown rule {cp.show(rule)}; use everyone, leaders, dept:NAME, head:NAME "
            "or title:TEXT"
        )
    return f"{kind.strip()}:{value.strip()}"


def role_rules(value: Any) -> dict[str, tuple[str, ...]]:
    """Accept a table of role -> list of rules (a JSON object from env)."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            raise cp.BadValue('must be a JSON object like {"hr": ["dept:人力资源部"]}') from None
    if not isinstance(value, dict):
        raise cp.BadValue(f"must be a table of lists (got {cp.type_name(value)})")
    rules: dict[str, tuple[str, ...]] = {}
    for role, items in value.items():
        if role not in ROLE_NAMES:
            raise cp.BadValue(f"unknown role {cp.show(role)}; roles: {', '.join(ROLE_NAMES)}")
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise cp.BadValue(f"{role} must be a list of rules")
        rules[role] = tuple(check_rule(i) for i in items)
    return rules


def share(value: Any) -> float:
    """Accept a fraction 0 < x ≤ 1 (0.1 or "10%")."""
    raw = value.strip() if isinstance(value, str) else value
    percent = isinstance(raw, str) and raw.endswith("%")
    try:
        number = float(raw[:-1]) / 100 if percent else float(raw)
    except (TypeError, ValueError):
        raise cp.BadValue(f"must be a share like 0.1 or \"10%\" (got {cp.show(value)})") from None
    if isinstance(raw, bool) or not 0 < number <= 1:
        raise cp.BadValue(f"must be above 0 and at most 1 (got {cp.show(value)})")
    return number


def _m(parse: cp.Converter) -> dict[str, Any]:
    return {"parse": parse, "redact": None}


@dataclass(frozen=True)
class DirectoryConfig:
    """``[directory]``: matching people across platforms, safety limit, nightly run, roles."""

    # How one employee on DingTalk and on WeCom is recognised as the same person.
    match_by: str = field(default="mobile", metadata=_m(cp.choice("mobile", "employee_no")))
    # A sync that would deactivate more than this share of synced people stops (--force).
    max_deactivate_share: float = field(default=0.1, metadata=_m(share))
    nightly: bool = field(default=True, metadata=_m(cp.boolean))
    nightly_at: time = field(default=time(2, 30), metadata=_m(cp.clock_time))
    # WeCom has no employee-number field: the custom field (extattr) that holds it.
    wecom_employee_no_attr: str = field(default="工号", metadata=_m(cp.text))
    roles: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_ROLE_RULES), metadata=_m(role_rules)
    )
