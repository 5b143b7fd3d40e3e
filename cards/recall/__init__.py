"""Recall messages to candidates: plain-text jinja2 templates chosen by reason and stage.

A message is ``<locale>/<category>_<stage>.txt.j2`` (``team_news``), else
``<locale>/any_<stage>.txt.j2``. A deployment's own directory (``[recall] templates_dir``)
is searched before the packaged one, so a file of the same name there replaces ours; a
missing locale falls back to Chinese.

Templates render with ``StrictUndefined``: callers leave out every value they do not have
(an empty note, no news declared, no matching opening), so a template that needs it fails
with :class:`RecallTemplateError` naming the variable instead of producing a message with a
blank in it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    UndefinedError,
)

RECALL_ROOT = Path(__file__).parent
DEFAULT_LOCALE = "zh"
STAGES = ("greeting", "news", "opening")
_LOCALE_RE = re.compile(r"[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*")
_UNDEFINED = re.compile(r"'([^']+)' is undefined")
_NO_ATTRIBUTE = re.compile(r"has no attribute '([^']+)'")
_BLANK_LINES = re.compile(r"\n{3,}")


class RecallTemplateError(Exception):
    """No text could be made.

    Attributes:
        kind: ``missing`` (a variable the template needs), ``not_found`` (no template for
            the category and stage) or ``broken`` (the template itself is wrong).
        detail: The variable name, the template names tried, or the error text.
    """

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"recall template {kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class RecallText:
    template: str  # name without locale and suffix, e.g. "team_news"
    text: str


def template_names(category: str, stage: str) -> tuple[str, str]:
    """The template names tried for ``category`` and ``stage``, most specific first."""
    return f"{category}_{stage}", f"any_{stage}"


@cache
def _environment(override: str, locale: str) -> Environment:
    search: list[Path] = []
    for loc in dict.fromkeys((locale, DEFAULT_LOCALE)):
        if override:
            search.append(Path(override) / loc)
        search.append(RECALL_ROOT / loc)
    return Environment(
        loader=ChoiceLoader([FileSystemLoader(str(p)) for p in search]),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_recall(
    *,
    category: str,
    stage: str,
    context: Mapping[str, Any],
    locale: str = DEFAULT_LOCALE,
    override_dir: str | Path | None = None,
) -> RecallText:
    """Render the recall message for ``category`` and ``stage``.

    Args:
        category: Reason category of the no-show (``team``, ``salary``, ...).
        stage: ``greeting``, ``news`` or ``opening``.
        context: Template variables; values the caller does not have are left out.
        locale: Locale directory; unknown locales fall back to ``zh``.
        override_dir: The deployment's template directory, searched first.

    Returns:
        The template used and the text, surrounding whitespace stripped.

    Raises:
        RecallTemplateError: A variable is missing, no template fits, or it is broken.
    """
    if not _LOCALE_RE.fullmatch(locale or ""):
        locale = DEFAULT_LOCALE
    override = str(Path(override_dir).resolve()) if override_dir else ""
    env = _environment(override, locale)
    names = template_names(category, stage)
    try:
        template = env.select_template([f"{n}.txt.j2" for n in names])
    except TemplateNotFound:
        raise RecallTemplateError("not_found", " / ".join(names)) from None
    except TemplateError as err:
        raise RecallTemplateError("broken", str(err)[:200]) from None
    try:
        text = template.render(dict(context))
    except UndefinedError as err:
        message = str(err)
        found = _UNDEFINED.search(message) or _NO_ATTRIBUTE.search(message)
        raise RecallTemplateError("missing", found.group(1) if found else message) from None
    except TemplateError as err:
        raise RecallTemplateError("broken", str(err)[:200]) from None
    name = (template.name or "").removesuffix(".txt.j2")
    return RecallText(template=name, text=_BLANK_LINES.sub("\n\n", text).strip())
