"""Plain text placed into markdown: people's and platforms' strings cannot become markup.

File names, names, positions and reasons come from users and platforms. In DingTalk or
WeCom markdown, ``x](http://evil)`` would close a link text and open a link of the sender's
choosing, ``<font>`` would restyle the card and a newline plus ``#`` would make a heading.
Backslash escapes are not honoured alike by both clients (and WeCom's template cards show
text verbatim), so the markup characters become their full-width look-alikes instead: the
text reads the same and nothing in it is markup on either platform.
"""

from __future__ import annotations

from typing import Any

__all__ = ["md_text"]

_NEUTRAL = str.maketrans({
    "[": "［", "]": "］", "(": "（", ")": "）", "<": "＜", ">": "＞", "*": "＊", "`": "｀",
    "|": "｜", "\\": "＼", "\r": " ", "\n": " ",
})


def md_text(value: Any) -> str:
    """``value`` as text that renders literally inside markdown on DingTalk and WeCom."""
    return "" if value is None else str(value).translate(_NEUTRAL)
