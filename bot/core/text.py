"""Chat text as users type it: normalisation and the command word in front.

Every capability reads its arguments through ``normalize_text`` so full-width input, stray
invisible characters and leading @mentions mean the same everywhere; the dispatcher uses
``split_command`` to find the command word.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_INVISIBLE = re.compile(r"[\u200b\u200e\u200f\u2060\ufeff]")
_SPACES = re.compile(r"\s+")
_MENTIONS = re.compile(r"^(?:@\S*\s*)+")
# Chinese punctuation people type on purpose: NFKC would turn it into ASCII (，→ ,) and the
# user would see their own words changed, so it survives; parsers accept both forms.
TYPED_PUNCTUATION = "，：；！？（）"
_KEEP_TYPED = re.compile(f"([{TYPED_PUNCTUATION}])")


def _nfkc_keeping_punctuation(text: str) -> str:
    parts = _KEEP_TYPED.split(text)
    return "".join(
        part if part in TYPED_PUNCTUATION and part else unicodedata.normalize("NFKC", part)
        for part in parts
    )


def matching_form(text: str) -> str:
    """Fully folded text for comparing, never for storing or showing (NFKC, lower case)."""
    return unicodedata.normalize("NFKC", text).casefold()


def clean_lines(text: str) -> str:
    # Invisible characters go before NFKC so their removal cannot leave an un-normalised pair.
    text = _nfkc_keeping_punctuation(_INVISIBLE.sub("", text))
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.splitlines()).strip()


def normalize_text(text: str) -> str:
    """Normalise a raw chat message; idempotent.

    NFKC turns full-width digits and letters into ASCII and U+3000 into a space, but the
    Chinese punctuation in ``TYPED_PUNCTUATION`` stays as typed; leading @mention tokens
    are dropped; runs of spaces inside a line collapse to
    one (line breaks stay); the result is trimmed.
    """
    return _MENTIONS.sub("", clean_lines(text), count=1).strip()


def split_command(text: str, commands: Iterable[str]) -> tuple[str | None, str]:
    """Split a leading command word off normalised text; the longest match wins.

    Words ending in an ASCII letter or digit are case-insensitive and need a word boundary
    after them; other words (推荐) match as plain prefixes, so "推荐店长" works.

    Returns:
        ``(word, rest)`` with ``word`` stripped as listed in ``commands``, or ``(None, text)``.
    """
    body = text.lstrip()
    words = sorted({c.strip() for c in commands if c.strip()}, key=lambda w: (-len(w), w))
    for word in words:
        if matching_form(body[: len(word)]) != matching_form(word):
            continue
        tail = body[len(word) :]
        if word[-1].isascii() and word[-1].isalnum() and (tail[:1].isalnum() or tail[:1] == "_"):
            continue
        return word, tail.lstrip(" \t\n:,;：，；").strip()
    return None, text


def _edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: a swapped pair of letters counts as one typo."""
    rows = [list(range(len(b) + 1))]
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            best = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                best = min(best, rows[-2][j - 2] + 1)
            row.append(best)
        rows.append(row)
    return rows[-1][-1]


def suggest_command(text: str, commands: Iterable[str]) -> str:
    """The text with a near-miss command word corrected (推建 → 推荐), or "" if none is near.

    Chinese words are compared with the same number of leading characters, since they are
    typed without a space after them; a two-character word allows one wrong character.
    Latin words compare the first word, allowing one typo (two from seven letters on).
    """
    body = text.strip()
    if not body:
        return ""
    first = body.split(maxsplit=1)[0]
    best: tuple[int, str, str] | None = None
    for word in {c.strip() for c in commands if len(c.strip()) >= 2}:
        if word.isascii():
            if len(word) < 4 or not first.isascii():
                continue
            typed, rest = first, body[len(first) :]
            allowed = 2 if len(word) >= 7 else 1
        else:
            typed, rest = body[: len(word)], body[len(word) :]
            allowed = 1
        distance = _edit_distance(matching_form(typed), matching_form(word))
        if 0 < distance <= allowed and (best is None or distance < best[0]):
            best = (distance, word, rest)
    if best is None:
        return ""
    _, word, rest = best
    return f"{word}{rest}" if rest[:1].isspace() or not rest else f"{word} {rest}"
