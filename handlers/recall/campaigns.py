"""Campaigns: `召回 原因=团队氛围` selects candidates by reason, position, time since they
left and tag, shows how many and a sample, and drafts one preview each only when HR says so.

Who cannot be contacted (no consent, opted out, messaged within the minimum gap, a draft
already waiting) is counted and left out, never drafted.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from bot.core.context import Context
from bot.core.errors import UserFacingError
from bot.core.text import normalize_text
from handlers.recall.common import (
    card_version,
    days_between,
    forbidden,
    is_hr_for,
    load_campaign,
    parse_category,
    router,
)
from handlers.recall.drafts import draft_contact, send_preview
from handlers.recall.rules import contact_block
from handlers.referral.views import short
from storage.models import Candidate, Position, RecallCampaign, TalentProfile
from storage.repo.recall import (
    count_campaign_contacts,
    create_campaign,
    get_profile,
    list_profiles,
    profiles_with_open_contacts,
    update_campaign,
)

FILTER_KEYS = {
    "原因": "reason", "reason": "reason", "类别": "reason", "category": "reason",
    "岗位": "position", "职位": "position", "position": "position",
    "天数": "days", "days": "days", "距今": "days", "since": "days",
    "标签": "tag", "tag": "tag",
    "阶段": "stage", "模板": "stage", "stage": "stage", "template": "stage",
}
STAGE_WORDS = {
    "greeting": "greeting", "问候": "greeting",
    "news": "news", "动态": "news", "近况": "news",
    "opening": "opening", "机会": "opening", "岗位": "opening", "职位": "opening",
}
DEFAULT_STAGE = "news"
SAMPLE_SIZE = 5
# One campaign drafts at most this many previews: each is a card HR reads and decides on.
MAX_DRAFTS = 100
_DAYS = re.compile(r"(\d{1,4})(?:\s*[-~]\s*(\d{1,4}))?\+?")


def _usage(problem: str, value: str = "") -> UserFacingError:
    return UserFacingError("recall_usage", {"command": "campaign", "problem": problem,
                                            "value": value[:40]})


def parse_filters(text: str) -> dict[str, Any]:
    """``原因=团队氛围 岗位=店长 天数=180 标签=零售经验 阶段=news`` as filter values.

    Raises:
        UserFacingError: An unknown key or a value that names nothing.
    """
    filters: dict[str, Any] = {}
    for token in normalize_text(text).split():
        key, sep, value = token.replace(":", "=").partition("=")
        name = FILTER_KEYS.get(key.lower())
        if not sep or name is None or not value:
            raise _usage("unknown_key", token)
        if name == "reason":
            category = parse_category(value)
            if category is None:
                raise _usage("unknown_reason", value)
            filters["reason"] = category
        elif name == "days":
            match = _DAYS.fullmatch(value)
            if match is None:
                raise _usage("bad_days", value)
            filters["days_min"] = int(match.group(1))
            if match.group(2):
                filters["days_max"] = int(match.group(2))
        elif name == "stage":
            stage = STAGE_WORDS.get(value.lower())
            if stage is None:
                raise _usage("unknown_stage", value)
            filters["stage"] = stage
        else:
            filters[name] = value
    if not {"reason", "position", "days_min", "tag"} & filters.keys():
        raise _usage("no_filter")
    return filters


def _matches(filters: dict[str, Any], profile: TalentProfile, candidate: Candidate,
             position: Position | None, days: int) -> bool:
    if "position" in filters and (position is None or filters["position"] not in position.title):
        return False
    if days < filters.get("days_min", 0) or days > filters.get("days_max", days):
        return False
    return "tag" not in filters or filters["tag"] in {*candidate.tags, *profile.tags}


async def select_profiles(
    ctx: Context, filters: dict[str, Any]
) -> tuple[list[tuple[TalentProfile, Candidate, Position | None]], Counter[str]]:
    """The profiles a campaign would draft for, and why the others that match are left out."""
    rows = await list_profiles(session=ctx.session, category=filters.get("reason"))
    waiting = await profiles_with_open_contacts(session=ctx.session)
    chosen: list[tuple[TalentProfile, Candidate, Position | None]] = []
    left_out: Counter[str] = Counter()
    for profile, candidate in rows:
        if not is_hr_for(ctx.person, profile):
            continue
        position = await ctx.session.get(Position, profile.position_id) \
            if profile.position_id else None
        if not _matches(filters, profile, candidate, position,
                        days_between(profile.since, ctx.now)):
            continue
        block = await contact_block(ctx.session, profile, now=ctx.now,
                                    min_days=ctx.settings.recall_min_days_between)
        if block is not None:
            left_out[block.reason] += 1
        elif profile.id in waiting:
            left_out["waiting"] += 1
        else:
            chosen.append((profile, candidate, position))
    return chosen, left_out


def campaign_view(
    campaign: RecallCampaign,
    sample: list[tuple[TalentProfile, Candidate, Position | None]],
    left_out: Counter[str],
    ctx: Context,
    drafted: int = 0,
) -> dict[str, Any]:
    filters = campaign.filters
    return {
        "id": campaign.id,
        "version": campaign.version,
        "state": campaign.state,
        "count": len(campaign.profile_ids),
        "too_many": len(campaign.profile_ids) > MAX_DRAFTS,
        "max": MAX_DRAFTS,
        "left_out": dict(left_out),
        "filters": {k: filters[k] for k in ("reason", "position", "days_min", "days_max", "tag")
                    if k in filters},
        "stage": campaign.stage,
        "sample": [
            {"name": c.name, "position": pos.title if pos else "",
             "days": days_between(p.since, ctx.now), "notes": short(p.notes, 60)}
            for p, c, pos in sample[:SAMPLE_SIZE]
        ],
        "drafted": drafted,
    }


@router.command("召回", "recall")
async def start_campaign(ctx: Context) -> None:
    """`召回 原因=团队氛围 [岗位=店长] [天数=180] [标签=…] [阶段=news]`: count and sample."""
    if "hr" not in ctx.person.roles:
        raise forbidden()
    filters = parse_filters(ctx.args)
    stage = filters.pop("stage", DEFAULT_STAGE)
    chosen, left_out = await select_profiles(ctx, filters)
    campaign = await create_campaign(
        session=ctx.session,
        campaign=RecallCampaign(
            created_by=ctx.person.id or 0, filters=filters, stage=stage,
            profile_ids=[p.id for p, _, _ in chosen if p.id is not None],
            created_at=ctx.now, updated_at=ctx.now,
        ),
    )
    ctx.reply("recall_campaign", key=f"recall-k{campaign.id}",
              r=campaign_view(campaign, chosen, left_out, ctx))


async def _tapped(ctx: Context) -> RecallCampaign | None:
    campaign = await load_campaign(ctx, ctx.params.get("rid"))
    if campaign.created_by != ctx.person.id:
        raise forbidden()
    if campaign.version != card_version(ctx) or campaign.state != "selected":
        await _handled(ctx, campaign)
        return None
    return campaign


async def _handled(ctx: Context, campaign: RecallCampaign) -> None:
    """A second tap on the campaign card: what the first one did."""
    await ctx.session.refresh(campaign)
    drafted = await count_campaign_contacts(session=ctx.session, campaign_id=campaign.id or 0)
    ctx.reply("recall_campaign", r=campaign_view(campaign, [], Counter(), ctx, drafted))


def _show(ctx: Context, campaign: RecallCampaign, drafted: int = 0) -> None:
    view = campaign_view(campaign, [], Counter(), ctx, drafted)
    if ctx.params.get("card_key"):
        ctx.update_card(ctx.params["card_key"], "recall_campaign", r=view)
    else:
        ctx.reply("recall_campaign", r=view)


@router.action("recall.campaign.draft")
async def draft_campaign(ctx: Context) -> None:
    """[生成预览]: one preview card per selected candidate still reachable now."""
    campaign = await _tapped(ctx)
    if campaign is None or campaign.id is None:
        return
    if len(campaign.profile_ids) > MAX_DRAFTS:
        raise _usage("too_many", str(len(campaign.profile_ids)))
    # Claimed before drafting: of two taps at once, only one drafts the previews.
    if not await update_campaign(session=ctx.session, campaign_id=campaign.id,
                                 expected_version=campaign.version,
                                 values={"state": "drafted", "updated_at": ctx.now}):
        await _handled(ctx, campaign)
        return
    waiting = await profiles_with_open_contacts(session=ctx.session)
    drafted = 0
    for profile_id in campaign.profile_ids:
        profile = await get_profile(session=ctx.session, profile_id=profile_id)
        # Re-checked: consent, an opt-out or another message may have come since the count.
        if profile is None or profile_id in waiting or await contact_block(
            ctx.session, profile, now=ctx.now, min_days=ctx.settings.recall_min_days_between
        ):
            continue
        contact = await draft_contact(ctx, profile, stage=campaign.stage, prepared_by=ctx.person,
                                      campaign_id=campaign.id)
        await send_preview(ctx, ctx.person, contact, profile)
        drafted += 1
    await ctx.session.refresh(campaign)
    _show(ctx, campaign, drafted)


@router.action("recall.campaign.cancel")
async def cancel_campaign(ctx: Context) -> None:
    campaign = await _tapped(ctx)
    if campaign is None or campaign.id is None:
        return
    await update_campaign(session=ctx.session, campaign_id=campaign.id,
                          expected_version=campaign.version,
                          values={"state": "cancelled", "updated_at": ctx.now})
    await ctx.session.refresh(campaign)
    _show(ctx, campaign)
