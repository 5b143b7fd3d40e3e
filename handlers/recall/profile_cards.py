"""The profile card's buttons and the `档案` / `入库` commands."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.errors import UserFacingError
from bot.core.text import normalize_text
from handlers.recall.common import (
    CATEGORIES,
    card_version,
    forbidden,
    is_hr_for,
    load_profile,
    parse_category,
    profile_key,
    profile_view,
    router,
    typed_text,
)
from handlers.recall.profiles import (
    change_profile,
    edit_by_command,
    pool_allowed,
    profile_from_referral,
    profile_of_referral,
)
from handlers.recall.rules import opt_out
from storage.models import PendingInput, TalentProfile
from storage.repo.conversations import clear_pending_input, set_pending_input

INPUT_FIELDS = ("notes", "needs", "questions", "interest")
CANCEL_WORDS = {"取消", "cancel", "算了"}


async def _show(ctx: Context, profile: TalentProfile, *, stale: bool = False) -> None:
    view = await profile_view(ctx, profile)
    key = ctx.params.get("card_key")
    if key and not stale:
        ctx.update_card(key, "recall_profile", r=view, stale=False)
    else:
        ctx.reply("recall_profile", key=f"{profile_key(profile)}-v{profile.version}", r=view,
                  stale=stale)


async def _tapped(ctx: Context) -> TalentProfile | None:
    """The profile the card names if this person is its HR and the card is current."""
    profile = await load_profile(ctx, ctx.params.get("rid"))
    if not is_hr_for(ctx.person, profile):
        raise forbidden()
    if profile.version != card_version(ctx):
        await _show(ctx, profile, stale=True)
        return None
    return profile


@router.action("recall.profile.input")
async def ask_profile_input(ctx: Context) -> None:
    """[记录原话] [记录需求] [记录提问]: the next message typed is stored on the profile."""
    profile = await _tapped(ctx)
    if profile is None:
        return
    if ctx.params.get("field") not in INPUT_FIELDS:
        raise UserFacingError("bad_action")
    await set_pending_input(
        session=ctx.session, person_id=ctx.person.id or 0, action="recall.profile.input",
        params=dict(ctx.params), now=ctx.now,
    )
    ctx.reply("recall_prompt", key=_prompt_key(ctx, profile), r=await profile_view(ctx, profile),
              what=ctx.params["field"], cancelled=False)


def _prompt_key(ctx: Context, profile: TalentProfile) -> str:
    return f"{profile_key(profile)}-prompt-{ctx.person.id}"


async def answer_profile_input(ctx: Context, pending: PendingInput) -> None:
    await clear_pending_input(session=ctx.session, person_id=ctx.person.id or 0)
    ctx.params = dict(pending.params)
    profile = await _tapped(ctx)
    if profile is None:
        return
    text = typed_text(ctx)
    field = ctx.params.get("field", "")
    if ctx.args.strip().lower() in CANCEL_WORDS or field not in INPUT_FIELDS:
        ctx.reply("recall_prompt", r=await profile_view(ctx, profile), what=field or "notes",
                  cancelled=True)
        return
    await change_profile(ctx, profile, profile.version, field, text)
    # Answered below what was typed (what was saved, where); the prompt stops waiting; the
    # profile card tapped earlier shows the new content in place.
    view = await profile_view(ctx, profile)
    ctx.reply("recall_prompt", r=view, what=field, cancelled=False, saved=text)
    ctx.update_card(_prompt_key(ctx, profile), "recall_prompt", r=view, what=field,
                    cancelled=False, saved=text)
    await _show(ctx, profile)


@router.action("recall.profile.consent")
async def set_consent(ctx: Context) -> None:
    """[同意联系] / [撤回同意]: whether the candidate agreed to be contacted later."""
    profile = await _tapped(ctx)
    if profile is None:
        return
    value = "1" if ctx.params.get("value") == "1" else "0"
    await change_profile(ctx, profile, profile.version, "consent", value)
    await _show(ctx, profile)


@router.action("recall.profile.category")
async def set_category(ctx: Context) -> None:
    """[改原因]: the category choice in place of the card, then the choice recorded."""
    profile = await _tapped(ctx)
    if profile is None:
        return
    category = ctx.params.get("category")
    if category not in CATEGORIES:
        page = ctx.params.get("page", "0")
        choice = {"r": await profile_view(ctx, profile), "categories": CATEGORIES,
                  "page": int(page) if page.isdigit() else 0}
        if ctx.params.get("card_key"):
            ctx.update_card(ctx.params["card_key"], "recall_categories", **choice)
        else:
            ctx.reply("recall_categories", **choice)
        return
    await change_profile(ctx, profile, profile.version, "category", category)
    await _show(ctx, profile)


@router.action("recall.profile.opt_out")
async def opt_out_by_card(ctx: Context) -> None:
    """[不再联系]: no prompt and no message for this candidate ever again."""
    profile = await _tapped(ctx)
    if profile is None:
        return
    await opt_out(ctx.session, profile, version=profile.version, now=ctx.now)
    await ctx.session.refresh(profile)
    await _show(ctx, profile)


@router.command("档案", "人才档案", "profile")
async def show_profile(ctx: Context) -> None:
    """`档案 12` shows the profile of referral #12's candidate; `档案 12 备注 …` edits it."""
    number, _, rest = normalize_text(ctx.args).partition(" ")
    if not number:
        raise UserFacingError("recall_usage", {"command": "profile"})
    _, profile = await profile_of_referral(ctx, number)
    if profile is None:
        raise UserFacingError("recall_usage", {"command": "profile", "problem": "no_profile"})
    if rest.strip():
        await edit_by_command(ctx, profile, rest.strip())
    await _show(ctx, profile)


@router.command("入库", "keep")
async def pool_candidate(ctx: Context) -> None:
    """`入库 12 [原因]` (`keep 12`): keep a rejected or withdrawn candidate for recall."""
    number, _, rest = normalize_text(ctx.args).partition(" ")
    if not number:
        raise UserFacingError("recall_usage", {"command": "pool"})
    referral, existing = await profile_of_referral(ctx, number)
    if not pool_allowed(referral):
        raise UserFacingError("recall_usage", {"command": "pool", "problem": "not_closed"})
    category = parse_category(rest) if rest.strip() else None
    if rest.strip() and category is None:
        raise UserFacingError("recall_usage", {"command": "pool", "problem": "unknown_reason"})
    profile = await profile_from_referral(
        ctx, referral, source="pool",
        category=category or (existing.category if existing else "other"),
        note="", owner_id=ctx.person.id,
    )
    await _show(ctx, profile)
