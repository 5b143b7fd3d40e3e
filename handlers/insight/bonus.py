"""Referral bonuses: credit to the first referrer, payable once probation is over.

A hire creates its bonus (handlers.insight.sync). ``奖金`` lists them — HR sees their scope
with those due for payroll first, a referrer sees their own; HR marks each paid or void.
Answers go to the asker's own chat even when asked in a group: names and amounts are private.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.context import Context
from bot.core.errors import UserFacingError
from bot.core.routing import Router
from handlers.insight.config import PREFIX, load_config
from handlers.insight.sync import catch_up
from storage.models import Candidate, Person, Position, Referral, ReferralBonus
from storage.repo.insight_bonus import (
    apply_bonus_settings,
    decide_bonus,
    get_bonus,
    list_bonuses,
)
from storage.repo.insight_settings import set_setting
from storage.repo.people import in_scope

router = Router("insight.bonus")

MANAGERS = frozenset({"hr", "hr_lead", "admin"})
SETTERS = frozenset({"hr_lead", "admin"})
_PAID, _VOID = frozenset({"已发", "已发放", "paid"}), frozenset({"作废", "取消", "void"})
_SETTING_WORDS = {
    "试用期": "probation_days", "probation": "probation_days",
    "金额": "bonus_amount", "amount": "bonus_amount",
    "首推有效期": "credit_days", "有效期": "credit_days", "credit": "credit_days",
}


def bonus_status(bonus: ReferralBonus, now: datetime) -> str:
    """open (payable now), probation (not yet), paid or void."""
    if bonus.status == "open" and bonus.eligible_at > now:
        return "probation"
    return bonus.status


async def bonus_view(
    session: AsyncSession, bonus: ReferralBonus, now: datetime
) -> dict[str, Any]:
    """What the bonus card and the payroll list show of one bonus (a plain dict)."""
    referral = await session.get(Referral, bonus.referral_id)
    candidate = await session.get(Candidate, bonus.candidate_id)
    position = await session.get(Position, referral.position_id) if referral else None
    referrer = await session.get(Person, bonus.referrer_id)
    hiring = await session.get(Person, referral.referrer_id) if referral else None
    return {
        "id": bonus.referral_id,
        "candidate": candidate.name if candidate else "",
        "position": position.title if position else "",
        "org": bonus.org_key.rstrip("/"),
        "referrer": referrer.name if referrer else "",
        "employee_no": referrer.employee_no if referrer else "",
        # Set when the credit went to an earlier referral than the one that was hired.
        "first_over": hiring.name if hiring and hiring.id != bonus.referrer_id else "",
        "hired_at": bonus.hired_at,
        "eligible_at": bonus.eligible_at,
        "amount": bonus.amount,
        "status": bonus_status(bonus, now),
        "note": bonus.note,
    }


@router.command("奖金", "bonus", "bonuses")
async def show_bonuses(ctx: Context) -> None:
    """`奖金` lists bonuses; `奖金 已发 12` / `奖金 作废 12 原因` record HR's decision."""
    words = ctx.args.split()
    if words and (words[0] in _PAID or words[0].lower() in _PAID | _VOID or words[0] in _VOID):
        await _decide(ctx, words)
        return
    await catch_up(ctx.session, now=ctx.now, settings=ctx.settings)
    roles = set(ctx.person.roles)
    if MANAGERS & roles:
        rows = await list_bonuses(session=ctx.session, scope=ctx.person.org_path,
                                  statuses=("open",), limit=50)
        mine = False
    elif "referrer" in roles:
        rows = await list_bonuses(session=ctx.session, scope="", referrer_id=ctx.person.id,
                                  limit=50)
        mine = True
    else:
        raise UserFacingError("stats_forbidden", {"what": "bonus"})
    views = [await bonus_view(ctx.session, b, ctx.now) for b in rows]
    ctx.notify(
        ctx.person, "bonus", rows=views, mine=mine,
        total=sum(v["amount"] for v in views if v["status"] == "open"),
        config=await load_config(ctx.session),
    )


async def _decide(ctx: Context, words: list[str]) -> None:
    paid = words[0].lower() in _PAID or words[0] in _PAID
    if not {"hr", "hr_lead"} & set(ctx.person.roles):
        raise UserFacingError("stats_forbidden", {"what": "bonus"})
    rid = words[1].lstrip("#") if len(words) > 1 else ""
    note = " ".join(words[2:])
    if not rid.isdigit() or (not paid and not note):
        raise UserFacingError("bonus_done", {"outcome": "usage", "b": None})
    bonus = await get_bonus(session=ctx.session, referral_id=int(rid))
    if bonus is None or not in_scope(ctx.person.org_path, bonus.org_key.rstrip("/")):
        raise UserFacingError("bonus_done", {"outcome": "not_found", "b": {"id": int(rid)}})
    view = await bonus_view(ctx.session, bonus, ctx.now)
    if paid and view["status"] == "probation":
        raise UserFacingError("bonus_done", {"outcome": "probation", "b": view})
    status = "paid" if paid else "void"
    if not await decide_bonus(session=ctx.session, bonus_id=bonus.id or 0, status=status,
                              by=ctx.person.id, now=ctx.now, note=note):
        raise UserFacingError("bonus_done", {"outcome": "decided", "b": view})
    await ctx.session.refresh(bonus)
    view = await bonus_view(ctx.session, bonus, ctx.now)
    ctx.notify(ctx.person, "bonus_done", outcome=status, b=view)


@router.command("奖金设置", "bonus-settings")
async def set_bonus_rules(ctx: Context) -> None:
    """`奖金设置 试用期 90 金额 2000 首推有效期 365` — how bonuses are earned."""
    if not SETTERS & set(ctx.person.roles):
        raise UserFacingError("stats_forbidden", {"what": "bonus_settings"})
    words = ctx.args.split()
    changes: dict[str, int] = {}
    for name, value in zip(words[::2], words[1::2], strict=False):
        setting = _SETTING_WORDS.get(name.lower())
        if setting is None or not value.isdigit() or int(value) > 10**7:
            changes = {}
            break
        changes[setting] = int(value)
    if not changes or len(words) % 2:
        raise UserFacingError("bonus_settings", {"config": await load_config(ctx.session),
                                                 "bad": ctx.args})
    for setting, number in changes.items():
        await set_setting(session=ctx.session, key=f"{PREFIX}{setting}", value=number,
                          now=ctx.now, by=ctx.person.id)
    await apply_bonus_settings(
        session=ctx.session, probation_days=changes.get("probation_days"),
        amount=changes.get("bonus_amount"),
    )
    ctx.notify(ctx.person, "bonus_settings", config=await load_config(ctx.session), bad="")
