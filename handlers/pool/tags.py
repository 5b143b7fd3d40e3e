"""Tags the talent pool derives from what is known about a candidate.

The rules are data: each names a tag and the facts that earn it. Tags are words HR searches
by (``人才库 零售经验 店长``), so they are kept in the language HR works in, like position
titles and requirement labels in the position config.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from handlers.referral.qualification import WorkEntry, education_rank, matching_entries

RETAIL = ("零售", "商场", "百货", "超市", "购物中心", "retail", "mall")
LEAD_TITLES = ("经理", "店长", "主管", "主任", "督导", "manager", "supervisor", "lead")
STORE_TITLES = ("店长", "store manager")
TEAM_WORDS = ("团队", "带领", "带教", "留存", "team")


@dataclass(frozen=True)
class PoolFacts:
    """What the derivation may look at (assembled by the sync from several tables)."""

    work: Sequence[WorkEntry] = ()
    education: str | None = None
    text: str = ""  # achievements, referral reasons, supplements
    referrer_roles: frozenset[str] = frozenset()
    states: frozenset[str] = frozenset()  # every state any of their referrals reached
    best_score: int | None = None
    extra: Sequence[str] = field(default_factory=tuple)  # tags from recall profiles


def _has(text: str, words: Iterable[str]) -> bool:
    folded = fold(text)
    return any(fold(w) in folded for w in words)


def fold(text: str) -> str:
    """Full-width to ASCII and case folded, the form search text is stored and matched in."""
    return unicodedata.normalize("NFKC", text).casefold()


def derive_tags(facts: PoolFacts) -> list[str]:
    """The derived tags of one candidate, in a stable order."""
    tags: list[str] = []

    def add(tag: str, earned: bool) -> None:
        if earned and tag not in tags:
            tags.append(tag)

    add("经理推荐", bool(facts.referrer_roles & {"hiring_manager", "leader", "hr_lead"}))
    add("零售经验", bool(matching_entries(facts.work, industries=RETAIL)))
    add("店长经验", bool(matching_entries(facts.work, titles=STORE_TITLES)))
    add(
        "团队管理",
        bool(matching_entries(facts.work, titles=LEAD_TITLES)) or _has(facts.text, TEAM_WORDS),
    )
    add("本科及以上", (education_rank(facts.education) or 0) >= 3)
    add("面试高分", facts.best_score is not None and facts.best_score >= 80)
    add("曾获offer", bool(facts.states & {"offer", "hired", "no_show"}))
    add("未到岗", "no_show" in facts.states)
    for tag in facts.extra:
        add(tag.strip(), bool(tag.strip()))
    return tags


def search_text(
    *, name: str, tags: Iterable[str], positions: Iterable[str], work: Iterable[WorkEntry],
    education: str | None,
) -> str:
    """The words a pool search matches against, folded, one space between them."""
    words = [name, *tags, *positions, education or ""]
    for entry in work:
        words += [entry.company, entry.industry, entry.title]
    return " ".join(fold(w) for w in dict.fromkeys(w.strip() for w in words) if w)
