"""A candidate added an employee on WeCom: link the external contact to the candidate.

The link comes from the ``state`` of the 联系我 QR code the candidate scanned: a code made
for a candidate carries ``cand-<candidate id>``. The event's actor is the employee who was
added; ``external_userid`` and ``state`` arrive in the event's action params.

Linking by phone (``follow_user[].remark_mobiles`` of externalcontact/get) needs an API
call, which handlers do not make; it is left to a job with access to the client.

Source: https://developer.work.weixin.qq.com/document/path/92130 (添加企业客户事件)
"""

from __future__ import annotations

import re

from bot.context import Context
from bot.log import dispatch_log
from storage.repo.candidates import get_candidate, save_candidate

STATE = re.compile(r"cand-(\d{1,18})")


async def link_contact(ctx: Context) -> None:
    """Store the external userid on the candidate named by the QR code's state.

    Events without a candidate state (the employee's personal QR code, a search by phone)
    change nothing and answer nothing. A candidate who adds again from another WeChat
    account gets the newer id.

    Args:
        ctx: Context of a CONTACT_ADDED event; ``ctx.params`` holds ``external_userid``
            and ``state``.
    """
    external = ctx.params.get("external_userid", "")
    match = STATE.fullmatch(ctx.params.get("state", ""))
    if not external or match is None:
        return
    candidate = await get_candidate(session=ctx.session, candidate_id=int(match.group(1)))
    if candidate is None:
        dispatch_log.info("contact state names no candidate: event=%s", ctx.event.event_id)
        return
    if candidate.wecom_external_userid == external:
        return
    if candidate.wecom_external_userid:
        dispatch_log.info("candidate=%s: replacing its wecom external userid", candidate.id)
    candidate.wecom_external_userid = external
    await save_candidate(session=ctx.session, candidate=candidate)
