"""A candidate added an employee on WeCom: link the external contact to the candidate, greet.

The link comes from the ``state`` of the 联系我 QR code the candidate scanned (a code made for
a candidate carries ``cand-<candidate id>``), or else from the mobile numbers the employee
noted for the contact (``remark_mobiles``, which the WeCom adapter looks up after the event
and passes as ``mobiles``): one candidate with that phone is a match, several are not guessed
between. A linked candidate gets a welcome message in the employee's name; anyone else gets
whatever the employee's own WeCom welcome settings say.

Source: https://developer.work.weixin.qq.com/document/path/92130 (添加企业客户事件)
"""

from __future__ import annotations

import re

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.context import Context, JobContext
from bot.core.log import dispatch_log
from cards.models import Card
from handlers.referral.form import normalize_phone
from storage.models import Candidate, DueItem
from storage.repo.candidates import find_candidate, get_candidate, save_candidate
from storage.repo.contact_lookups import first_unapplied_lookup, take_unapplied_lookups
from storage.repo.due import schedule_once

STATE = re.compile(r"cand-(\d{1,18})")


async def _named_candidate(ctx: Context) -> Candidate | None:
    match = STATE.fullmatch(ctx.params.get("state", ""))
    if match is not None:
        candidate = await get_candidate(session=ctx.session, candidate_id=int(match.group(1)))
        if candidate is None:
            dispatch_log.info("contact state names no candidate: event=%s", ctx.event.event_id)
        return candidate
    return await _by_mobiles(ctx.session, ctx.params.get("mobiles", "").split(","))


async def _by_mobiles(session: AsyncSession, mobiles: list[str]) -> Candidate | None:
    """The one candidate with one of these phones (None: none, or more than one)."""
    phones = {p for p in (normalize_phone(m) for m in mobiles) if p}
    found = {
        c.id: c
        for phone in phones
        if (c := await find_candidate(session=session, phone=phone, email=None)) is not None
    }
    return next(iter(found.values())) if len(found) == 1 else None


async def link_contact(ctx: Context) -> None:
    """Store the external userid on the candidate the event names, and greet them.

    Events naming no candidate (the employee's personal QR code, an unknown phone) change
    nothing and answer nothing. A candidate who adds again from another WeChat account gets
    the newer id.

    Args:
        ctx: Context of a CONTACT_ADDED event; ``ctx.params`` holds ``external_userid``,
            ``state`` and, when looked up, ``mobiles``.
    """
    external = ctx.params.get("external_userid", "")
    if not external:
        return
    candidate = await _named_candidate(ctx)
    if candidate is None:
        if not ctx.params.get("state") and "mobiles" not in ctx.params:
            # No QR code for a candidate: ask WeCom which mobiles the employee noted.
            ctx.deliver(
                ctx.person, "contact_lookup", platform=ctx.event.platform,
                # A lookup shows nobody anything: the outbox row only needs an empty card.
                handle={"external_userid": external}, card=Card(title=""),
            )
        return
    if candidate.wecom_external_userid != external:
        if candidate.wecom_external_userid:
            dispatch_log.info("candidate=%s: replacing its wecom external userid", candidate.id)
        candidate.wecom_external_userid = external
        await save_candidate(session=ctx.session, candidate=candidate)
    if ctx.event.reply_handle.get("welcome_code"):
        ctx.welcome("candidate_welcome", candidate=candidate.name, employee=ctx.person.name)


async def check_contact_lookups(job: JobContext) -> bool:
    """Schedule linking when WeCom has answered a lookup not applied yet."""
    first = await first_unapplied_lookup(session=job.session)
    if first is None:
        return False
    return await schedule_once(
        session=job.session, dedupe_key=f"contact-lookup:{first}", kind="contact.link",
        subject="contacts", due_at=job.now, now=job.now,
    )


async def apply_contact_lookups(job: JobContext, item: DueItem) -> None:
    """Link each looked-up contact to the one candidate with a noted mobile."""
    for row in await take_unapplied_lookups(session=job.session, now=job.now):
        candidate = await _by_mobiles(job.session, row.mobiles)
        if candidate is None or candidate.wecom_external_userid == row.external_userid:
            continue
        candidate.wecom_external_userid = row.external_userid
        await save_candidate(session=job.session, candidate=candidate)
        dispatch_log.info("candidate=%s linked by a noted mobile", candidate.id)


DUE_HANDLERS = {"contact.link": apply_contact_lookups}
