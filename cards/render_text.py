"""Plain-text rendering of a :class:`Card` for terminal chats (the local demo / CLI adapter)."""

from __future__ import annotations

from cards.models import Card


def text_card(card: Card) -> str:
    """Render ``card`` as a box-ish block of plain text.

    Layout: title, status, ``label: value`` lines, a blank line and the body, the buttons
    numbered from 1 in card order (``[1] 通过  [2] 需补充``) so people answer by number, then
    the footer. Only a left border is drawn: CJK characters are double-width in most
    terminals, so a right border would not line up.

    Args:
        card: Card to show.

    Returns:
        The text, lines joined with ``\\n``, without a trailing newline.
    """
    lines = [card.title]
    if card.status:
        lines.append(f"« {card.status} »")
    lines += [f"{f.label}: {f.value}" for f in card.fields]
    if card.body:
        lines.append("")
        lines += card.body.splitlines()
    if card.buttons:
        lines.append("")
        lines.append("  ".join(f"[{i}] {b.label}" for i, b in enumerate(card.buttons, 1)))
    if card.footer:
        lines.append(card.footer)

    out = []
    last = len(lines) - 1
    for i, line in enumerate(lines):
        border = "┌" if i == 0 else "└" if i == last and last > 0 else "│"
        out.append(f"{border} {line}".rstrip())
    return "\n".join(out)
