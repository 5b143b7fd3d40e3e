"""Drafting a recall message: the template for the reason and stage, filled from the profile,
the deployment's news and the openings there are now.

A draft always becomes a contact row and a preview card; when no text can be made (a variable
the template needs is missing) the contact carries the reason instead, the preview shows it,
and nothing can be sent until someone writes the text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.core.context import Context, JobContext
from cards.recall import RecallTemplateError, render_recall
from handlers.recall.common import (
    as_delivered,
    contact_key,
    contact_view,
    days_between,
    delivery_time,
)
from handlers.recall.rules import text_problem
from storage.models import Candidate, Person, Position, RecallContact, TalentProfile
from storage.repo.people import in_scope
from storage.repo.positions import list_open_positions
from storage.repo.recall import create_contact


async def matching_opening(
    ctx: Context | JobContext, profile: TalentProfile, position: Position | None
) -> Position | None:
    """An open position like the one they were offered or matching their stated interest,
    nearest to their old store first."""

    def score(p: Position) -> int:
        value = 0
        if position is not None and p.title == position.title:
            value += 2
        if profile.interest and profile.interest in p.title:
            value += 2
        if in_scope(p.org_path, profile.org_path) or in_scope(profile.org_path, p.org_path):
            value += 1
        return value

    best = sorted(await list_open_positions(session=ctx.session), key=lambda p: -score(p))
    return best[0] if best and score(best[0]) >= 2 else None


async def message_context(
    ctx: Context | JobContext, profile: TalentProfile, sender: Person
) -> dict[str, Any]:
    """Template variables; anything not known is left out so the template cannot blank it."""
    candidate = await ctx.session.get(Candidate, profile.candidate_id)
    position = await ctx.session.get(Position, profile.position_id) if profile.position_id \
        else None
    assert candidate is not None
    days = days_between(profile.since, ctx.now)
    values: dict[str, Any] = {
        "name": candidate.name,
        "sender": sender.name,
        "needs": list(profile.needs),
        "questions": list(profile.questions),
        "days": days,
        "months": days // 30,
    }
    if profile.notes.strip():
        values["concern"] = profile.notes.strip()
    if position is not None:
        values["position"] = position.title
    if profile.interest.strip():
        values["interest"] = profile.interest.strip()
    news = ctx.settings.recall_news
    changes = [*news.get(profile.category, ()), *news.get("any", ())]
    if changes:
        values["changes"] = changes
    opening = await matching_opening(ctx, profile, position)
    if opening is not None:
        values["opening"] = {
            "title": opening.title,
            "org": opening.org_path.rstrip("/").rsplit("/", 1)[-1],
            "code": opening.code,
        }
    return values


async def compose(
    ctx: Context | JobContext, profile: TalentProfile, stage: str, sender: Person
) -> tuple[str, str, str]:
    """(template, text, error) of the message for ``stage`` in ``sender``'s name; the text is
    empty and the error says why when no message can be made."""
    settings = ctx.settings
    try:
        rendered = render_recall(
            category=profile.category,
            stage=stage,
            context=await message_context(ctx, profile, sender),
            locale=settings.locale,
            override_dir=Path(settings.recall_templates_dir) if settings.recall_templates_dir
            else None,
        )
    except RecallTemplateError as err:
        return f"{profile.category}_{stage}", "", f"{err.kind}:{err.detail}"[:250]
    problem = text_problem(rendered.text)
    if problem is not None:
        return rendered.template, "", f"{problem}:"
    return rendered.template, rendered.text, ""


async def draft_contact(
    ctx: Context | JobContext,
    profile: TalentProfile,
    *,
    stage: str,
    prepared_by: Person,
    day: int | None = None,
    campaign_id: int | None = None,
) -> RecallContact:
    """Write the draft for ``stage`` (text, or why there is none) as a new contact."""
    template, text, error = await compose(ctx, profile, stage, prepared_by)
    assert profile.id is not None
    return await create_contact(
        session=ctx.session,
        contact=RecallContact(
            profile_id=profile.id,
            campaign_id=campaign_id,
            stage=stage,
            day=day,
            category=profile.category,
            template=template,
            text=text,
            error=error,
            prepared_by=prepared_by.id,
            sender_id=prepared_by.id,
            created_at=ctx.now,
            updated_at=ctx.now,
        ),
    )


async def send_preview(
    ctx: Context | JobContext,
    person: Person,
    contact: RecallContact,
    profile: TalentProfile,
    *,
    handover: bool = False,
) -> None:
    """The preview card with the exact text (or the missing variable) to ``person``."""
    # A clock-driven preview held over the night or weekend counts days as it is read.
    seen = as_delivered(ctx) if isinstance(ctx, JobContext) else ctx
    view = await contact_view(seen, contact, profile)
    key = contact_key(contact, f"-to{person.id}")
    if isinstance(ctx, JobContext):
        ctx.notify(person, "recall_preview", key=key, not_before=delivery_time(ctx), r=view,
                   handover=handover)
    else:
        ctx.notify(person, "recall_preview", key=key, r=view, handover=handover)
