"""Qualification rules: candidate facts vs. position requirements, as structured verdicts."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

DAYS_PER_YEAR = 365.25
FIGURE_WINDOW = 12  # numbers further from the keyword usually measure something else
OPEN_END = "至今"  # resume convention for a job still held; templates may swap it


class Outcome(StrEnum):
    """Verdict for one requirement; UNKNOWN means the facts cannot decide it."""

    MET = "met"
    UNMET = "unmet"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class WorkEntry:
    """One job: ``start`` is the first day of its month, ``end`` None while still held."""

    start: date
    end: date | None
    company: str = ""
    industry: str = ""
    title: str = ""


@dataclass(frozen=True)
class CandidateFacts:
    """What the engine may use: jobs, highest education, free-text achievements."""

    work_history: tuple[WorkEntry, ...] = ()
    education: str | None = None
    achievements: str = ""


@dataclass(frozen=True)
class RequirementResult:
    """Structured verdict for one requirement.

    Attributes:
        label: Requirement label from the position config.
        kind: One of years, education, keywords, figure.
        outcome: The verdict.
        required: Threshold as a short data string, e.g. "3", "本科", "85".
        found: What was found, e.g. "1.2", "大专", "90%"; "" when nothing.
        evidence: Described jobs, matched keywords or quoted figures.
    """

    label: str
    kind: str
    outcome: Outcome
    required: str
    found: str
    evidence: tuple[str, ...]


_Verdict = tuple[Outcome, str, tuple[str, ...]]

# Highest level first: "博士研究生" must hit 博士 before 研究生 can claim it as 硕士.
_EDUCATION_ALIASES: tuple[tuple[int, tuple[str, ...]], ...] = (
    (5, ("博士", "phd", "ph.d", "doctor")),
    (4, ("硕士", "研究生", "master", "mba")),
    (3, ("本科", "学士", "bachelor", "undergraduate")),
    (2, ("大专", "专科", "高职", "associate", "college")),
    (1, ("高中", "中专", "职高", "技校", "high school", "secondary")),
)


def _fold(text: str) -> str:
    # NFKC turns full-width digits, letters and "％" into their ASCII forms.
    return unicodedata.normalize("NFKC", text).casefold()


def education_rank(level: str | None) -> int | None:
    """Rank an education level so levels can be compared.

    Args:
        level: Free-form level such as "全日制本科", "研究生" or "Master's".

    Returns:
        1 (high school) to 5 (doctorate), or None when missing or unrecognised.
    """
    text = _fold(level) if isinstance(level, str) else ""
    return next((r for r, names in _EDUCATION_ALIASES if any(n in text for n in names)), None)


def _interval(entry: WorkEntry, today: date) -> tuple[date, date]:
    # Half-open [start, end): the end month counts in full, and nothing after today
    # counts, since a future end date is a plan rather than experience.
    start = entry.start.replace(day=1)
    end = today
    if entry.end is not None:
        end = min(date(entry.end.year + entry.end.month // 12, entry.end.month % 12 + 1, 1), end)
    return start, max(start, end)


def merged_years(entries: Iterable[WorkEntry], *, today: date) -> float:
    """Total years covered by the entries, counting overlapping periods once.

    Args:
        entries: Work-history entries; an open end (None) runs until ``today``.
        today: Reference date, injected to keep results reproducible.

    Returns:
        Length of the union of all intervals in years (days / 365.25).
    """
    total_days, reach = 0, date.min
    for start, end in sorted(_interval(e, today) for e in entries):
        # Only the stretch beyond what earlier-starting jobs already cover adds time.
        total_days += max(0, (end - max(start, reach)).days)
        reach = max(reach, end)
    return total_days / DAYS_PER_YEAR


def _contains_any(text: str, needles: Sequence[str]) -> bool:
    return not needles or any(_fold(n) in _fold(text) for n in needles)


def matching_entries(
    entries: Iterable[WorkEntry],
    *,
    industries: Sequence[str] = (),
    titles: Sequence[str] = (),
) -> list[WorkEntry]:
    """Entries whose industry and title both match (case-insensitive substrings).

    Args:
        entries: Work-history entries to filter.
        industries: Accepted industry fragments; empty accepts any industry.
        titles: Accepted title fragments; empty accepts any title.

    Returns:
        Matching entries in their original order.
    """
    return [
        e
        for e in entries
        if _contains_any(e.industry, industries) and _contains_any(e.title, titles)
    ]


def _is_number(value: Any) -> bool:
    # bool is an int subclass, and `min_years = true` in TOML is a typo, not 1 year.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_words(value: Any) -> bool:
    # A bare string would be iterated per character and match almost anything.
    return isinstance(value, list | tuple) and all(isinstance(v, str) and v.strip() for v in value)


_LIST = "a non-empty list of non-empty strings"

# kind -> field -> (mandatory, check, expectation); the first field is the threshold.
_SCHEMA: dict[str, dict[str, tuple[bool, Callable[[Any], bool], str]]] = {
    "years": {
        "min_years": (True, lambda v: _is_number(v) and v >= 0, "a non-negative number"),
        "industries": (False, _is_words, "a list of non-empty strings"),
        "titles": (False, _is_words, "a list of non-empty strings"),
    },
    "education": {
        "min_level": (True, lambda v: education_rank(v) is not None, "a known level"),
    },
    "keywords": {
        "min_matches": (False, lambda v: type(v) is int and v >= 1, "an integer >= 1"),
        "any": (True, lambda v: bool(v) and _is_words(v), _LIST),
    },
    "figure": {
        "min_value": (True, _is_number, "a number"),
        "keywords": (True, lambda v: bool(v) and _is_words(v), _LIST),
        "unit": (True, lambda v: isinstance(v, str) and bool(v.strip()), "a non-empty string"),
    },
}


def validate_requirement(spec: Mapping[str, Any]) -> None:
    """Reject a malformed requirement spec before it is evaluated.

    Args:
        spec: One requirement as loaded from TOML.

    Raises:
        ValueError: As ``"<field>: <problem>"`` for the first problem found.
    """
    if not isinstance(spec, Mapping):
        raise ValueError("spec: must be a mapping")
    if spec.get("kind") not in _SCHEMA:
        raise ValueError(f"kind: unknown kind {spec.get('kind')!r}")
    if not isinstance(spec.get("label"), str) or not spec["label"].strip():
        raise ValueError("label: must be a non-empty string")
    for field, (mandatory, check, expectation) in _SCHEMA[spec["kind"]].items():
        if field not in spec:
            if mandatory:
                raise ValueError(f"{field}: is missing")
        elif not check(spec[field]):
            raise ValueError(f"{field}: must be {expectation}")
    if spec["kind"] == "keywords" and spec.get("min_matches", 1) > len(spec["any"]):
        raise ValueError("min_matches: exceeds the number of keywords")


def _describe(entry: WorkEntry) -> str:
    end = OPEN_END if entry.end is None else f"{entry.end:%Y.%m}"
    return " ".join(p for p in (f"{entry.start:%Y.%m}–{end}", entry.company, entry.title) if p)


def _eval_years(spec: Mapping[str, Any], facts: CandidateFacts, today: date) -> _Verdict:
    if not facts.work_history:
        return Outcome.UNKNOWN, "", ()
    industries, titles = spec.get("industries", ()), spec.get("titles", ())
    hits = matching_entries(facts.work_history, industries=industries, titles=titles)
    # Judge at the precision shown, so a card never reads "3.0" against 3 as unmet
    # merely because calendar months fall a day short of 365.25-day years.
    shown = f"{merged_years(hits, today=today):.1f}"
    outcome = Outcome.MET if float(shown) >= spec["min_years"] else Outcome.UNMET
    return outcome, shown, tuple(_describe(e) for e in sorted(hits, key=lambda e: e.start))


def _eval_education(spec: Mapping[str, Any], facts: CandidateFacts, today: date) -> _Verdict:
    found = (facts.education or "").strip()
    rank = education_rank(found)
    if rank is None:
        return Outcome.UNKNOWN, found, ()
    met = rank >= (education_rank(spec["min_level"]) or 0)
    return (Outcome.MET if met else Outcome.UNMET), found, ()


def _eval_keywords(spec: Mapping[str, Any], facts: CandidateFacts, today: date) -> _Verdict:
    text = _fold(facts.achievements)
    if not text.strip():
        return Outcome.UNKNOWN, "", ()
    matched = tuple(k for k in spec["any"] if _fold(k) in text)
    met = len(matched) >= spec.get("min_matches", 1)
    return (Outcome.MET if met else Outcome.UNMET), str(len(matched)), matched


def _eval_figure(spec: Mapping[str, Any], facts: CandidateFacts, today: date) -> _Verdict:
    text = unicodedata.normalize("NFKC", facts.achievements)
    unit = unicodedata.normalize("NFKC", spec["unit"]).strip()
    number = re.compile(rf"(?<![\d.])(\d+(?:\.\d+)?)\s*{re.escape(unit)}", re.IGNORECASE)
    found: dict[int, tuple[float, str]] = {}  # by position: one figure may follow two keywords
    for keyword in spec["keywords"]:
        pattern = re.escape(unicodedata.normalize("NFKC", keyword))
        for km in re.finditer(pattern, text, re.IGNORECASE):
            for m in number.finditer(text, km.end()):
                if m.start() - km.end() > FIGURE_WINDOW:
                    break
                found.setdefault(m.start(), (float(m.group(1)), text[km.start() : m.end()]))
    if not found:
        return Outcome.UNKNOWN, "", ()
    best = max(value for value, _ in found.values())
    outcome = Outcome.MET if best >= spec["min_value"] else Outcome.UNMET
    return outcome, f"{best:g}{unit}", tuple(found[pos][1] for pos in sorted(found))


_EVALUATORS: dict[str, Callable[[Mapping[str, Any], CandidateFacts, date], _Verdict]] = {
    "years": _eval_years,
    "education": _eval_education,
    "keywords": _eval_keywords,
    "figure": _eval_figure,
}


def check_requirements(
    requirements: Sequence[Mapping[str, Any]], facts: CandidateFacts, *, today: date
) -> list[RequirementResult]:
    """Evaluate every requirement of a position against one candidate.

    Args:
        requirements: Requirement specs in display order.
        facts: What is known about the candidate.
        today: Reference date for open-ended jobs, injected for reproducibility.

    Returns:
        One result per requirement, in the same order.

    Raises:
        ValueError: If any spec is malformed; all are checked up front so a bad
            config never yields a partial verdict.
    """
    for spec in requirements:
        validate_requirement(spec)
    results = []
    for spec in requirements:
        kind = spec["kind"]
        outcome, found, evidence = _EVALUATORS[kind](spec, facts, today)
        threshold = spec.get(next(iter(_SCHEMA[kind])), 1)
        required = threshold if isinstance(threshold, str) else f"{threshold:g}"
        results.append(RequirementResult(spec["label"], kind, outcome, required, found, evidence))
    return results
