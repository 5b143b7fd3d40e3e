"""A referrer's supplement may carry `经历:` / `学历:` / `业绩:` lines: they update the candidate,
so the qualification re-check sees the new facts."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.errors import UserFacingError
from handlers.referral.form import parse_education, parse_fields, parse_work_history
from storage.models import Candidate, Referral


async def apply_supplement_fields(ctx: Context, referral: Referral, text: str) -> None:
    candidate = await ctx.session.get(Candidate, referral.candidate_id)
    assert candidate is not None
    fields = parse_fields(text).fields
    if "experience" in fields:
        entries, bad = parse_work_history(fields["experience"])
        if bad:
            raise UserFacingError("experience_invalid", {"segments": [b[:60] for b in bad]})
        candidate.work_history = [*candidate.work_history, *(e.to_dict() for e in entries)]
    if "education" in fields:
        candidate.education = parse_education(fields["education"]) or candidate.education
    if "achievements" in fields:
        candidate.achievements = "\n".join(
            x for x in (candidate.achievements, fields["achievements"]) if x
        )
    ctx.session.add(candidate)
    await ctx.session.flush()
