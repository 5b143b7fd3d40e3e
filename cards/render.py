"""Template loading: Jinja2 templates that render a platform-neutral :class:`Card` or plain text.

Card templates live in ``cards/templates/<locale>/<name>.json.j2`` and render JSON; authors
interpolate every value with ``| tojson`` so quoting and escaping are never done by hand.
Plain-text message templates live next to them as ``<name>.txt.j2``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Undefined,
    pass_context,
)
from jinja2.runtime import Context

from cards.markdown import md_text
from cards.models import Card

TEMPLATE_ROOT = Path(__file__).parent / "templates"
DEFAULT_LOCALE = "zh"
DEFAULT_TZ = "Asia/Shanghai"
_LOCALE_RE = re.compile(r"[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*")


class CardTemplateError(Exception):
    """A card template rendered something that is not a valid card.

    Attributes:
        name: Template name (without locale and suffix).
        detail: What was wrong with the output.
    """

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"card template {name!r}: {detail}")
        self.name = name
        self.detail = detail


def mask_phone(value: Any) -> str:
    """Mask the middle of a phone number: ``13800138000`` -> ``138****8000``.

    Args:
        value: Phone number as str or int; ``None`` renders as an empty string.

    Returns:
        The masked number. Values too short to keep both ends are fully masked, so the filter
        never leaks a short number by accident.
    """
    _require_defined(value)
    if value is None:
        return ""
    text = str(value).strip()
    if not text:
        return ""
    if len(text) < 8:
        return "****"
    return f"{text[:3]}****{text[-4:]}"


def _require_defined(value: Any) -> None:
    # Filters receive an undefined variable as an object instead of failing; converting it to
    # str makes StrictUndefined raise the UndefinedError that names the variable.
    if isinstance(value, Undefined):
        str(value)


def _json_dumps(obj: Any, **kwargs: Any) -> str:
    def default(value: Any) -> Any:
        _require_defined(value)
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    return json.dumps(obj, default=default, **kwargs)


def _localize(value: Any, tz_name: str | None) -> datetime:
    _require_defined(value)
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    # Callers pass aware UTC datetimes; a naive one is read as UTC rather than as server-local
    # time so the output does not depend on the host's timezone.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(ZoneInfo(tz_name or DEFAULT_TZ))


@pass_context
def _hm(ctx: Context, value: Any) -> str:
    return _localize(value, ctx.get("tz")).strftime("%H:%M")


@pass_context
def _dt(ctx: Context, value: Any) -> str:
    return _localize(value, ctx.get("tz")).strftime("%m-%d %H:%M")


@cache
def _environment(root: Path, locale: str) -> Environment:
    # A locale that lacks a template falls back to the default locale's copy, so a missing
    # translation degrades to Chinese rather than failing the whole message.
    search = [root / locale] if locale != DEFAULT_LOCALE else []
    search.append(root / DEFAULT_LOCALE)
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(p)) for p in search]),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Without this, `missing | tojson` fails with a TypeError from json instead of naming
    # the missing variable.
    env.policies["json.dumps_function"] = _json_dumps
    env.filters["mask_phone"] = mask_phone
    env.filters["md"] = md_text
    env.filters["hm"] = _hm
    env.filters["dt"] = _dt
    return env


def _render(root: Path | None, locale: str, filename: str, context: Mapping[str, Any]) -> str:
    root = (root or TEMPLATE_ROOT).resolve()
    # Unknown locales are mapped before the cache lookup so arbitrary user-supplied locale
    # strings cannot grow the cache; the pattern keeps "../x" from escaping the template root.
    if not _LOCALE_RE.fullmatch(locale or "") or not (root / locale).is_dir():
        locale = DEFAULT_LOCALE
    env = _environment(root, locale)
    return env.get_template(filename).render(dict(context))


def render_card(
    *,
    name: str,
    context: Mapping[str, Any],
    locale: str = DEFAULT_LOCALE,
    key: str | None = None,
    template_dir: Path | None = None,
) -> Card:
    """Render ``<locale>/<name>.json.j2`` into a :class:`Card`.

    Args:
        name: Template name without locale directory and ``.json.j2`` suffix.
        context: Template variables; ``tz`` (a ZoneInfo name) controls the ``hm``/``dt`` filters.
        locale: Locale directory; unknown locales fall back to ``"zh"``.
        key: Overrides the card key (DingTalk outTrackId / WeCom task_id) set by the template.
        template_dir: Root holding the locale directories; defaults to the packaged templates.

    Returns:
        The rendered card.

    Raises:
        jinja2.UndefinedError: The template used a variable missing from ``context``.
        jinja2.TemplateNotFound: No such template in the locale or the default locale.
        CardTemplateError: The output is not valid JSON or not a valid card.
    """
    text = _render(template_dir, locale, f"{name}.json.j2", context)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CardTemplateError(name, f"invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CardTemplateError(name, f"expected a JSON object, got {type(data).__name__}")
    try:
        card = Card.from_dict(data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise CardTemplateError(name, f"not a card: {exc!r}") from exc
    if key is not None:
        card = dataclasses.replace(card, key=key)
    return card


def render_text(
    *,
    name: str,
    context: Mapping[str, Any],
    locale: str = DEFAULT_LOCALE,
    template_dir: Path | None = None,
) -> str:
    """Render the plain-text message template ``<locale>/<name>.txt.j2``.

    Args:
        name: Template name without locale directory and ``.txt.j2`` suffix.
        context: Template variables (same filters as :func:`render_card`).
        locale: Locale directory; unknown locales fall back to ``"zh"``.
        template_dir: Root holding the locale directories; defaults to the packaged templates.

    Returns:
        The rendered text with surrounding whitespace stripped.

    Raises:
        jinja2.UndefinedError: The template used a variable missing from ``context``.
        jinja2.TemplateNotFound: No such template in the locale or the default locale.
    """
    return _render(template_dir, locale, f"{name}.txt.j2", context).strip()
