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


def clean_lines(text: str) -> str:
    # Invisible characters go before NFKC so their removal cannot leave an un-normalised pair.
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.splitlines()).strip()


def normalize_text(text: str) -> str:
    """Normalise a raw chat message; idempotent.

    NFKC turns full-width digits, letters and punctuation into ASCII and U+3000 into a
    space; leading @mention tokens are dropped; runs of spaces inside a line collapse to
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
        if body[: len(word)].lower() != word.lower():
            continue
        tail = body[len(word) :]
        if word[-1].isascii() and word[-1].isalnum() and (tail[:1].isalnum() or tail[:1] == "_"):
            continue
        return word, tail.lstrip(" \t\n:,;").strip()
    return None, text
