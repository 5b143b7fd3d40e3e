"""Roles by rule (``[directory.roles]``): who gets which role, and the rule that says so."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

RoleReasons = dict[str, list[str]]


def _under(path: str, name: str) -> bool:
    """True when ``path`` is the department ``name`` (a name or a path) or lies below it."""
    parts = [p for p in path.split("/") if p]
    wanted = [p for p in name.split("/") if p]
    if len(wanted) > 1:
        return parts[: len(wanted)] == wanted
    return bool(wanted) and wanted[0] in parts


def _is(path: str, name: str) -> bool:
    wanted = [p for p in name.split("/") if p]
    parts = [p for p in path.split("/") if p]
    return parts == wanted if len(wanted) > 1 else bool(parts) and parts[-1] == name


def rule_matches(
    rule: str, *, member_paths: Sequence[str], led_paths: Sequence[str], title: str
) -> bool:
    """Whether one rule (see :mod:`bot.config.directory`) holds for a person."""
    if rule == "everyone":
        return True
    if rule == "leaders":
        return bool(led_paths)
    kind, _, value = rule.partition(":")
    if kind == "dept":
        return any(_under(p, value) for p in member_paths)
    if kind == "head":
        return any(_is(p, value) for p in led_paths)
    if kind == "title":
        return bool(title) and value in title
    return False


def roles_by_rule(
    rules: Mapping[str, Sequence[str]], *, member_paths: Sequence[str],
    led_paths: Sequence[str], title: str,
) -> RoleReasons:
    """Each role a person gets, with the rules that gave it (in config order)."""
    granted: RoleReasons = {}
    for role, role_rules in rules.items():
        for rule in role_rules:
            if rule_matches(rule, member_paths=member_paths, led_paths=led_paths, title=title):
                granted.setdefault(role, []).append(rule)
    return granted
